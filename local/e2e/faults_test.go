package e2e

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossbuild/crossbuild/local/faultmatrix"
	"github.com/crossbuild/crossbuild/local/faults"
	"github.com/crossbuild/crossbuild/local/world"
)

// faultTargets is how many targets each row runs here: enough for every fault to hit
// several times in a short row. `make faults` runs the same rows with more.
const faultTargets = 8

// TestFaultMatrix runs the real state machine under each fault of the matrix
// (docs/reliability.md) in one world and asserts, per fault, that no completion is lost,
// none is doubled or contradicts its build, no target gets a second build and no build
// runs on after an abort; it logs the table with the worst completion delay.
func TestFaultMatrix(t *testing.T) {
	needRuntime(t)
	logFile, err := os.Create(filepath.Join(t.ArtifactDir(), "faults.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	inj := faults.New(faults.Options{Logger: slog.New(slog.NewJSONHandler(logFile, nil))})
	tw := startWorld(t, faultmatrix.Wire(world.Options{}, inj))
	runner, err := faultmatrix.NewRunner(tw.World, inj, faultmatrix.Options{Targets: faultTargets, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var results []faultmatrix.Result
	for _, row := range faultmatrix.Rows() {
		t.Run(row.Name, func(t *testing.T) {
			res, err := runner.Run(t.Context(), row)
			results = append(results, res)
			if err != nil {
				t.Fatalf("run the row: %v", err)
			}
			if !row.Plan.Empty() && res.Injected == 0 {
				t.Errorf("no fault injected over %d targets:\n%s", res.Targets, faultmatrix.Details([]faultmatrix.Result{res}))
			}
			// A killed starter's or poller's attempt fails as Lambda reports a runtime that
			// exited, and Step Functions names the failure after it.
			if kills := taskKills(row, res); kills > 0 && res.TaskErrors["Runtime.ExitError"] != kills {
				t.Errorf("%d functions killed under a task, %d task attempts failed with Runtime.ExitError (%v)", kills, res.TaskErrors["Runtime.ExitError"], res.TaskErrors)
			}
			if !res.OK() {
				t.Errorf("lost %d, double %d, duplicate builds %d, running after abort %d (want 0 each):\n  %s",
					res.Lost, res.Double, res.DuplicateBuilds, max(res.LeftRunning, 0), strings.Join(res.Evidence, "\n  "))
			}
		})
	}
	t.Logf("fault matrix (%d targets a row):\n%s\n%s", faultTargets, faultmatrix.Table(results), faultmatrix.Details(results))
}

// taskKills is how many functions the row killed while a Step Functions task invoked
// them: starters and pollers (the callback is invoked by EventBridge).
func taskKills(row faultmatrix.Row, res faultmatrix.Result) int {
	n := 0
	for _, k := range row.Plan.Kills {
		if k.Writes.Function != "crossbuild-starter" && k.Writes.Function != "crossbuild-poller" {
			continue
		}
		for _, c := range res.Counts {
			if c.Rule == k.Name {
				n += c.Injected
			}
		}
	}
	return n
}
