package e2e

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/crossbuild/crossbuild/local/cfn"
)

// Build variables that switch on the test hooks addBuildHooks puts into the sample
// projects' buildspec. A target passes them as plain keys, which become build variables.
const (
	varFail  = "E2E_FAIL_BUILD"    // "yes": the build phase ends with exit 3
	varSleep = "E2E_SLEEP_SECONDS" // the build phase sleeps this many seconds
)

// buildHooks run after the synthesized build commands, so a build without the variables
// behaves exactly as the app's sample project does.
var buildHooks = []any{
	`if [ -n "${` + varSleep + `:-}" ]; then sleep "$` + varSleep + `"; fi`,
	`if [ "${` + varFail + `:-}" = yes ]; then echo "failing on purpose"; exit 3; fi`,
}

// addBuildHooks appends buildHooks to the build phase of every CodeBuild project's
// buildspec (JSON, as CDK synthesizes it).
func addBuildHooks(stacks []*cfn.Stack) error {
	n := 0
	for _, s := range stacks {
		for _, id := range s.ResourcesOfType("AWS::CodeBuild::Project") {
			source, _ := s.Template.Resources[id].Properties["Source"].(map[string]any)
			spec, _ := source["BuildSpec"].(string)
			if spec == "" {
				return fmt.Errorf("%s/%s: no inline BuildSpec to extend", s.Name, id)
			}
			// A generic document keeps every key the hooks do not touch.
			var doc map[string]any
			if err := json.Unmarshal([]byte(spec), &doc); err != nil {
				return fmt.Errorf("%s/%s: the buildspec is not the JSON CDK writes: %w", s.Name, id, err)
			}
			phases, _ := doc["phases"].(map[string]any)
			build, _ := phases["build"].(map[string]any)
			commands, _ := build["commands"].([]any)
			if len(commands) == 0 {
				return fmt.Errorf("%s/%s: the buildspec has no build commands", s.Name, id)
			}
			build["commands"] = append(commands, buildHooks...)
			out, err := json.Marshal(doc)
			if err != nil {
				return fmt.Errorf("%s/%s: %w", s.Name, id, err)
			}
			source["BuildSpec"] = string(out)
			n++
		}
	}
	if n == 0 {
		return errors.New("the assembly has no CodeBuild project")
	}
	return nil
}

// refuseStarter changes the ExternalId the target role of an account requires, so STS
// refuses the starter (and the poller), which pass the configured one.
func refuseStarter(account string) func(stacks []*cfn.Stack) error {
	return func(stacks []*cfn.Stack) error {
		n := 0
		for _, s := range stacks {
			if s.Account != account {
				continue
			}
			for _, id := range s.ResourcesOfType("AWS::IAM::Role") {
				props := s.Template.Resources[id].Properties
				if props["RoleName"] != "crossbuild-target-role" {
					continue
				}
				n += replaceKey(props["AssumeRolePolicyDocument"], "sts:ExternalId", "not-the-configured-external-id")
			}
		}
		if n == 0 {
			return fmt.Errorf("no sts:ExternalId condition in a target role of account %s", account)
		}
		return nil
	}
}

// replaceKey sets every map entry named key inside v to value and returns how many it set.
func replaceKey(v any, key string, value any) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if k == key {
				v[k] = value
				n++
				continue
			}
			n += replaceKey(child, key, value)
		}
	case []any:
		for _, child := range v {
			n += replaceKey(child, key, value)
		}
	}
	return n
}
