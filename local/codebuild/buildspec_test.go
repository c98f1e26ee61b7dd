package codebuild

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// The buildspec reader accepts CodeBuild's YAML and JSON forms and refuses, as
// YAML_FILE_ERROR, what CodeBuild refuses or the stand-in cannot honour.
func TestParseBuildspec(t *testing.T) {
	type phaseWant struct {
		OnFailure string   `json:"onFailure"`
		Commands  []string `json:"commands"`
		Finally   []string `json:"finally"`
	}
	type tc struct {
		Name      string               `json:"name"`
		Buildspec string               `json:"buildspec"`
		Error     string               `json:"error"`
		Variables []EnvVar             `json:"variables"`
		Phases    map[string]phaseWant `json:"phases"`
		Ignored   int                  `json:"ignored"`
	}
	for _, c := range loadJSON[[]tc](t, "buildspecs.json") {
		t.Run(c.Name, func(t *testing.T) {
			spec, err := parseBuildspec(c.Buildspec)
			if c.Error != "" {
				var bad *BuildspecError
				if !errors.As(err, &bad) || !strings.Contains(bad.Reason, c.Error) {
					t.Fatalf("error %v, want a BuildspecError containing %q", err, c.Error)
				}
				if strings.Contains(bad.Reason, "codebuild.") {
					t.Errorf("error names Go types: %s", bad.Reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(spec.variables, c.Variables) {
				t.Errorf("variables %+v, want %+v", spec.variables, c.Variables)
			}
			got := map[string]phaseWant{}
			for name, p := range spec.phases {
				got[name] = phaseWant{OnFailure: p.onFailure, Commands: p.commands, Finally: p.finally}
			}
			if !reflect.DeepEqual(got, c.Phases) {
				t.Errorf("phases %+v, want %+v", got, c.Phases)
			}
			if len(spec.ignored) != c.Ignored {
				t.Errorf("ignored %v, want %d entries", spec.ignored, c.Ignored)
			}
		})
	}
}

func FuzzParseBuildspec(f *testing.F) {
	f.Add("version: 0.2\nphases:\n  build:\n    commands:\n      - env | tee env_vars.txt\n")
	f.Add(`{"version":"0.2","phases":{"build":{"commands":["true"],"finally":["false"]}}}`)
	f.Add("version: 0.2\nenv:\n  variables:\n    A: [1]\n")
	f.Fuzz(func(t *testing.T, text string) {
		spec, err := parseBuildspec(text)
		var bad *BuildspecError
		if err != nil && !errors.As(err, &bad) {
			t.Fatalf("untyped error %v", err)
		}
		if err == nil && len(spec.phases) == 0 {
			t.Fatal("a buildspec without phases was accepted")
		}
	})
}
