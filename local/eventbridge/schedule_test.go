package eventbridge_test

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/local/eventbridge"
)

// manualClock is a ScheduleClock whose timers fire when the test says so: Tick fires every
// timer started so far, once.
type manualClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*manualTimer
	periods []time.Duration
	started chan struct{} // receives once per NewTimer
}

type manualTimer struct {
	c       chan time.Time
	stopped bool
}

func (t *manualTimer) C() <-chan time.Time { return t.c }
func (t *manualTimer) Stop() bool          { t.stopped = true; return true }

func newManualClock() *manualClock {
	return &manualClock{now: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC), started: make(chan struct{}, 100)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) NewTimer(d time.Duration) eventbridge.Timer {
	c.mu.Lock()
	t := &manualTimer{c: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	c.periods = append(c.periods, d)
	c.mu.Unlock()
	c.started <- struct{}{}
	return t
}

// waitTimers waits, bounded, until n more timers have been started.
func (c *manualClock) waitTimers(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-c.started:
		case <-time.After(5 * time.Second):
			t.Fatal("no timer started")
		}
	}
}

// tick moves the clock by d and fires the timers waiting now.
func (c *manualClock) tick(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	timers := c.timers
	c.timers = nil
	now := c.now
	c.mu.Unlock()
	for _, t := range timers {
		t.c <- now
	}
}

const (
	schedAccount = "111111111111"
	schedRegion  = "eu-west-1"
	reconcilerFn = "arn:aws:lambda:eu-west-1:111111111111:function:crossbuild-reconciler"
)

func scheduledRule(name, expr string) eventbridge.Rule {
	return eventbridge.Rule{Account: schedAccount, Region: schedRegion, Name: name, Schedule: expr,
		Targets: []eventbridge.Target{{ID: "reconciler", ARN: reconcilerFn}}}
}

// TestScheduledRule: a rate rule sends a Scheduled Event to its target every period of the
// schedule clock, and only then; the event is EventBridge's, naming the rule.
func TestScheduledRule(t *testing.T) {
	clock := newManualClock()
	fn := newFakeLambda(nil)
	s := eventbridge.New(eventbridge.Options{Lambda: fn, ScheduleClock: clock, RetryBackoff: tinyBackoff, Logger: quietLogger(t)})
	defer closeService(t, s)
	if err := s.AddRule(scheduledRule("crossbuild-reconcile", "rate(5 minutes)")); err != nil {
		t.Fatalf("AddRule: %v", err)
	}
	clock.waitTimers(t, 1)
	if calls, _ := fn.snapshot(); calls[reconcilerFn] != 0 {
		t.Fatal("fired before its period")
	}
	for i := 1; i <= 3; i++ {
		clock.tick(5 * time.Minute)
		clock.waitTimers(t, 1) // the next period has begun, so this one has fired
		idle(t, s)
		if calls, _ := fn.snapshot(); calls[reconcilerFn] != i {
			t.Fatalf("after %d periods: %d invocations", i, calls[reconcilerFn])
		}
	}
	clock.mu.Lock()
	for _, p := range clock.periods {
		if p != 5*time.Minute {
			t.Errorf("timer of %s, want 5m", p)
		}
	}
	clock.mu.Unlock()

	_, payloads := fn.snapshot()
	var ev struct {
		Version    string          `json:"version"`
		ID         string          `json:"id"`
		DetailType string          `json:"detail-type"`
		Source     string          `json:"source"`
		Account    string          `json:"account"`
		Time       string          `json:"time"`
		Region     string          `json:"region"`
		Resources  []string        `json:"resources"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(payloads[reconcilerFn][0], &ev); err != nil {
		t.Fatal(err)
	}
	ruleARN := "arn:aws:events:eu-west-1:111111111111:rule/crossbuild-reconcile"
	if ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" || ev.Account != schedAccount || ev.Region != schedRegion ||
		len(ev.Resources) != 1 || ev.Resources[0] != ruleARN || string(ev.Detail) != "{}" || ev.ID == "" ||
		ev.Time != "2026-11-26T08:05:00Z" || ev.Version != "0" {
		t.Errorf("scheduled event %s", payloads[reconcilerFn][0])
	}
}

// TestScheduledRuleReplacedAndDisabled: a replaced rule's old schedule stops; a disabled
// rule sends nothing; Close ends every schedule.
func TestScheduledRuleReplacedAndDisabled(t *testing.T) {
	clock := newManualClock()
	fn := newFakeLambda(nil)
	s := eventbridge.New(eventbridge.Options{Lambda: fn, ScheduleClock: clock, RetryBackoff: tinyBackoff, Logger: quietLogger(t)})
	if err := s.AddRule(scheduledRule("r", "rate(1 minute)")); err != nil {
		t.Fatal(err)
	}
	clock.waitTimers(t, 1)
	disabled := scheduledRule("r", "rate(2 minutes)")
	disabled.State = "DISABLED"
	if err := s.AddRule(disabled); err != nil {
		t.Fatal(err)
	}
	clock.waitTimers(t, 1)
	clock.tick(2 * time.Minute) // fires both the replaced rule's timer and the new one's
	clock.waitTimers(t, 1)      // only the current rule carries on
	idle(t, s)
	if calls, _ := fn.snapshot(); calls[reconcilerFn] != 0 {
		t.Fatalf("%d invocations from a replaced or disabled rule", calls[reconcilerFn])
	}
	closeService(t, s)
	clock.tick(2 * time.Minute)
	select {
	case <-clock.started:
		t.Fatal("a schedule ran on after Close")
	case <-time.After(50 * time.Millisecond):
	}
}

func TestScheduledRuleErrors(t *testing.T) {
	s := eventbridge.New(eventbridge.Options{Logger: quietLogger(t)})
	defer closeService(t, s)
	mustAddBus(t, s, eventbridge.Bus{Account: schedAccount, Region: schedRegion, Name: "crossbuild"})
	both := scheduledRule("both", "rate(5 minutes)")
	both.Pattern = json.RawMessage(`{"source":["aws.codebuild"]}`)
	custom := scheduledRule("custom", "rate(5 minutes)")
	custom.Bus = "crossbuild"
	cases := map[string]struct {
		rule eventbridge.Rule
		want string
	}{
		"cron":             {scheduledRule("c", "cron(0 12 * * ? *)"), "cron expressions are not emulated"},
		"zero":             {scheduledRule("z", "rate(0 minutes)"), "not a rate expression"},
		"plural for one":   {scheduledRule("p", "rate(1 minutes)"), "singular for 1"},
		"singular for two": {scheduledRule("s", "rate(2 minute)"), "singular for 1"},
		"seconds":          {scheduledRule("sec", "rate(30 seconds)"), "not a rate expression"},
		"pattern and rate": {both, "not both"},
		"custom bus":       {custom, "default event bus only"},
		"neither":          {eventbridge.Rule{Account: schedAccount, Region: schedRegion, Name: "n"}, "EventPattern: required, or a ScheduleExpression"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := s.AddRule(tc.rule)
			var ce *eventbridge.ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("AddRule = %v, want a ConfigError containing %q", err, tc.want)
			}
		})
	}
	for _, ok := range []string{"rate(1 minute)", "rate(10 minutes)", "rate(1 hour)", "rate(12 hours)", "rate(1 day)", "rate(7 days)"} {
		if err := s.AddRule(scheduledRule("ok", ok)); err != nil {
			t.Errorf("AddRule %s: %v", ok, err)
		}
	}
}
