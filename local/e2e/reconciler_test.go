package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/crossbuild/crossbuild/local/cfn"
	"github.com/crossbuild/crossbuild/local/world"
)

// reconcileAfter is the reconciler's threshold in this test's world: the synthesized ten
// minutes are wall-clock time to the function, which the world's time scale does not
// shorten.
const reconcileAfter = 2 * time.Second

// TestReconcilerRecoversLostCompletion: every event of otherAccount's build is lost on its
// way and the target's heartbeat is an hour (two minutes of wall time here), so neither the
// callback nor the polling fallback completes its task within the test. The reconciler, on
// its schedule from the synthesized rule, finds the record open, asks CodeBuild, and
// completes the task within one period of its schedule after the build ended: the result
// and the record say completedBy reconciler, one build ran, and the other targets are
// completed by their events as usual.
func TestReconcilerRecoversLostCompletion(t *testing.T) {
	tw := startWorld(t, world.Options{
		TimeScale:         timeScale,
		PhaseDelay:        phaseDelay,
		EventRetryBackoff: func(int) time.Duration { return 20 * time.Millisecond },
		DropEvent:         func(ev json.RawMessage) bool { return eventAccount(ev) == otherAccount },
		Mutate:            setFunctionEnv("crossbuild-reconciler", "RECONCILE_AFTER_SECONDS", strconv.Itoa(int(reconcileAfter/time.Second))),
	})
	period := reconcilerPeriod(t, tw.Stacks)
	wallPeriod := time.Duration(float64(period) / timeScale)

	targets := defaultTargets(t)
	targets[otherIndex]["heartbeatSeconds"] = 3600
	arn := tw.start(t, "reconciled", input(targets, nil))

	// Watch the lost build's record while the execution runs: when it is completed is when
	// the reconciler delivered the outcome.
	var buildARN string
	var completedAt time.Time
	err := poll(executionTimeout, func() (bool, error) {
		if buildARN == "" {
			if b := tw.buildsOf(arn)[otherIndex]; len(b) == 1 {
				buildARN = b[0].ARN
			}
			return false, nil
		}
		if rec := tw.tokenRecord(t, buildARN); rec["state"] == "COMPLETED" {
			completedAt = time.Now()
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("the record of the build whose events were lost: %v", err)
	}
	tw.waitEnded(t, arn)
	x := tw.read(t, arn)
	x.wantStatus(t, sfntypes.ExecutionStatusSucceeded)
	o := x.decodeOutput(t)
	wantSummary(t, o, 3, 3, 0, 0)
	for i, tg := range targets {
		by := "event"
		if i == otherIndex {
			by = "reconciler"
		}
		checkSucceeded(t, o.Results[i], tg, x.oneBuild(t, i), by) // one build each
	}

	// No fallback: the heartbeat did not time out and the poller never ran.
	if got := taskErrors(x.childEvents(), sfntypes.HistoryEventTypeTaskTimedOut); len(got) != 0 {
		t.Errorf("tasks timed out: %v", got)
	}
	if polls := scheduled(t, x.child(t, otherIndex).history, tw.pollerARN); polls != 0 {
		t.Errorf("the poller ran %d times", polls)
	}

	// Within one period: the first run after the record is older than the threshold takes
	// it. Slack covers the build's own events, the run itself and this test's polling.
	b := x.oneBuild(t, otherIndex)
	late := completedAt.Sub(b.End)
	if limit := wallPeriod + reconcileAfter + 5*time.Second; late > limit {
		t.Errorf("completed %s after the build ended, want at most %s (a period of %s at time scale %d, the threshold %s and slack)",
			late.Round(time.Millisecond), limit, period, timeScale, reconcileAfter)
	}
	t.Logf("the lost completion was delivered %s after the build ended (schedule %s, %s of wall time)", late.Round(time.Millisecond), period, wallPeriod)

	tw.settle(t)
	for i := range targets {
		by := "event"
		if i == otherIndex {
			by = "reconciler"
		}
		tw.wantRecord(t, x.oneBuild(t, i), "COMPLETED", by)
	}
	tw.noDeadLetters(t)
}

// setFunctionEnv sets one variable of a function's environment in the templates.
func setFunctionEnv(function, variable, value string) func([]*cfn.Stack) error {
	return func(stacks []*cfn.Stack) error {
		for _, s := range stacks {
			for _, id := range s.ResourcesOfType("AWS::Lambda::Function") {
				props := s.Template.Resources[id].Properties
				if props["FunctionName"] != function {
					continue
				}
				env, _ := props["Environment"].(map[string]any)
				vars, _ := env["Variables"].(map[string]any)
				if _, ok := vars[variable]; !ok {
					return fmt.Errorf("%s has no %s to set", function, variable)
				}
				vars[variable] = value
				return nil
			}
		}
		return fmt.Errorf("no function named %s in the assembly", function)
	}
}

var rateRE = regexp.MustCompile(`^rate\((\d+) minutes?\)$`)

// reconcilerPeriod reads the reconciler's schedule from the synthesized rule.
func reconcilerPeriod(t *testing.T, stacks []*cfn.Stack) time.Duration {
	t.Helper()
	for _, s := range stacks {
		for _, id := range s.ResourcesOfType("AWS::Events::Rule") {
			props, err := s.Properties(id)
			if err != nil {
				t.Fatal(err)
			}
			expr, _ := props["ScheduleExpression"].(string)
			if expr == "" {
				continue
			}
			m := rateRE.FindStringSubmatch(expr)
			if m == nil {
				t.Fatalf("%s/%s: schedule %q is not a rate in minutes", s.Name, id, expr)
			}
			n, _ := strconv.Atoi(m[1])
			return time.Duration(n) * time.Minute
		}
	}
	t.Fatal("no scheduled rule in the assembly")
	return 0
}
