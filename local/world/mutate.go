package world

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/crossbuild/crossbuild/local/cfn"
)

// ThenMutate returns opts with f run on the stacks after the Mutate they already have.
func (o Options) ThenMutate(f func(stacks []*cfn.Stack) error) Options {
	first := o.Mutate
	o.Mutate = func(stacks []*cfn.Stack) error {
		if first != nil {
			if err := first(stacks); err != nil {
				return err
			}
		}
		return f(stacks)
	}
	return o
}

// AppendBuildCommand returns a Mutate step that appends command to the build phase of every
// CodeBuild project's buildspec (the JSON the CDK writes); it fails when there is none.
func AppendBuildCommand(command string) func(stacks []*cfn.Stack) error {
	return func(stacks []*cfn.Stack) error {
		n := 0
		for _, s := range stacks {
			for _, id := range s.ResourcesOfType("AWS::CodeBuild::Project") {
				source, _ := s.Template.Resources[id].Properties["Source"].(map[string]any)
				spec, _ := source["BuildSpec"].(string)
				var doc map[string]any
				if err := json.Unmarshal([]byte(spec), &doc); err != nil {
					return fmt.Errorf("%s/%s: the buildspec is not the JSON CDK writes: %w", s.Name, id, err)
				}
				phases, _ := doc["phases"].(map[string]any)
				build, _ := phases["build"].(map[string]any)
				if build == nil {
					return fmt.Errorf("%s/%s: the buildspec has no build phase", s.Name, id)
				}
				commands, _ := build["commands"].([]any)
				build["commands"] = append(commands, command)
				out, err := json.Marshal(doc)
				if err != nil {
					return err
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
}
