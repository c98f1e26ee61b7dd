package eventbridge_test

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/internal/testclock"
	"github.com/crossbuild/crossbuild/local/eventbridge"
)

// flow is one scenario of testdata/flows.json: a world of buses and rules,
// events published on default buses, and what must come out.
type flow struct {
	Name            string
	Orgs            map[string]string
	Buses           []eventbridge.Bus
	Rules           []flowRule
	Failures        map[string]any
	Publish         []struct{ Account, Region, Event string }
	WantInvocations map[string][]json.RawMessage
	WantAttempts    map[string]int
	WantDeadLetters map[string][]struct {
		Event      string
		Attributes map[string]string
	}
}

type flowRule struct {
	Account, Region, Bus, Name, State string
	Pattern                           json.RawMessage
	Targets                           []struct {
		ID, ARN, RoleARN, DeadLetterARN, Input, InputPath string
		MaxRetryAttempts                                  int
		MaxEventAgeSeconds                                int
	}
}

func (r flowRule) rule() eventbridge.Rule {
	out := eventbridge.Rule{Account: r.Account, Region: r.Region, Bus: r.Bus, Name: r.Name, State: r.State, Pattern: r.Pattern}
	for _, t := range r.Targets {
		out.Targets = append(out.Targets, eventbridge.Target{
			ID: t.ID, ARN: t.ARN, RoleARN: t.RoleARN, DeadLetterARN: t.DeadLetterARN, Input: t.Input, InputPath: t.InputPath,
			MaxRetryAttempts: t.MaxRetryAttempts, MaxEventAge: time.Duration(t.MaxEventAgeSeconds) * time.Second,
		})
	}
	return out
}

func TestFlows(t *testing.T) {
	var flows []flow
	if err := json.Unmarshal(readFixture(t, "flows.json"), &flows); err != nil {
		t.Fatal(err)
	}
	for _, f := range flows {
		t.Run(f.Name, func(t *testing.T) {
			lambda := newFakeLambda(f.Failures)
			s := eventbridge.New(eventbridge.Options{
				Evaluator: &fakeEvaluator{}, Lambda: lambda, RetryBackoff: tinyBackoff, Logger: quietLogger(t),
				OrgID: func(account string) string { return f.Orgs[account] },
			})
			defer closeService(t, s)
			for _, b := range f.Buses {
				if err := s.AddBus(b); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range f.Rules {
				if err := s.AddRule(r.rule()); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range f.Publish {
				if err := s.PublishDefault(context.Background(), p.Account, p.Region, readFixture(t, filepath.Join("events", p.Event))); err != nil {
					t.Fatal(err)
				}
			}
			idle(t, s)

			calls, payloads := lambda.snapshot()
			want := f.WantAttempts
			if want == nil {
				want = map[string]int{}
			}
			if !maps.Equal(calls, want) {
				t.Errorf("invocation attempts = %v, want %v", calls, want)
			}
			for _, arn := range slices.Sorted(maps.Keys(mergeKeys(payloads, f.WantInvocations))) {
				var wantPayloads [][]byte
				for _, w := range f.WantInvocations[arn] {
					wantPayloads = append(wantPayloads, expectedJSON(t, w))
				}
				missing, unexpected := matchAll(t, payloads[arn], wantPayloads)
				for _, m := range missing {
					t.Errorf("%s: not delivered: %.200s", arn, m)
				}
				for _, u := range unexpected {
					t.Errorf("%s: unexpected delivery: %.200s", arn, u)
				}
			}
			checkDeadLetters(t, s, f)
		})
	}
}

func mergeKeys(a map[string][]json.RawMessage, b map[string][]json.RawMessage) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// checkDeadLetters compares every dead-letter queue the rules name with the
// scenario: the body is the original event, attributes are exact except
// ERROR_MESSAGE, which must contain the expected text.
func checkDeadLetters(t *testing.T, s *eventbridge.Service, f flow) {
	t.Helper()
	queues := map[string]bool{}
	for _, r := range f.Rules {
		for _, tg := range r.Targets {
			if tg.DeadLetterARN != "" {
				queues[tg.DeadLetterARN] = true
			}
		}
	}
	for q := range f.WantDeadLetters {
		queues[q] = true
	}
	for _, q := range slices.Sorted(maps.Keys(queues)) {
		got := s.DeadLetters(q)
		want := f.WantDeadLetters[q]
		if len(got) != len(want) {
			t.Errorf("%s holds %d messages, want %d: %+v", q, len(got), len(want), got)
			continue
		}
		for i, w := range want {
			g := got[i]
			if !sameJSON(t, g.Body, readFixture(t, filepath.Join("events", w.Event))) {
				t.Errorf("%s[%d] body = %.200s, want %s", q, i, g.Body, w.Event)
			}
			if !strings.Contains(g.Attributes["ERROR_MESSAGE"], w.Attributes["ERROR_MESSAGE"]) {
				t.Errorf("%s[%d] ERROR_MESSAGE = %q, want it to contain %q", q, i, g.Attributes["ERROR_MESSAGE"], w.Attributes["ERROR_MESSAGE"])
			}
			gotAttrs, wantAttrs := maps.Clone(g.Attributes), maps.Clone(w.Attributes)
			delete(gotAttrs, "ERROR_MESSAGE")
			delete(wantAttrs, "ERROR_MESSAGE")
			if !maps.Equal(gotAttrs, wantAttrs) {
				t.Errorf("%s[%d] attributes = %v, want %v", q, i, gotAttrs, wantAttrs)
			}
		}
	}
}

// The sending principal and condition keys reach the evaluator as AWS sets
// them: the role's session (with its Organization) when the target has a
// role, else the rule's account (without one).
func TestCrossAccountAuthorizationRequest(t *testing.T) {
	cases := []struct {
		name, role                 string
		wantARN, wantRole, wantOrg string
	}{
		{"rule account", "", "arn:aws:iam::222222222222:root", "arn:aws:iam::222222222222:root", ""},
		{"target role", "arn:aws:iam::222222222222:role/crossbuild-forwarder",
			"arn:aws:sts::222222222222:assumed-role/crossbuild-forwarder/eventbridge", "arn:aws:iam::222222222222:role/crossbuild-forwarder", "o-crossbuild1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eval := &fakeEvaluator{}
			s := eventbridge.New(eventbridge.Options{Evaluator: eval, Lambda: newFakeLambda(nil), RetryBackoff: tinyBackoff,
				Logger: quietLogger(t), OrgID: func(string) string { return "o-crossbuild1" }})
			defer closeService(t, s)
			mustAddBus(t, s, eventbridge.Bus{Account: "111111111111", Region: "eu-west-1", Name: "crossbuild", Policy: json.RawMessage(`{"Statement":[]}`)})
			mustAddRule(t, s, eventbridge.Rule{Account: "222222222222", Region: "eu-west-1", Name: "fwd", Pattern: json.RawMessage(`{"source":["aws.codebuild"]}`),
				Targets: []eventbridge.Target{{ID: "bus", ARN: "arn:aws:events:eu-west-1:111111111111:event-bus/crossbuild", RoleARN: tc.role}}})
			if err := s.PublishDefault(context.Background(), "222222222222", "eu-west-1", readFixture(t, "events/state-succeeded.json")); err != nil {
				t.Fatal(err)
			}
			idle(t, s)
			c := eval.lastCall(t)
			if c.Principal.Account != "222222222222" || c.Principal.ARN != tc.wantARN || c.Principal.RoleARN != tc.wantRole || c.Principal.OrgID != tc.wantOrg {
				t.Errorf("principal = %+v", c.Principal)
			}
			if c.Action != "events:PutEvents" || c.Resource != "arn:aws:events:eu-west-1:111111111111:event-bus/crossbuild" {
				t.Errorf("action %q resource %q", c.Action, c.Resource)
			}
			want := map[string][]string{
				"events:source":             {"aws.codebuild"},
				"events:detail-type":        {"CodeBuild Build State Change"},
				"events:eventBusInvocation": {"true"},
				"aws:PrincipalAccount":      {"222222222222"},
				"aws:PrincipalArn":          {tc.wantRole},
			}
			if tc.wantOrg != "" {
				want["aws:PrincipalOrgID"] = []string{tc.wantOrg}
			}
			if !maps.EqualFunc(c.Context, want, slices.Equal) {
				t.Errorf("context = %v, want %v", c.Context, want)
			}
		})
	}
}

func mustAddBus(t *testing.T, s *eventbridge.Service, b eventbridge.Bus) {
	t.Helper()
	if err := s.AddBus(b); err != nil {
		t.Fatal(err)
	}
}

func mustAddRule(t *testing.T, s *eventbridge.Service, r eventbridge.Rule) {
	t.Helper()
	if err := s.AddRule(r); err != nil {
		t.Fatal(err)
	}
}

// callbackWorld is the crossbuild path in its smallest form: a target
// account's default bus forwarding to the source bus, whose rule invokes the
// callback function.
func callbackWorld(t *testing.T, opts eventbridge.Options, callback eventbridge.Target) *eventbridge.Service {
	t.Helper()
	if opts.Evaluator == nil {
		opts.Evaluator = &fakeEvaluator{}
	}
	if opts.RetryBackoff == nil {
		opts.RetryBackoff = tinyBackoff
	}
	opts.Logger = quietLogger(t)
	s := eventbridge.New(opts)
	t.Cleanup(func() { closeService(t, s) })
	mustAddBus(t, s, eventbridge.Bus{Account: "111111111111", Region: "eu-west-1", Name: "crossbuild",
		Policy: readFixture(t, "policies/source-bus.json")})
	mustAddRule(t, s, eventbridge.Rule{Account: "222222222222", Region: "eu-west-1", Name: "crossbuild-forward",
		Pattern: readFixture(t, "patterns/forward.json"),
		Targets: []eventbridge.Target{{ID: "source-bus", ARN: "arn:aws:events:eu-west-1:111111111111:event-bus/crossbuild"}}})
	callback.ID = "callback"
	callback.ARN = "arn:aws:lambda:eu-west-1:111111111111:function:crossbuild-callback"
	mustAddRule(t, s, eventbridge.Rule{Account: "111111111111", Region: "eu-west-1", Bus: "crossbuild", Name: "crossbuild-callback",
		Pattern: json.RawMessage(`{"source":["aws.codebuild"]}`), Targets: []eventbridge.Target{callback}})
	return s
}

// The Drop hook loses chosen events on the way and nothing else; a dropped
// event is not a failed delivery, so nothing is dead-lettered.
func TestDropHook(t *testing.T) {
	lambda := newFakeLambda(nil)
	drop := func(ev json.RawMessage) bool {
		var e struct {
			DetailType string `json:"detail-type"`
		}
		return json.Unmarshal(ev, &e) == nil && e.DetailType == "CodeBuild Build Phase Change"
	}
	s := callbackWorld(t, eventbridge.Options{Lambda: lambda, Drop: drop},
		eventbridge.Target{DeadLetterARN: "arn:aws:sqs:eu-west-1:111111111111:callback-dlq"})
	for _, name := range []string{"state-succeeded.json", "phase-build-completed.json"} {
		if err := s.PublishDefault(context.Background(), "222222222222", "eu-west-1", readFixture(t, filepath.Join("events", name))); err != nil {
			t.Fatal(err)
		}
	}
	idle(t, s)
	_, payloads := lambda.snapshot()
	got := payloads["arn:aws:lambda:eu-west-1:111111111111:function:crossbuild-callback"]
	if len(got) != 1 || !sameJSON(t, got[0], readFixture(t, "events/state-succeeded.json")) {
		t.Errorf("delivered %d events, want only the state change: %s", len(got), got)
	}
	if dl := s.DeadLetters("arn:aws:sqs:eu-west-1:111111111111:callback-dlq"); len(dl) != 0 {
		t.Errorf("dead letters: %+v", dl)
	}
}

// Retries stop when the event is older than MaxEventAge, even though
// attempts remain.
func TestMaxEventAgeEndsRetries(t *testing.T) {
	clock := testclock.New(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC))
	lambda := newFakeLambda(map[string]any{"arn:aws:lambda:eu-west-1:111111111111:function:crossbuild-callback": float64(-1)})
	backoff := func(int) time.Duration { clock.Advance(25 * time.Second); return time.Millisecond }
	dlq := "arn:aws:sqs:eu-west-1:111111111111:callback-dlq"
	s := callbackWorld(t, eventbridge.Options{Lambda: lambda, Clock: clock, RetryBackoff: backoff},
		eventbridge.Target{MaxRetryAttempts: 100, MaxEventAge: time.Minute, DeadLetterARN: dlq})
	if err := s.PublishDefault(context.Background(), "222222222222", "eu-west-1", readFixture(t, "events/state-succeeded.json")); err != nil {
		t.Fatal(err)
	}
	idle(t, s)
	calls, _ := lambda.snapshot()
	// Attempts at 0 s, 25 s and 50 s; the retry due at 75 s is past the minute.
	if n := calls["arn:aws:lambda:eu-west-1:111111111111:function:crossbuild-callback"]; n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
	dl := s.DeadLetters(dlq)
	if len(dl) != 1 {
		t.Fatalf("dead letters: %+v", dl)
	}
	if got := dl[0].Attributes; got["EXHAUSTED_RETRY_CONDITION"] != "MaximumEventAgeInSeconds" || got["RETRY_ATTEMPTS"] != "2" || got["ERROR_CODE"] != "ERROR_FROM_TARGET" {
		t.Errorf("attributes = %v", got)
	}
	if !dl[0].SentAt.Equal(clock.Now()) {
		t.Errorf("SentAt = %v, want the clock's %v", dl[0].SentAt, clock.Now())
	}
}

// Archives record what arrives on their bus and matches their pattern, in
// memory and, with ArchiveDir, as JSON lines. The folder does not exist yet, as
// <logs>/archives of a fresh local run does not: the archive creates it.
func TestArchive(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs", "archives")
	s := callbackWorld(t, eventbridge.Options{Lambda: newFakeLambda(nil), ArchiveDir: dir}, eventbridge.Target{})
	if err := s.AddArchive("111111111111", "eu-west-1", "crossbuild", "crossbuild-events", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.AddArchive("111111111111", "eu-west-1", "crossbuild", "state-changes", json.RawMessage(`{"detail-type":["CodeBuild Build State Change"]}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.AddArchive("111111111111", "eu-west-1", "crossbuild", "state-changes", nil); err == nil {
		t.Error("a second archive with the same name was accepted")
	}
	if err := s.AddArchive("111111111111", "eu-west-1", "no-such-bus", "x", nil); err == nil {
		t.Error("an archive of a missing bus was accepted")
	}
	for _, name := range []string{"state-succeeded.json", "phase-build-completed.json", "other-project.json"} {
		if err := s.PublishDefault(context.Background(), "222222222222", "eu-west-1", readFixture(t, filepath.Join("events", name))); err != nil {
			t.Fatal(err)
		}
	}
	idle(t, s)
	all := s.ArchivedEvents("111111111111", "eu-west-1", "crossbuild-events")
	states := s.ArchivedEvents("111111111111", "eu-west-1", "state-changes")
	// The forwarding rule only lets the sample project's events through.
	if missing, extra := matchAll(t, all, [][]byte{readFixture(t, "events/state-succeeded.json"), readFixture(t, "events/phase-build-completed.json")}); missing != nil || extra != nil {
		t.Errorf("archive of all events: missing %v, unexpected %v", missing, extra)
	}
	if len(states) != 1 || !sameJSON(t, states[0], readFixture(t, "events/state-succeeded.json")) {
		t.Errorf("archive of state changes = %s", states)
	}
	file, err := os.ReadFile(filepath.Join(dir, "111111111111.eu-west-1.crossbuild-events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(file)), "\n")
	if len(lines) != 2 {
		t.Fatalf("archive file has %d lines: %s", len(lines), file)
	}
	for i, l := range lines {
		if !json.Valid([]byte(l)) || !sameJSON(t, []byte(l), all[i]) {
			t.Errorf("line %d = %.200s, want %.200s", i, l, all[i])
		}
	}
}
