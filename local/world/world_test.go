package world_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crossbuild/crossbuild/local/cfn"
	"github.com/crossbuild/crossbuild/local/world"
)

// The end-to-end scenarios (local/e2e) show what a Mutate edit does to the deployed world;
// this test pins down when Mutate runs and what its error does. It needs none of the
// stand-ins' processes: Mutate runs before any of them starts.
func TestStartRunsMutateOnTheLoadedTemplates(t *testing.T) {
	// Start's own work folder is made under TMPDIR: its removal shows the cleanup.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	refuse := errors.New("refused by the test")
	var seen []string
	w, err := world.Start(t.Context(), world.Options{
		Assembly: filepath.Join("..", "cfn", "testdata", "assembly"),
		LogDir:   filepath.Join(t.TempDir(), "logs"),
		Mutate: func(stacks []*cfn.Stack) error {
			for _, s := range stacks {
				if _, ok := s.Template.Resources["StarterRole"]; ok {
					seen = append(seen, s.Name)
				}
			}
			return refuse
		},
	})
	if w != nil {
		_ = w.Close()
		t.Fatal("Start returned a world despite the Mutate error")
	}
	if !errors.Is(err, refuse) {
		t.Fatalf("Start error %v, want it to wrap the Mutate error", err)
	}
	if !slices.Equal(seen, []string{"crossbuild-source"}) {
		t.Errorf("Mutate saw loaded stacks %v, want the assembly's [crossbuild-source] with its resources", seen)
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("Start left %d entries in the temporary folder, e.g. %s", len(left), left[0].Name())
	}
}

// A panic while deploying is reported as an error and cleaned up like one.
func TestStartTurnsAPanicIntoAnError(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	w, err := world.Start(t.Context(), world.Options{
		Assembly: filepath.Join("..", "cfn", "testdata", "assembly"),
		LogDir:   filepath.Join(t.TempDir(), "logs"),
		Mutate:   func([]*cfn.Stack) error { panic("template handled badly") },
	})
	if w != nil {
		_ = w.Close()
		t.Fatal("Start returned a world despite the panic")
	}
	if err == nil || !strings.Contains(err.Error(), "template handled badly") {
		t.Fatalf("Start error %v, want the panic reported", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("Start left %d entries in the temporary folder", len(left))
	}
}
