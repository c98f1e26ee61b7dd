package codebuild

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

var goTypeRe = regexp.MustCompile(` in type [\w.*\[\]]+`)

// The buildspec phases whose commands a build runs, in order.
var commandPhases = []string{"install", "pre_build", "build", "post_build"}

// Values of a phase's on-failure.
const (
	onFailureDefault  = ""
	onFailureAbort    = "ABORT"
	onFailureContinue = "CONTINUE"
)

// buildspec is the part of a buildspec the stand-in acts on.
type buildspec struct {
	// isolated is true for version 0.1, where every command runs in a shell of its own;
	// in 0.2 a command sees the working directory and exported variables the previous
	// one left.
	isolated bool
	// shell is "" (the stand-in's shell) or "bash".
	shell     string
	variables []EnvVar // env.variables, sorted by name
	// secretRefs names the env.parameter-store and env.secrets-manager variables, which
	// the stand-in cannot resolve.
	secretRefs []string
	phases     map[string]specPhase
	// ignored lists keys that are accepted but have no local effect (runtime-versions,
	// run-as, artifacts, ...), so the build log can say so.
	ignored []string
}

type specPhase struct {
	onFailure string
	commands  []string
	finally   []string
}

// BuildspecError is a buildspec CodeBuild would refuse with YAML_FILE_ERROR.
type BuildspecError struct {
	Reason string
}

func (e *BuildspecError) Error() string { return "YAML_FILE_ERROR: " + e.Reason }

// The document as written; every key CodeBuild documents is listed so that a misspelt
// one is an error, as it is in CodeBuild.
type specDoc struct {
	Version   scalar                  `yaml:"version"`
	RunAs     *scalar                 `yaml:"run-as"`
	Proxy     any                     `yaml:"proxy"`
	Env       *specEnvDoc             `yaml:"env"`
	Phases    map[string]specPhaseDoc `yaml:"phases"`
	Reports   any                     `yaml:"reports"`
	Artifacts any                     `yaml:"artifacts"`
	Cache     any                     `yaml:"cache"`
	Batch     any                     `yaml:"batch"`
}

type specEnvDoc struct {
	Shell               *scalar           `yaml:"shell"`
	Variables           map[string]scalar `yaml:"variables"`
	ParameterStore      map[string]scalar `yaml:"parameter-store"`
	SecretsManager      map[string]scalar `yaml:"secrets-manager"`
	ExportedVariables   []scalar          `yaml:"exported-variables"`
	GitCredentialHelper *scalar           `yaml:"git-credential-helper"`
}

type specPhaseDoc struct {
	RunAs           *scalar     `yaml:"run-as"`
	OnFailure       *scalar     `yaml:"on-failure"`
	RuntimeVersions any         `yaml:"runtime-versions"`
	Commands        commandList `yaml:"commands"`
	Finally         commandList `yaml:"finally"`
}

// commandList is a phase's commands or finally block. It reads the sequence itself
// because yaml.v3 drops null items from a slice, and "- " with no command is an error.
type commandList []scalar

func (l *commandList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("line %d: expected a list of commands, found a %s", n.Line, kindName(n.Kind))
	}
	for _, item := range n.Content {
		var s scalar
		if err := s.UnmarshalYAML(item); err != nil {
			return err
		}
		*l = append(*l, s)
	}
	return nil
}

// scalar is any YAML scalar read as the text it is written with, so `version: 0.2` and
// `FOO: 1` keep their spelling.
type scalar struct {
	text string
	null bool
}

func (s *scalar) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a single value, found a %s", n.Line, kindName(n.Kind))
	}
	s.text, s.null = n.Value, n.Tag == "!!null"
	return nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	case yaml.ScalarNode:
		return "single value"
	}
	return "document"
}

// parseBuildspec reads an inline buildspec, YAML or JSON (JSON is YAML).
func parseBuildspec(text string) (buildspec, error) {
	dec := yaml.NewDecoder(bytes.NewReader([]byte(text)))
	dec.KnownFields(true)
	var doc specDoc
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return buildspec{}, &BuildspecError{Reason: "the buildspec is empty"}
		}
		// yaml.v3 names the Go types it decodes into; the buildspec's author needs only the key.
		reason := goTypeRe.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "")
		return buildspec{}, &BuildspecError{Reason: reason}
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return buildspec{}, &BuildspecError{Reason: "the buildspec holds more than one YAML document"}
	}

	var spec buildspec
	switch doc.Version.text {
	case "0.2":
	case "0.1":
		spec.isolated = true
	case "":
		return buildspec{}, &BuildspecError{Reason: "version is required (0.2)"}
	default:
		return buildspec{}, &BuildspecError{Reason: fmt.Sprintf("unknown buildspec version %q", doc.Version.text)}
	}
	if doc.RunAs != nil {
		spec.ignored = append(spec.ignored, "run-as")
	}
	for _, key := range []struct {
		name string
		v    any
	}{{"proxy", doc.Proxy}, {"reports", doc.Reports}, {"artifacts", doc.Artifacts}, {"cache", doc.Cache}, {"batch", doc.Batch}} {
		if key.v != nil {
			spec.ignored = append(spec.ignored, key.name)
		}
	}
	if err := spec.readEnv(doc.Env); err != nil {
		return buildspec{}, err
	}
	if len(doc.Phases) == 0 {
		return buildspec{}, &BuildspecError{Reason: "phases is required and must hold at least one phase"}
	}
	spec.phases = make(map[string]specPhase, len(doc.Phases))
	for name, p := range doc.Phases {
		if !isCommandPhase(name) {
			return buildspec{}, &BuildspecError{Reason: fmt.Sprintf("unknown phase %q: phases are %s", name, strings.Join(commandPhases, ", "))}
		}
		sp, err := readPhase(name, p)
		if err != nil {
			return buildspec{}, err
		}
		if p.RunAs != nil || p.RuntimeVersions != nil {
			spec.ignored = append(spec.ignored, "phases/"+name+" run-as and runtime-versions")
		}
		spec.phases[name] = sp
	}
	return spec, nil
}

func (spec *buildspec) readEnv(env *specEnvDoc) error {
	if env == nil {
		return nil
	}
	if env.Shell != nil {
		switch env.Shell.text {
		case "bash":
			spec.shell = "bash"
		case "/bin/sh", "sh":
		default:
			return &BuildspecError{Reason: fmt.Sprintf("env/shell %q is not a Linux shell CodeBuild supports (bash, /bin/sh)", env.Shell.text)}
		}
	}
	for name, v := range env.Variables {
		spec.variables = append(spec.variables, EnvVar{Name: name, Value: v.text, Type: EnvPlaintext})
	}
	sort.Slice(spec.variables, func(i, j int) bool { return spec.variables[i].Name < spec.variables[j].Name })
	for name := range env.ParameterStore {
		spec.secretRefs = append(spec.secretRefs, name)
	}
	for name := range env.SecretsManager {
		spec.secretRefs = append(spec.secretRefs, name)
	}
	sort.Strings(spec.secretRefs)
	if env.ExportedVariables != nil || env.GitCredentialHelper != nil {
		spec.ignored = append(spec.ignored, "env/exported-variables and env/git-credential-helper")
	}
	return nil
}

func readPhase(name string, p specPhaseDoc) (specPhase, error) {
	var sp specPhase
	if p.OnFailure != nil {
		switch v := p.OnFailure.text; v {
		case onFailureAbort, onFailureContinue:
			sp.onFailure = v
		default:
			return specPhase{}, &BuildspecError{Reason: fmt.Sprintf("phases/%s/on-failure %q is not emulated: use ABORT or CONTINUE", name, v)}
		}
	}
	for _, list := range []struct {
		key string
		in  commandList
		out *[]string
	}{{"commands", p.Commands, &sp.commands}, {"finally", p.Finally, &sp.finally}} {
		for i, c := range list.in {
			if c.null || strings.TrimSpace(c.text) == "" {
				return specPhase{}, &BuildspecError{Reason: fmt.Sprintf("phases/%s/%s[%d] is empty", name, list.key, i)}
			}
			*list.out = append(*list.out, c.text)
		}
	}
	if len(sp.commands) == 0 && len(sp.finally) > 0 {
		return specPhase{}, &BuildspecError{Reason: fmt.Sprintf("phases/%s has finally but no commands", name)}
	}
	return sp, nil
}

func isCommandPhase(name string) bool {
	for _, p := range commandPhases {
		if p == name {
			return true
		}
	}
	return false
}

// runsNothing reports a buildspec whose phases run no command with any effect: none at
// all, or only the shell's null commands `true` and `:`. Such a build needs no shell.
func (spec buildspec) runsNothing() bool {
	for _, p := range spec.phases {
		for _, list := range [][]string{p.commands, p.finally} {
			for _, c := range list {
				if c := strings.TrimSpace(c); c != "true" && c != ":" {
					return false
				}
			}
		}
	}
	return true
}
