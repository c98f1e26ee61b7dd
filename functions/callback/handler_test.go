package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/crossbuild/crossbuild/internal/assume"
	"github.com/crossbuild/crossbuild/internal/completion"
	"github.com/crossbuild/crossbuild/internal/metrics"
	"github.com/crossbuild/crossbuild/internal/outcome"
	"github.com/crossbuild/crossbuild/internal/target"
	"github.com/crossbuild/crossbuild/internal/testfixtures"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

const testToken = "AQCEAAAAKgAAAAMAAAAAAAAAAeXampleTokenValue"

// fakeSFN records completions; failN makes the first N sends fail with err.
type fakeSFN struct {
	mu         sync.Mutex
	successes  []string // outputs
	failures   []string // error names
	causes     []string
	heartbeats int
	err        error
	failN      int
}

func (f *fakeSFN) fail() error {
	if f.failN > 0 {
		f.failN--
		return f.err
	}
	return nil
}

func (f *fakeSFN) SendTaskSuccess(_ context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return nil, err
	}
	f.successes = append(f.successes, aws.ToString(in.Output))
	return &sfn.SendTaskSuccessOutput{}, nil
}

func (f *fakeSFN) SendTaskFailure(_ context.Context, in *sfn.SendTaskFailureInput, _ ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return nil, err
	}
	f.failures = append(f.failures, aws.ToString(in.Error))
	f.causes = append(f.causes, aws.ToString(in.Cause))
	return &sfn.SendTaskFailureOutput{}, nil
}

func (f *fakeSFN) SendTaskHeartbeat(_ context.Context, _ *sfn.SendTaskHeartbeatInput, _ ...func(*sfn.Options)) (*sfn.SendTaskHeartbeatOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return nil, err
	}
	f.heartbeats++
	return &sfn.SendTaskHeartbeatOutput{}, nil
}

func (f *fakeSFN) completions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.successes) + len(f.failures)
}

// memStore is an in-memory token store with the same conditional semantics.
type memStore struct {
	mu   sync.Mutex
	recs map[string]tokenstore.Record
	now  func() time.Time
}

func newMemStore(recs ...tokenstore.Record) *memStore {
	s := &memStore{recs: map[string]tokenstore.Record{}, now: time.Now}
	for _, r := range recs {
		s.recs[r.BuildARN] = r
	}
	return s
}

func (s *memStore) Get(_ context.Context, arn string) (tokenstore.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[arn]
	if !ok {
		return r, &tokenstore.NotFoundError{Key: arn}
	}
	return r, nil
}

func (s *memStore) ClaimAs(_ context.Context, arn, owner string, lease time.Duration) (tokenstore.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[arn]
	if !ok {
		return r, &tokenstore.NotFoundError{Key: arn}
	}
	now := s.now()
	if r.State != tokenstore.Waiting && !(r.State == tokenstore.Claimed && r.ClaimedAt.Before(now.Add(-lease))) {
		return r, &tokenstore.ConflictError{BuildARN: arn, Op: "claim", State: r.State}
	}
	r.State, r.ClaimedAt, r.ClaimOwner = tokenstore.Claimed, now, owner
	s.recs[arn] = r
	return r, nil
}

func (s *memStore) Park(_ context.Context, p tokenstore.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.recs[p.BuildARN]; ok {
		return &tokenstore.ExistsError{Existing: r}
	}
	p.State = tokenstore.Parked
	s.recs[p.BuildARN] = p
	return nil
}

func (s *memStore) Release(_ context.Context, rec tokenstore.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.recs[rec.BuildARN]
	if r.State != tokenstore.Claimed || !r.ClaimedAt.Equal(rec.ClaimedAt) {
		return &tokenstore.ConflictError{BuildARN: rec.BuildARN, Op: "release", State: r.State}
	}
	r.State = tokenstore.Waiting
	if rec.Outcome != "" {
		r.Outcome = rec.Outcome
	}
	s.recs[rec.BuildARN] = r
	return nil
}

func (s *memStore) Complete(_ context.Context, arn, by string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[arn]
	if !ok {
		return &tokenstore.NotFoundError{Key: arn}
	}
	if r.State == tokenstore.Completed {
		return &tokenstore.ConflictError{BuildARN: arn, Op: "complete", State: r.State}
	}
	r.State, r.CompletedBy = tokenstore.Completed, by
	s.recs[arn] = r
	return nil
}

func (s *memStore) state(arn string) tokenstore.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recs[arn].State
}

func waitingRecord() tokenstore.Record {
	return tokenstore.Record{
		BuildARN: testfixtures.BuildARN, BuildID: "sample-codebuild-project:0f8c3b4e-7d2a-4c1b-9e55-2a6d1f3c8b90",
		TaskToken: testToken, ExecutionARN: "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1",
		Account: "222222222222", Region: "eu-west-1", Project: "sample-codebuild-project",
		RoleARN: "arn:aws:iam::222222222222:role/crossbuild-target", Completion: "event",
		EnvOverrides: []string{"HARDCODED_VAR1", "SAMPLE_VAR1"}, State: tokenstore.Waiting,
	}
}

type callbackStore interface {
	Store
	completion.Store
}

type sfnAPI interface {
	HeartbeatAPI
	completion.SFNAPI
}

func newHandler(t testing.TB, store callbackStore, s sfnAPI, logTo io.Writer) *Handler {
	t.Helper()
	allow, err := target.NewAccountRegionList([]string{"222222222222"}, []string{"eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(logTo, nil))
	rec := metrics.New(io.Discard, "callback")
	return &Handler{
		Store: store, SFN: s, Allow: allow, Lease: time.Minute, ParkTTL: time.Hour, Log: log, Metrics: rec,
		Finisher: &completion.Completer{SFN: s, Store: store, Log: log, Metrics: rec},
		Now:      time.Now,
	}
}

func fixture(t testing.TB, name string) json.RawMessage {
	t.Helper()
	raw, err := testfixtures.Raw(name)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestHandleFixtures(t *testing.T) {
	cases := []struct {
		fixture      string
		wantSuccess  bool
		wantFailure  string
		wantBeat     bool
		wantRecState tokenstore.State
	}{
		{testfixtures.StateSucceeded, true, "", false, tokenstore.Completed},
		{testfixtures.StateFailed, false, "CodeBuild.FAILED", false, tokenstore.Completed},
		{testfixtures.StateFault, false, "CodeBuild.FAULT", false, tokenstore.Completed},
		{testfixtures.StateStopped, false, "CodeBuild.STOPPED", false, tokenstore.Completed},
		{testfixtures.StateTimedOut, false, "CodeBuild.TIMED_OUT", false, tokenstore.Completed},
		{testfixtures.StateInProgress, false, "", true, tokenstore.Waiting},
		{testfixtures.PhaseBuild, false, "", true, tokenstore.Waiting},
		{testfixtures.PhaseProvision, false, "", true, tokenstore.Waiting},
	}
	for _, tc := range cases {
		t.Run(tc.fixture, func(t *testing.T) {
			var logs strings.Builder
			store, s := newMemStore(waitingRecord()), &fakeSFN{}
			h := newHandler(t, store, s, &logs)
			if err := h.Handle(context.Background(), fixture(t, tc.fixture)); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if got := len(s.successes) == 1; got != tc.wantSuccess {
				t.Errorf("successes = %v", s.successes)
			}
			if tc.wantFailure != "" && (len(s.failures) != 1 || s.failures[0] != tc.wantFailure) {
				t.Errorf("failures = %v, want %s", s.failures, tc.wantFailure)
			}
			if got := s.heartbeats == 1; got != tc.wantBeat {
				t.Errorf("heartbeats = %d", s.heartbeats)
			}
			if got := store.state(testfixtures.BuildARN); got != tc.wantRecState {
				t.Errorf("record state = %s, want %s", got, tc.wantRecState)
			}
			if strings.Contains(logs.String(), testToken) {
				t.Errorf("the task token reached the logs")
			}
			if tc.wantSuccess {
				var r outcome.Result
				if err := json.Unmarshal([]byte(s.successes[0]), &r); err != nil {
					t.Fatal(err)
				}
				if r.Status != "SUCCEEDED" || r.CompletedBy != "event" || r.DurationSeconds != 93 ||
					!reflect.DeepEqual(r.EnvOverrides, []string{"HARDCODED_VAR1", "SAMPLE_VAR1"}) {
					t.Errorf("result = %+v", r)
				}
			}
			if tc.wantFailure != "" {
				var c outcome.Cause
				if err := json.Unmarshal([]byte(s.causes[0]), &c); err != nil || c.BuildARN != testfixtures.BuildARN || c.Phase == "" || c.LogsDeepLink == "" {
					t.Errorf("cause %s (%v)", s.causes[0], err)
				}
			}
		})
	}
}

func TestHandleIgnoresWhatIsNotOurs(t *testing.T) {
	spoofed := func(mutate func(*tokenstore.Record)) tokenstore.Record {
		r := waitingRecord()
		mutate(&r)
		return r
	}
	cases := []struct {
		name   string
		recs   []tokenstore.Record
		event  string
		mutate func(map[string]any)
	}{
		{"unknown build, progress event", nil, testfixtures.StateInProgress, nil},
		{"unknown build from a foreign account", nil, testfixtures.StateSucceeded, func(m map[string]any) {
			m["account"] = "999999999999"
			d := m["detail"].(map[string]any)
			d["build-id"] = strings.Replace(testfixtures.BuildARN, "222222222222", "999999999999", 1)
		}},
		{"event account differs from the build ARN", []tokenstore.Record{waitingRecord()}, testfixtures.StateSucceeded, func(m map[string]any) { m["account"] = "999999999999" }},
		{"event region differs from the build ARN", []tokenstore.Record{waitingRecord()}, testfixtures.StateSucceeded, func(m map[string]any) { m["region"] = "us-east-1" }},
		{"record in another account", []tokenstore.Record{spoofed(func(r *tokenstore.Record) { r.Account = "333333333333" })}, testfixtures.StateSucceeded, nil},
		{"already completed", []tokenstore.Record{spoofed(func(r *tokenstore.Record) { r.State = tokenstore.Completed })}, testfixtures.StateFailed, nil},
		{"claimed by another delivery", []tokenstore.Record{spoofed(func(r *tokenstore.Record) { r.State, r.ClaimedAt = tokenstore.Claimed, time.Now() })}, testfixtures.StateSucceeded, nil},
		{"poll mode record", []tokenstore.Record{spoofed(func(r *tokenstore.Record) { r.TaskToken, r.Completion = "", "poll" })}, testfixtures.StateSucceeded, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := fixture(t, tc.event)
			if tc.mutate != nil {
				var m map[string]any
				if err := json.Unmarshal(raw, &m); err != nil {
					t.Fatal(err)
				}
				tc.mutate(m)
				raw, _ = json.Marshal(m)
			}
			store, s := newMemStore(tc.recs...), &fakeSFN{}
			if err := newHandler(t, store, s, io.Discard).Handle(context.Background(), raw); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if s.completions()+s.heartbeats != 0 {
				t.Fatalf("acted on an event that is not ours: %+v", s)
			}
			for arn, r := range store.recs {
				if r.State == tokenstore.Parked {
					t.Errorf("parked %s from an event that is not ours", arn)
				}
			}
		})
	}
}

func TestHandleRejectsMalformed(t *testing.T) {
	cases := map[string]string{
		"not json":        `{`,
		"array":           `[]`,
		"other source":    `{"source":"aws.ec2","detail-type":"CodeBuild Build State Change","detail":{}}`,
		"other type":      `{"source":"aws.codebuild","detail-type":"CodeBuild Report","detail":{}}`,
		"no build id":     `{"source":"aws.codebuild","detail-type":"CodeBuild Build State Change","detail":{"build-status":"SUCCEEDED"}}`,
		"bad time format": `{"source":"aws.codebuild","detail-type":"CodeBuild Build State Change","detail":{"additional-information":{"build-start-time":"yesterday"}}}`,
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			s := &fakeSFN{}
			err := newHandler(t, newMemStore(), s, io.Discard).Handle(context.Background(), json.RawMessage(raw))
			var ie *InvalidEvent
			if !errors.As(err, &ie) {
				t.Fatalf("want *InvalidEvent, got %v", err)
			}
		})
	}
}

// A terminal event that overtakes the starter's write is parked, not dropped.
func TestHandleParksEarlyTerminalEvent(t *testing.T) {
	store, s := newMemStore(), &fakeSFN{}
	h := newHandler(t, store, s, io.Discard)
	if err := h.Handle(context.Background(), fixture(t, testfixtures.StateFailed)); err != nil {
		t.Fatal(err)
	}
	r := store.recs[testfixtures.BuildARN]
	if r.State != tokenstore.Parked || r.Outcome == "" || r.ExpiresAt.IsZero() {
		t.Fatalf("parked record = %+v", r)
	}
	var b outcome.Build
	if err := json.Unmarshal([]byte(r.Outcome), &b); err != nil || b.Status != "FAILED" || b.FailedPhase != "BUILD" {
		t.Fatalf("parked outcome %s (%v)", r.Outcome, err)
	}
	// A duplicate of the same event must not disturb the parked outcome.
	if err := h.Handle(context.Background(), fixture(t, testfixtures.StateFailed)); err != nil || s.completions() != 0 {
		t.Fatalf("duplicate: %v, completions %d", err, s.completions())
	}
}

// A terminal event without a record is parked only when its initiator is a session
// crossbuild uses; a record, once written, decides alone.
func TestHandleParksOnlyWhatCrossbuildCouldHaveStarted(t *testing.T) {
	long := assume.SessionName("arn:aws:states:eu-west-1:111111111111:execution:crossbuild:" + strings.Repeat("n", 80))
	setInitiator := func(v any) func(map[string]any) {
		return func(m map[string]any) {
			info := m["detail"].(map[string]any)["additional-information"].(map[string]any)
			if v == nil {
				delete(info, "initiator")
				return
			}
			info["initiator"] = v
		}
	}
	cases := []struct {
		name       string
		recs       []tokenstore.Record
		event      string
		mutate     func(map[string]any)
		wantParked string // build ARN
		wantSent   int
		wantMetric string
	}{
		{"crossbuild session", nil, testfixtures.StateFailed, nil, testfixtures.BuildARN, 0, metrics.EventParked},
		{"hashed long session", nil, testfixtures.StateFailed, setInitiator("crossbuild-target/" + long), testfixtures.BuildARN, 0, metrics.EventParked},
		{"foreign session", nil, testfixtures.StateSucceededForeign, nil, "", 0, metrics.EventForeignBuild},
		{"IAM user", nil, testfixtures.StateFailed, setInitiator("alice"), "", 0, metrics.EventForeignBuild},
		{"IAM user named like a session", nil, testfixtures.StateFailed, setInitiator("crossbuild-run-1"), "", 0, metrics.EventForeignBuild},
		{"CodePipeline", nil, testfixtures.StateFailed, setInitiator("codepipeline/release"), "", 0, metrics.EventForeignBuild},
		{"no initiator", nil, testfixtures.StateFailed, setInitiator(nil), "", 0, metrics.EventForeignBuild},
		{"empty initiator", nil, testfixtures.StateFailed, setInitiator(""), "", 0, metrics.EventForeignBuild},
		{"progress of a foreign build", nil, testfixtures.StateInProgress, setInitiator("alice"), "", 0, metrics.EventIgnored},
		{"foreign session, record exists", []tokenstore.Record{waitingRecord()}, testfixtures.StateSucceeded, setInitiator("release-deployer/botocore-session-1764144000"), "", 1, metrics.TaskCompleted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := fixture(t, tc.event)
			if tc.mutate != nil {
				var m map[string]any
				if err := json.Unmarshal(raw, &m); err != nil {
					t.Fatal(err)
				}
				tc.mutate(m)
				raw, _ = json.Marshal(m)
			}
			var counted strings.Builder
			store, s := newMemStore(tc.recs...), &fakeSFN{}
			h := newHandler(t, store, s, io.Discard)
			h.Metrics = metrics.New(&counted, "callback")
			h.Finisher.(*completion.Completer).Metrics = h.Metrics
			if err := h.Handle(context.Background(), raw); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if s.completions() != tc.wantSent {
				t.Errorf("completions = %d, want %d", s.completions(), tc.wantSent)
			}
			for arn, r := range store.recs {
				if r.State == tokenstore.Parked && arn != tc.wantParked {
					t.Errorf("parked %s", arn)
				}
			}
			if tc.wantParked != "" && store.state(tc.wantParked) != tokenstore.Parked {
				t.Errorf("%s not parked", tc.wantParked)
			}
			if tc.wantParked == "" && tc.recs == nil && len(store.recs) != 0 {
				t.Errorf("wrote %d records", len(store.recs))
			}
			if !strings.Contains(counted.String(), `"`+tc.wantMetric+`":1`) {
				t.Errorf("metrics %s, want %s", counted.String(), tc.wantMetric)
			}
		})
	}
}

func TestStartedByCrossbuild(t *testing.T) {
	long := assume.SessionName("arn:aws:states:eu-west-1:111111111111:execution:crossbuild:" + strings.Repeat("n", 80))
	cases := []struct {
		initiator string
		want      bool
	}{
		{"crossbuild-starter/crossbuild-run-1", true},
		{"any-target-role/" + long, true},
		{"release-deployer/botocore-session-1764144000", false},
		{"codepipeline/crossbuild-release", true}, // indistinguishable from a role named codepipeline
		{"codepipeline/release", false},
		{"alice", false},
		{"crossbuild-run-1", false},
		{"CodeBuild-Jenkins-Plugin", false},
		{"/crossbuild-run-1", false},
		{"role/crossbuild-run-1/x", false},
		{"", false},
	}
	for _, tc := range cases {
		if got := startedByCrossbuild(tc.initiator); got != tc.want {
			t.Errorf("startedByCrossbuild(%q) = %v, want %v", tc.initiator, got, tc.want)
		}
	}
}

// Throttled sends release the claim and ask for a retry. A task already closed is not a
// completion: the claim is released with the outcome kept on the record, for a retried
// starter's new token or the polling branch, which records how the target completed.
func TestHandleSendFailures(t *testing.T) {
	cases := []struct {
		name      string
		err       error
		wantRetry bool
		wantState tokenstore.State
	}{
		{"throttled", &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}, true, tokenstore.Waiting},
		{"task timed out", &sfntypes.TaskTimedOut{Message: aws.String("Task Timed Out")}, false, tokenstore.Waiting},
		{"task does not exist", &sfntypes.TaskDoesNotExist{Message: aws.String("gone")}, false, tokenstore.Waiting},
		{"invalid token", &sfntypes.InvalidToken{Message: aws.String("bad")}, false, tokenstore.Waiting},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store, s := newMemStore(waitingRecord()), &fakeSFN{err: tc.err, failN: 1}
			h := newHandler(t, store, s, io.Discard)
			err := h.Handle(context.Background(), fixture(t, testfixtures.StateSucceeded))
			if (err != nil) != tc.wantRetry {
				t.Fatalf("Handle = %v, want retry %v", err, tc.wantRetry)
			}
			if got := store.state(testfixtures.BuildARN); got != tc.wantState {
				t.Fatalf("state = %s, want %s", got, tc.wantState)
			}
			// Either way the outcome stays on the record for the next claimant.
			if o := store.recs[testfixtures.BuildARN].Outcome; !strings.Contains(o, `"status":"SUCCEEDED"`) {
				t.Fatalf("outcome on the record = %q", o)
			}
			if tc.wantRetry {
				// The redelivered event completes the task, once.
				if err := h.Handle(context.Background(), fixture(t, testfixtures.StateSucceeded)); err != nil {
					t.Fatal(err)
				}
				if s.completions() != 1 || store.state(testfixtures.BuildARN) != tokenstore.Completed {
					t.Fatalf("after retry: completions %d state %s", s.completions(), store.state(testfixtures.BuildARN))
				}
			}
		})
	}
}

// Duplicated, reordered and concurrent deliveries of every event of a build complete its
// task exactly once.
func TestHandleExactlyOnceUnderDuplicates(t *testing.T) {
	for round := range 20 {
		store, s := newMemStore(waitingRecord()), &fakeSFN{}
		h := newHandler(t, store, s, io.Discard)
		var wg sync.WaitGroup
		for i := range 4 {
			for j := range testfixtures.All {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// Rotate the order per goroutine so terminal events race each other.
					raw := fixture(t, testfixtures.All[(j+i+round)%len(testfixtures.All)])
					if err := h.Handle(context.Background(), raw); err != nil {
						t.Error(err)
					}
				}()
			}
		}
		wg.Wait()
		if got := s.completions(); got != 1 {
			t.Fatalf("round %d: %d completions (successes %v, failures %v)", round, got, s.successes, s.failures)
		}
	}
}

func FuzzHandleEvent(f *testing.F) {
	for _, name := range testfixtures.All {
		raw, err := testfixtures.Raw(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(`{"source":"aws.codebuild","detail-type":"CodeBuild Build State Change","detail":{"build-id":"arn:aws:codebuild:eu-west-1:222222222222:build/p1:x"}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		store, s := newMemStore(waitingRecord()), &fakeSFN{}
		err := newHandler(t, store, s, io.Discard).Handle(context.Background(), raw)
		var ie *InvalidEvent
		if err != nil && !errors.As(err, &ie) {
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
		if s.completions() > 1 {
			t.Fatalf("%d completions for one event", s.completions())
		}
		if s.completions() == 1 && store.state(testfixtures.BuildARN) != tokenstore.Completed {
			t.Fatalf("completed without marking the record")
		}
	})
}

func BenchmarkHandleTerminal(b *testing.B) {
	raw := fixture(b, testfixtures.StateSucceeded)
	ctx := context.Background()
	store, s := newMemStore(waitingRecord()), &fakeSFN{}
	h := newHandler(b, store, s, io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		store.recs[testfixtures.BuildARN] = waitingRecord() // make the task claimable again
		s.successes = s.successes[:0]
		if err := h.Handle(ctx, raw); err != nil || s.completions() != 1 {
			b.Fatal(err)
		}
	}
}

func BenchmarkHandleHeartbeat(b *testing.B) {
	raw := fixture(b, testfixtures.PhaseBuild)
	ctx := context.Background()
	store, s := newMemStore(waitingRecord()), &fakeSFN{}
	h := newHandler(b, store, s, io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		if err := h.Handle(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
}
