package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/local/cfn"
	"github.com/crossbuild/crossbuild/local/world"
)

// TestFailedDeployStopsEverything: a deploy that fails at its last step, when dynalite and
// every function's emulators already run, returns the error and stops them all again.
func TestFailedDeployStopsEverything(t *testing.T) {
	opts := withPrerequisites(t, world.Options{PhaseDelay: phaseDelay})
	opts.Mutate = func(stacks []*cfn.Stack) error {
		for _, s := range stacks {
			for _, id := range s.ResourcesOfType("AWS::StepFunctions::StateMachine") {
				s.Template.Resources[id].Properties["DefinitionString"] = `{"StartAt":"Nowhere","States":{}}`
				return nil
			}
		}
		return errors.New("the assembly has no state machine")
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	w, err := world.Start(ctx, opts)
	if err == nil {
		_ = w.Close()
		t.Fatal("Start deployed a state machine whose StartAt names no state")
	}
	if !strings.Contains(err.Error(), "create state machine") {
		t.Errorf("Start error %q, want the state machine's deploy to be named", err)
	}
	if left := waitChildrenGone(10 * time.Second); len(left) > 0 {
		dumpLogs(t, opts.LogDir)
		t.Errorf("processes still running after the failed Start: %v", left)
	}
}
