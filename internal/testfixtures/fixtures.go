// Package testfixtures holds real-shaped CodeBuild events and Map Run results shared by the
// tests of several packages. Only tests import it.
package testfixtures

import (
	"embed"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
)

//go:embed events/*.json
var files embed.FS

//go:embed maprun/*.json
var mapRunFiles embed.FS

// The Map Run fixture: what a Distributed Map's ResultWriter wrote for an execution of six
// targets, two succeeded, three failed (Fail state, aborted, States.Runtime) and one never
// started.
const (
	MapRunBucket = "crossbuild-bucket"
	MapRunPrefix = "runs/release-42/results"
	MapRunARN    = "arn:aws:states:eu-west-1:111111111111:mapRun:crossbuild/targets:5e7d1c2a-3b4f-4a6e-9c8d-7f1e2d3c4b5a"
	MapRunDir    = MapRunPrefix + "/5e7d1c2a-3b4f-4a6e-9c8d-7f1e2d3c4b5a/"
	MapRunKey    = MapRunDir + "manifest.json"
)

// MapRunObjects returns the fixture Map Run's objects (manifest and result files) by key.
func MapRunObjects() map[string][]byte {
	entries, err := mapRunFiles.ReadDir("maprun")
	if err != nil {
		panic(err)
	}
	out := make(map[string][]byte, len(entries))
	for _, e := range entries {
		b, err := mapRunFiles.ReadFile("maprun/" + e.Name())
		if err != nil {
			panic(err)
		}
		out[MapRunDir+e.Name()] = b
	}
	return out
}

// Event names, the files under events/.
const (
	StateSucceeded  = "state-succeeded"
	StateFailed     = "state-failed"
	StateFault      = "state-fault"
	StateStopped    = "state-stopped"
	StateTimedOut   = "state-timed-out"
	StateInProgress = "state-in-progress"
	PhaseBuild      = "phase-build-completed"
	PhaseProvision  = "phase-provisioning-completed"
)

// StateSucceededForeign is another build of the same project, started by a role session
// that is not crossbuild's. It is not in All, whose events are all about BuildARN.
const StateSucceededForeign = "state-succeeded-foreign"

// All lists every fixture of BuildARN.
var All = []string{StateSucceeded, StateFailed, StateFault, StateStopped, StateTimedOut, StateInProgress, PhaseBuild, PhaseProvision}

// Raw returns the JSON of a fixture.
func Raw(name string) ([]byte, error) {
	return files.ReadFile("events/" + name + ".json")
}

// Event decodes a fixture.
func Event(name string) (events.CodeBuildEvent, error) {
	raw, err := Raw(name)
	if err != nil {
		return events.CodeBuildEvent{}, err
	}
	var ev events.CodeBuildEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return events.CodeBuildEvent{}, fmt.Errorf("fixture %s: %w", name, err)
	}
	return ev, nil
}

// BuildARN is the build every fixture but StateSucceededForeign is about.
const BuildARN = "arn:aws:codebuild:eu-west-1:222222222222:build/sample-codebuild-project:0f8c3b4e-7d2a-4c1b-9e55-2a6d1f3c8b90"
