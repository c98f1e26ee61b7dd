package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"

	"github.com/crossbuild/crossbuild/internal/awstest"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/metrics"
	"github.com/crossbuild/crossbuild/internal/target"
	"github.com/crossbuild/crossbuild/internal/testfixtures"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

const (
	testSM      = "arn:aws:states:eu-west-1:111111111111:stateMachine:crossbuild"
	testExec    = "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1"
	testBuildID = "sample-codebuild-project:0f8c3b4e-7d2a-4c1b-9e55-2a6d1f3c8b90"
	testRole    = "arn:aws:iam::222222222222:role/crossbuild-target"

	opGet  = "CodeBuild_20161006.BatchGetBuilds"
	opStop = "CodeBuild_20161006.StopBuild"
)

func record(state tokenstore.State) tokenstore.Record {
	return tokenstore.Record{
		BuildARN: testfixtures.BuildARN, BuildID: testBuildID, TaskToken: "tok", ExecutionARN: testExec, MapIndex: 3,
		Account: "222222222222", Region: "eu-west-1", Project: "sample-codebuild-project", RoleARN: testRole,
		Completion: "event", State: state,
	}
}

// memStore keeps records by build ARN and applies Stop as the table's condition does.
type memStore struct {
	mu      sync.Mutex
	recs    map[string]tokenstore.Record
	intents map[int]tokenstore.Intent // by map index
	listErr error
	stopErr error
	stops   []string
}

func newMemStore(recs ...tokenstore.Record) *memStore {
	s := &memStore{recs: map[string]tokenstore.Record{}, intents: map[int]tokenstore.Intent{}}
	for _, r := range recs {
		s.recs[r.BuildARN] = r
	}
	return s
}

func (s *memStore) ListExecution(_ context.Context, exec string) ([]tokenstore.Record, []tokenstore.Intent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listErr != nil {
		return nil, nil, s.listErr
	}
	var out []tokenstore.Record
	for _, r := range s.recs {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b tokenstore.Record) int { return a.MapIndex - b.MapIndex })
	var intents []tokenstore.Intent
	for _, in := range s.intents {
		if in.ExecutionARN == exec {
			intents = append(intents, in)
		}
	}
	slices.SortFunc(intents, func(a, b tokenstore.Intent) int { return a.MapIndex - b.MapIndex })
	return out, intents, nil
}

func (s *memStore) CancelIntent(_ context.Context, exec string, index int) (tokenstore.Intent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.intents[index]
	if !ok || in.ExecutionARN != exec {
		return tokenstore.Intent{}, &tokenstore.NotFoundError{Key: tokenstore.IntentKey(exec, index)}
	}
	if !in.Cancelled() {
		in.CancelledAt = time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	}
	s.intents[index] = in
	return in, nil
}

func (s *memStore) Stop(_ context.Context, arn, exec string) (tokenstore.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stops = append(s.stops, arn)
	if s.stopErr != nil {
		return tokenstore.Record{}, s.stopErr
	}
	r, ok := s.recs[arn]
	switch {
	case !ok:
		return r, &tokenstore.NotFoundError{Key: arn}
	case r.ExecutionARN != exec || r.State == tokenstore.Completed || r.State == tokenstore.Parked:
		return r, &tokenstore.ConflictError{BuildARN: arn, Op: "stop", State: r.State}
	}
	r.State = tokenstore.Stopped
	s.recs[arn] = r
	return r, nil
}

func (s *memStore) state(arn string) tokenstore.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recs[arn].State
}

type staticRoles struct {
	err      error
	sessions []string
	mu       sync.Mutex
}

func (s *staticRoles) Credentials(_ context.Context, _, session string) (aws.CredentialsProvider, error) {
	s.mu.Lock()
	s.sessions = append(s.sessions, session)
	s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	return credentials.NewStaticCredentialsProvider("ASIA", "s", "t"), nil
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// script answers each operation with its replies in turn, the last one repeating.
func script(t testing.TB, replies map[string][]awstest.Reply) func(awstest.Request) awstest.Reply {
	var mu sync.Mutex
	next := map[string]int{}
	return func(r awstest.Request) awstest.Reply {
		mu.Lock()
		defer mu.Unlock()
		rs := replies[r.Target]
		if len(rs) == 0 {
			t.Errorf("unexpected request %s", r.Target)
			return awstest.JSONError(400, "UnexpectedRequest", r.Target)
		}
		i := min(next[r.Target], len(rs)-1)
		next[r.Target]++
		return rs[i]
	}
}

func file(t testing.TB, name string) awstest.Reply {
	return awstest.JSON(200, string(fixture(t, name)))
}

func newHandler(t testing.TB, store Store, roles Roles, srvURL string) *Handler {
	t.Helper()
	allow, err := target.NewAllowList([]string{"222222222222"}, []string{"eu-west-1"}, []string{"arn:aws:iam::222222222222:role/crossbuild-*"})
	if err != nil {
		t.Fatal(err)
	}
	return &Handler{
		StateMachineARN: testSM, Allow: allow, Roles: roles, Store: store, Concurrency: 4,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Metrics: metrics.New(io.Discard, "canceller"),
		CodeBuild: func(region string, creds aws.CredentialsProvider) CodeBuildAPI {
			return codebuild.NewFromConfig(awstest.Config(srvURL, 1), func(o *codebuild.Options) {
				o.Region = region
				o.Credentials = creds
			})
		},
	}
}

func TestHandle(t *testing.T) {
	inProgress := func(t testing.TB) []awstest.Reply { return []awstest.Reply{file(t, "batchgetbuilds-in-progress.json")} }
	stopping := func(t testing.TB) []awstest.Reply { return []awstest.Reply{file(t, "stopbuild-stopping.json")} }
	otherExec := record(tokenstore.Waiting)
	otherExec.ExecutionARN += "-other"
	wrongAccount := record(tokenstore.Waiting)
	wrongAccount.Account = "333333333333"
	noBuild := record("INTENT")
	noBuild.BuildID = ""
	notAllowed := record(tokenstore.Waiting)
	notAllowed.RoleARN = "arn:aws:iam::222222222222:role/admin"

	cases := []struct {
		name      string
		event     string
		rec       tokenstore.Record
		replies   func(t testing.TB) map[string][]awstest.Reply
		wantOps   []string
		wantState tokenstore.State
		wantErr   any // nil, or a pointer to the error type errors.As must find
	}{
		{"aborted: running build stopped", "event-aborted.json", record(tokenstore.Waiting),
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opGet: inProgress(t), opStop: stopping(t)}
			}, []string{opGet, opStop}, tokenstore.Stopped, nil},
		{"timed out", "event-timed-out.json", record(tokenstore.Waiting),
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opGet: inProgress(t), opStop: stopping(t)}
			}, []string{opGet, opStop}, tokenstore.Stopped, nil},
		{"failed, claimed record", "event-failed.json", record(tokenstore.Claimed),
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opGet: inProgress(t), opStop: stopping(t)}
			}, []string{opGet, opStop}, tokenstore.Stopped, nil},
		{"succeeded execution", "event-succeeded.json", record(tokenstore.Waiting), nil, nil, tokenstore.Waiting, nil},
		{"running execution", "event-running.json", record(tokenstore.Waiting), nil, nil, tokenstore.Waiting, nil},
		{"child execution", "event-child-aborted.json", record(tokenstore.Waiting), nil, nil, tokenstore.Waiting, nil},
		{"another state machine", "event-other-machine.json", record(tokenstore.Waiting), nil, nil, tokenstore.Waiting, nil},
		{"completed record", "event-aborted.json", record(tokenstore.Completed), nil, nil, tokenstore.Completed, nil},
		{"parked record", "event-aborted.json", record(tokenstore.Parked), nil, nil, tokenstore.Parked, nil},
		{"already stopped record", "event-aborted.json", record(tokenstore.Stopped), nil, nil, tokenstore.Stopped, nil},
		{"record of another execution", "event-aborted.json", otherExec, nil, nil, tokenstore.Waiting, nil},
		{"build ARN contradicts the record", "event-aborted.json", wrongAccount, nil, nil, tokenstore.Waiting, nil},
		{"no build recorded yet", "event-aborted.json", noBuild, nil, nil, "INTENT", nil},
		{"build ended before the stop", "event-aborted.json", record(tokenstore.Waiting),
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opGet: {file(t, "batchgetbuilds-succeeded.json")}}
			}, []string{opGet}, tokenstore.Waiting, nil},
		{"stopped earlier, record not closed", "event-aborted.json", record(tokenstore.Waiting),
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opGet: {file(t, "batchgetbuilds-stopped.json")}}
			}, []string{opGet}, tokenstore.Stopped, nil},
		{"build not found", "event-aborted.json", record(tokenstore.Waiting),
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opGet: {file(t, "batchgetbuilds-not-found.json")}}
			}, []string{opGet}, tokenstore.Waiting, nil},
		{"finished between describe and stop", "event-aborted.json", record(tokenstore.Waiting),
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opGet: inProgress(t), opStop: {file(t, "stopbuild-finished.json")}}
			}, []string{opGet, opStop}, tokenstore.Waiting, nil},
		{"stop refused for a finished build", "event-aborted.json", record(tokenstore.Waiting),
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{
					opGet:  {file(t, "batchgetbuilds-in-progress.json"), file(t, "batchgetbuilds-succeeded.json")},
					opStop: {awstest.JSONError(400, "InvalidInputException", "Build is already complete")},
				}
			}, []string{opGet, opStop, opGet}, tokenstore.Waiting, nil},
		{"stop throttled", "event-aborted.json", record(tokenstore.Waiting),
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opGet: inProgress(t), opStop: {awstest.JSONError(400, "ThrottlingException", "Rate exceeded")}}
			}, []string{opGet, opStop}, tokenstore.Waiting, new(*failure.TransientError)},
		{"stop denied", "event-aborted.json", record(tokenstore.Waiting),
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opGet: inProgress(t), opStop: {awstest.JSONError(400, "AccessDeniedException", "no")}}
			}, []string{opGet, opStop, opGet}, tokenstore.Waiting, new(*StopFailed)},
		{"describe fails", "event-aborted.json", record(tokenstore.Waiting),
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opGet: {awstest.JSONError(500, "InternalFailure", "oops")}}
			}, []string{opGet}, tokenstore.Waiting, new(*failure.TransientError)},
		{"role no longer allowed", "event-aborted.json", notAllowed, nil, nil, tokenstore.Waiting, new(*failure.TargetNotAllowed)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var replies map[string][]awstest.Reply
			if tc.replies != nil {
				replies = tc.replies(t)
			}
			srv := awstest.NewServer(t, script(t, replies))
			store := newMemStore(tc.rec)
			roles := &staticRoles{}
			err := newHandler(t, store, roles, srv.URL).Handle(context.Background(), fixture(t, tc.event))
			checkErr(t, err, tc.wantErr)
			var ops []string
			for _, r := range srv.Requests() {
				ops = append(ops, r.Target)
				if string(r.Body) != `{"ids":["`+testBuildID+`"]}` && string(r.Body) != `{"id":"`+testBuildID+`"}` {
					t.Errorf("%s body %s", r.Target, r.Body)
				}
			}
			if !slices.Equal(ops, tc.wantOps) {
				t.Errorf("requests %v, want %v", ops, tc.wantOps)
			}
			if got := store.state(tc.rec.BuildARN); got != tc.wantState {
				t.Errorf("record state %s, want %s", got, tc.wantState)
			}
			for _, s := range roles.sessions {
				if s != "crossbuild-run-1" {
					t.Errorf("session name %q", s)
				}
			}
		})
	}
}

func checkErr(t *testing.T, err error, want any) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("Handle: %v", err)
		}
		return
	}
	if err == nil || !errors.As(err, want) {
		t.Fatalf("error %v (%T), want %T", err, err, want)
	}
}

// TestDuplicateEvent: EventBridge delivers at least once; the second delivery finds the
// record stopped and calls nothing.
func TestDuplicateEvent(t *testing.T) {
	srv := awstest.NewServer(t, script(t, map[string][]awstest.Reply{
		opGet: {file(t, "batchgetbuilds-in-progress.json")}, opStop: {file(t, "stopbuild-stopping.json")},
	}))
	store := newMemStore(record(tokenstore.Waiting))
	h := newHandler(t, store, &staticRoles{}, srv.URL)
	for range 2 {
		if err := h.Handle(context.Background(), fixture(t, "event-aborted.json")); err != nil {
			t.Fatalf("Handle: %v", err)
		}
	}
	if n := len(srv.Requests()); n != 2 {
		t.Fatalf("%d CodeBuild requests over two deliveries, want 2 (one describe, one stop)", n)
	}
	if len(store.stops) != 1 {
		t.Fatalf("stops %v", store.stops)
	}
}

// TestManyBuilds: every open record of the execution is handled, concurrently, and one
// failure does not keep the others from stopping; the error names the failed build.
func TestManyBuilds(t *testing.T) {
	const n = 25
	srv := awstest.NewServer(t, script(t, map[string][]awstest.Reply{
		opGet: {file(t, "batchgetbuilds-in-progress.json")}, opStop: {file(t, "stopbuild-stopping.json")},
	}))
	store := newMemStore()
	for i := range n {
		// Distinct records of the one fixture build: the fake store keys them apart.
		r := record(tokenstore.Waiting)
		r.MapIndex = i
		store.recs[r.BuildARN+"#"+string(rune('a'+i))] = r
	}
	store.stopErr = errors.New("dynamodb unavailable")
	err := newHandler(t, store, &staticRoles{}, srv.URL).Handle(context.Background(), fixture(t, "event-aborted.json"))
	var te *failure.TransientError
	if !errors.As(err, &te) {
		t.Fatalf("error %v, want TransientError", err)
	}
	if len(store.stops) != n {
		t.Fatalf("%d records closed, want %d", len(store.stops), n)
	}
}

func TestListFails(t *testing.T) {
	store := newMemStore()
	store.listErr = errors.New("throttled")
	err := newHandler(t, store, &staticRoles{}, "http://127.0.0.1:1").Handle(context.Background(), fixture(t, "event-aborted.json"))
	var te *failure.TransientError
	if !errors.As(err, &te) {
		t.Fatalf("error %v, want TransientError", err)
	}
}

func TestAssumeRoleFails(t *testing.T) {
	roles := &staticRoles{err: &failure.AssumeRoleFailed{RoleARN: testRole, Err: errors.New("denied")}}
	err := newHandler(t, newMemStore(record(tokenstore.Waiting)), roles, "http://127.0.0.1:1").
		Handle(context.Background(), fixture(t, "event-aborted.json"))
	var sf *StopFailed
	var ar *failure.AssumeRoleFailed
	if !errors.As(err, &sf) || !errors.As(err, &ar) || len(sf.Builds) != 1 || sf.Builds[0] != testfixtures.BuildARN {
		t.Fatalf("error %v, want StopFailed naming the build, wrapping AssumeRoleFailed", err)
	}
}

func TestInvalidEvents(t *testing.T) {
	aborted := string(fixture(t, "event-aborted.json"))
	var ev map[string]any
	if err := json.Unmarshal([]byte(aborted), &ev); err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(map[string]any)) string {
		var c map[string]any
		_ = json.Unmarshal([]byte(aborted), &c)
		f(c)
		raw, _ := json.Marshal(c)
		return string(raw)
	}
	cases := map[string]string{
		"not JSON":          `{`,
		"codebuild event":   string(mustRaw(t, testfixtures.StateSucceeded)),
		"other detail-type": mutate(func(m map[string]any) { m["detail-type"] = "Step Functions Map Run Status Change" }),
		"no execution ARN":  mutate(func(m map[string]any) { delete(m["detail"].(map[string]any), "executionArn") }),
		"detail not object": mutate(func(m map[string]any) { m["detail"] = "x" }),
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			err := newHandler(t, newMemStore(), &staticRoles{}, "http://127.0.0.1:1").Handle(context.Background(), []byte(raw))
			var ie *InvalidEvent
			if !errors.As(err, &ie) {
				t.Fatalf("error %v, want InvalidEvent", err)
			}
		})
	}
}

func mustRaw(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := testfixtures.Raw(name)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// intentOf is the intent the starter left for rec's Map item; withBuild says whether it
// recorded the build.
func intentOf(rec tokenstore.Record, withBuild bool) tokenstore.Intent {
	in := tokenstore.Intent{ExecutionARN: rec.ExecutionARN, MapIndex: rec.MapIndex, Account: rec.Account,
		Region: rec.Region, Project: rec.Project, RoleARN: rec.RoleARN, Attempt: 1}
	if withBuild {
		in.BuildARN, in.BuildID = rec.BuildARN, rec.BuildID
	}
	return in
}

// TestExecutionEndCancelsIntents: every intent of the ended execution is cancelled, so a
// starter in flight starts nothing, and a build an intent holds before its record exists is
// stopped all the same.
func TestExecutionEndCancelsIntents(t *testing.T) {
	srv := awstest.NewServer(t, script(t, map[string][]awstest.Reply{
		opGet: {file(t, "batchgetbuilds-in-progress.json")}, opStop: {file(t, "stopbuild-stopping.json")},
	}))
	store := newMemStore()
	started := record(tokenstore.Waiting)
	store.intents[started.MapIndex] = intentOf(started, true) // build started, record not written yet
	pending := record(tokenstore.Waiting)
	pending.MapIndex = 4
	store.intents[pending.MapIndex] = intentOf(pending, false) // StartBuild not answered yet
	if err := newHandler(t, store, &staticRoles{}, srv.URL).Handle(context.Background(), fixture(t, "event-aborted.json")); err != nil {
		t.Fatal(err)
	}
	for i, in := range store.intents {
		if !in.Cancelled() {
			t.Errorf("intent %d not cancelled", i)
		}
	}
	var stopped int
	for _, r := range srv.Requests() {
		if r.Target == opStop {
			stopped++
		}
	}
	if stopped != 1 || len(store.stops) != 1 || store.stops[0] != started.BuildARN {
		t.Fatalf("StopBuild %d times, records closed %v: want the intent's build stopped once", stopped, store.stops)
	}
}

// TestStopTarget: the state machine's request for one failed target stops that target's
// running build, closes its record and cancels its intent; with nothing started it only
// cancels; a bad request is refused by name.
func TestStopTarget(t *testing.T) {
	req := func(exec string, index any) []byte {
		raw, _ := json.Marshal(map[string]any{"stopTarget": map[string]any{"executionArn": exec, "mapIndex": index}})
		return raw
	}
	t.Run("running build", func(t *testing.T) {
		srv := awstest.NewServer(t, script(t, map[string][]awstest.Reply{
			opGet: {file(t, "batchgetbuilds-in-progress.json")}, opStop: {file(t, "stopbuild-stopping.json")},
		}))
		rec := record(tokenstore.Waiting)
		store := newMemStore(rec)
		store.intents[rec.MapIndex] = intentOf(rec, true)
		if err := newHandler(t, store, &staticRoles{}, srv.URL).Handle(context.Background(), req(testExec, rec.MapIndex)); err != nil {
			t.Fatal(err)
		}
		if store.state(rec.BuildARN) != tokenstore.Stopped || !store.intents[rec.MapIndex].Cancelled() || len(srv.Requests()) != 2 {
			t.Fatalf("record %s, intent %+v, %d CodeBuild requests", store.state(rec.BuildARN), store.intents[rec.MapIndex], len(srv.Requests()))
		}
	})
	t.Run("build already ended", func(t *testing.T) {
		srv := awstest.NewServer(t, script(t, map[string][]awstest.Reply{opGet: {file(t, "batchgetbuilds-succeeded.json")}}))
		rec := record(tokenstore.Completed)
		store := newMemStore(rec)
		store.intents[rec.MapIndex] = intentOf(rec, true)
		if err := newHandler(t, store, &staticRoles{}, srv.URL).Handle(context.Background(), req(testExec, rec.MapIndex)); err != nil {
			t.Fatal(err)
		}
		if store.state(rec.BuildARN) != tokenstore.Completed || len(store.stops) != 0 {
			t.Fatalf("record %s, closed %v: an ended build keeps its record", store.state(rec.BuildARN), store.stops)
		}
	})
	t.Run("nothing started", func(t *testing.T) {
		srv := awstest.NewServer(t, script(t, nil))
		rec := record(tokenstore.Waiting)
		store := newMemStore()
		store.intents[rec.MapIndex] = intentOf(rec, false)
		h := newHandler(t, store, &staticRoles{}, srv.URL)
		if err := h.Handle(context.Background(), req(testExec, rec.MapIndex)); err != nil {
			t.Fatal(err)
		}
		if err := h.Handle(context.Background(), req(testExec, 9)); err != nil {
			t.Fatalf("no intent at all: %v", err)
		}
		if !store.intents[rec.MapIndex].Cancelled() || len(srv.Requests()) != 0 {
			t.Fatalf("intent %+v, %d CodeBuild requests", store.intents[rec.MapIndex], len(srv.Requests()))
		}
	})
	for name, raw := range map[string][]byte{
		"bad execution": req("run-1", 0),
		"no index":      []byte(`{"stopTarget": {"executionArn": "` + testExec + `"}}`),
		"negative":      req(testExec, -1),
		"fraction":      req(testExec, 1.5),
	} {
		t.Run(name, func(t *testing.T) {
			err := newHandler(t, newMemStore(), &staticRoles{}, "http://127.0.0.1:1").Handle(context.Background(), raw)
			var ie *InvalidEvent
			if !errors.As(err, &ie) {
				t.Fatalf("error %v, want InvalidEvent", err)
			}
		})
	}
}
