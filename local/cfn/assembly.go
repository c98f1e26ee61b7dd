// Package cfn reads a CDK cloud assembly (cdk.out) and resolves the CloudFormation
// intrinsics its templates use, so the local runtime can "deploy" each resource into the
// stand-in of its account and Region.
//
// Physical names and ARNs are made the way CloudFormation would: an explicit name property
// wins; otherwise "<stack>-<logicalId>-<suffix>". Anything the resolver does not know (an
// intrinsic, a GetAtt attribute, a resource type asked for its ARN) is an error naming the
// stack, resource and property path, never a silent gap.
package cfn

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/crossbuild/crossbuild/internal/partition"
)

// Stack is one deployed-to-be template with its environment.
type Stack struct {
	Name      string
	Account   string
	Region    string
	Partition string
	Dir       string // the assembly folder, where asset folders live
	Template  Template
}

// Template is the part of a CloudFormation template the runtime reads.
type Template struct {
	Parameters map[string]Parameter `json:"Parameters"`
	Conditions map[string]any       `json:"Conditions"`
	Resources  map[string]Resource  `json:"Resources"`
	Outputs    map[string]any       `json:"Outputs"`
}

// Parameter is a template parameter; only its default is used.
type Parameter struct {
	Type    string `json:"Type"`
	Default any    `json:"Default"`
}

// Resource is one template resource.
type Resource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
	Metadata   map[string]any `json:"Metadata"`
	Condition  string         `json:"Condition"`
	DependsOn  any            `json:"DependsOn"`
}

type manifest struct {
	Artifacts map[string]struct {
		Type        string `json:"type"`
		Environment string `json:"environment"`
		Properties  struct {
			TemplateFile string `json:"templateFile"`
			StackName    string `json:"stackName"`
		} `json:"properties"`
	} `json:"artifacts"`
}

// LoadAssembly reads every CloudFormation stack of the assembly in dir.
func LoadAssembly(dir string) ([]*Stack, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("read cloud assembly: %w (run the synth first)", err)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, "manifest.json"), err)
	}
	var stacks []*Stack
	for id, a := range m.Artifacts {
		if a.Type != "aws:cloudformation:stack" {
			continue
		}
		account, region, err := parseEnvironment(a.Environment)
		if err != nil {
			return nil, fmt.Errorf("stack %s: %w", id, err)
		}
		name := a.Properties.StackName
		if name == "" {
			name = id
		}
		tplPath := filepath.Join(dir, a.Properties.TemplateFile)
		tplRaw, err := os.ReadFile(tplPath)
		if err != nil {
			return nil, fmt.Errorf("stack %s: %w", name, err)
		}
		var tpl Template
		if err := json.Unmarshal(tplRaw, &tpl); err != nil {
			return nil, fmt.Errorf("stack %s: parse %s: %w", name, a.Properties.TemplateFile, err)
		}
		stacks = append(stacks, &Stack{Name: name, Account: account, Region: region, Partition: partition.Of(region), Dir: dir, Template: tpl})
	}
	if len(stacks) == 0 {
		return nil, fmt.Errorf("cloud assembly %s has no stacks", dir)
	}
	sort.Slice(stacks, func(i, j int) bool { return stacks[i].Name < stacks[j].Name })
	return stacks, nil
}

// parseEnvironment reads "aws://111111111111/eu-west-1". Environment-agnostic stacks
// ("unknown-account") cannot be placed in an account and are refused.
func parseEnvironment(env string) (account, region string, err error) {
	rest, ok := strings.CutPrefix(env, "aws://")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 2 || len(parts[0]) != 12 || strings.HasPrefix(parts[1], "unknown") {
		return "", "", fmt.Errorf("environment %q must name an account and a Region", env)
	}
	return parts[0], parts[1], nil
}

// ResourcesOfType returns the logical ids of resources of one type, sorted.
func (s *Stack) ResourcesOfType(typ string) []string {
	var ids []string
	for id, r := range s.Template.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// AssetDir returns the folder of a resource's file asset (CDK's aws:asset:path metadata).
func (s *Stack) AssetDir(logicalID string) (string, error) {
	r, ok := s.Template.Resources[logicalID]
	if !ok {
		return "", fmt.Errorf("stack %s has no resource %s", s.Name, logicalID)
	}
	p, _ := r.Metadata["aws:asset:path"].(string)
	if p == "" {
		return "", fmt.Errorf("stack %s resource %s has no asset", s.Name, logicalID)
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(s.Dir, p)
	}
	return p, nil
}
