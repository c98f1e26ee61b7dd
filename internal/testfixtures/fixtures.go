// Package testfixtures holds real-shaped CodeBuild events shared by the tests of several
// packages. Only tests import it.
package testfixtures

import (
	"embed"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
)

//go:embed events/*.json
var files embed.FS

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

// All lists every fixture.
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

// BuildARN is the build every fixture is about.
const BuildARN = "arn:aws:codebuild:eu-west-1:222222222222:build/sample-codebuild-project:0f8c3b4e-7d2a-4c1b-9e55-2a6d1f3c8b90"
