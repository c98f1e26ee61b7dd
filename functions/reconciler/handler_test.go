package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/crossbuild/crossbuild/internal/awstest"
	"github.com/crossbuild/crossbuild/internal/completion"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/metrics"
	"github.com/crossbuild/crossbuild/internal/outcome"
	"github.com/crossbuild/crossbuild/internal/target"
	"github.com/crossbuild/crossbuild/internal/testfixtures"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

const (
	testSM      = "arn:aws:states:eu-west-1:111111111111:stateMachine:crossbuild"
	testExec    = "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1"
	testBuildID = "sample-codebuild-project:0f8c3b4e-7d2a-4c1b-9e55-2a6d1f3c8b90"
	testRole    = "arn:aws:iam::222222222222:role/crossbuild-target"
	testToken   = "AQBtoken-of-the-waiting-task"

	opGet      = "CodeBuild_20161006.BatchGetBuilds"
	opStop     = "CodeBuild_20161006.StopBuild"
	opDescribe = "AWSStepFunctions.DescribeExecution"
	opSuccess  = "AWSStepFunctions.SendTaskSuccess"
	opFailure  = "AWSStepFunctions.SendTaskFailure"

	after = 10 * time.Minute
	lease = time.Minute
)

// testNow is the time of every run; records were created well before it.
var testNow = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func record(state tokenstore.State) tokenstore.Record {
	return tokenstore.Record{
		BuildARN: testfixtures.BuildARN, BuildID: testBuildID, TaskToken: testToken, ExecutionARN: testExec, MapIndex: 3,
		Account: "222222222222", Region: "eu-west-1", Project: "sample-codebuild-project", RoleARN: testRole,
		Completion: "event", EnvOverrides: []string{"SAMPLE_VAR1"}, State: state, CreatedAt: testNow.Add(-time.Hour),
	}
}

// memStore keeps records by build ARN and applies each transition as the table's
// conditions do.
type memStore struct {
	mu      sync.Mutex
	recs    map[string]tokenstore.Record
	listErr error
	claims  []string // owners of successful claims
}

func newMemStore(recs ...tokenstore.Record) *memStore {
	s := &memStore{recs: map[string]tokenstore.Record{}}
	for _, r := range recs {
		s.recs[r.BuildARN] = r
	}
	return s
}

func (s *memStore) ListOpen(_ context.Context, before time.Time, limit int) ([]tokenstore.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listErr != nil {
		return nil, s.listErr
	}
	var out []tokenstore.Record
	for _, r := range s.recs {
		if (r.State == tokenstore.Waiting || r.State == tokenstore.Claimed) && r.CreatedAt.Before(before) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b tokenstore.Record) int { return strings.Compare(a.BuildARN, b.BuildARN) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s *memStore) ClaimAs(_ context.Context, arn, owner string, lease time.Duration) (tokenstore.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[arn]
	switch {
	case !ok:
		return r, &tokenstore.NotFoundError{Key: arn}
	case r.State == tokenstore.Waiting, r.State == tokenstore.Claimed && r.ClaimedAt.Before(testNow.Add(-lease)):
	default:
		return r, &tokenstore.ConflictError{BuildARN: arn, Op: "claim", State: r.State}
	}
	r.State, r.ClaimedAt, r.ClaimOwner = tokenstore.Claimed, testNow, owner
	s.recs[arn] = r
	s.claims = append(s.claims, owner)
	return r, nil
}

func (s *memStore) Release(_ context.Context, rec tokenstore.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.recs[rec.BuildARN]
	if r.State != tokenstore.Claimed || r.ClaimOwner != rec.ClaimOwner {
		return &tokenstore.ConflictError{BuildARN: rec.BuildARN, Op: "release", State: r.State}
	}
	r.State, r.ClaimedAt = tokenstore.Waiting, time.Time{}
	if rec.Outcome != "" {
		r.Outcome = rec.Outcome // a refused send keeps the outcome for the next claimant
	}
	s.recs[rec.BuildARN] = r
	return nil
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

func (s *memStore) Stop(_ context.Context, arn, exec string) (tokenstore.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
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

func (s *memStore) get(arn string) tokenstore.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recs[arn]
}

type staticRoles struct {
	mu       sync.Mutex
	err      error
	sessions []string
	roles    []string
}

func (s *staticRoles) Credentials(_ context.Context, role, session string) (aws.CredentialsProvider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions = append(s.sessions, session)
	s.roles = append(s.roles, role)
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

func file(t testing.TB, name string) awstest.Reply {
	return awstest.JSON(200, string(fixture(t, name)))
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
			t.Errorf("unexpected request %s %s", r.Target, r.Body)
			return awstest.JSONError(400, "UnexpectedRequest", r.Target)
		}
		i := min(next[r.Target], len(rs)-1)
		next[r.Target]++
		return rs[i]
	}
}

// world is one handler over a memStore, with the real completer, the real SDK clients
// against one scripted server (CodeBuild and Step Functions), and its metrics.
type world struct {
	h       *Handler
	store   *memStore
	roles   *staticRoles
	srv     *awstest.Server
	metrics *bytes.Buffer
	mu      sync.Mutex
}

func newWorld(t testing.TB, store *memStore, replies map[string][]awstest.Reply) *world {
	t.Helper()
	allow, err := target.NewAllowList([]string{"222222222222"}, []string{"eu-west-1"}, []string{"arn:aws:iam::222222222222:role/crossbuild-*"})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{store: store, roles: &staticRoles{}, metrics: &bytes.Buffer{}}
	w.srv = awstest.NewServer(t, script(t, replies))
	cfg := awstest.Config(w.srv.URL, 1)
	sfnClient := sfn.NewFromConfig(cfg)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	rec := metrics.New(syncWriter{w}, "reconciler")
	w.h = &Handler{
		Store:    store,
		Finisher: &completion.Completer{SFN: SendRecorder{sfnClient}, Store: store, Log: log, Metrics: rec},
		SFN:      sfnClient,
		Roles:    w.roles,
		CodeBuild: func(region string, creds aws.CredentialsProvider) CodeBuildAPI {
			return codebuild.NewFromConfig(cfg, func(o *codebuild.Options) {
				o.Region = region
				o.Credentials = creds
			})
		},
		Allow: allow, StateMachineARN: testSM, After: after, Lease: lease, Limit: 100, Concurrency: 4,
		Margin: 5 * time.Second, Log: log, Metrics: rec, Now: func() time.Time { return testNow },
	}
	return w
}

type syncWriter struct{ w *world }

func (s syncWriter) Write(p []byte) (int, error) {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	return s.w.metrics.Write(p)
}

// count returns how often the named metric was emitted.
func (w *world) count(name string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, line := range strings.Split(w.metrics.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m[name] != nil {
			n++
		}
	}
	return n
}

func (w *world) ops() []string {
	var ops []string
	for _, r := range w.srv.Requests() {
		ops = append(ops, r.Target)
	}
	return ops
}

// body returns the body of the first request of an operation.
func (w *world) body(t *testing.T, op string) map[string]any {
	t.Helper()
	for _, r := range w.srv.Requests() {
		if r.Target == op {
			var m map[string]any
			if err := json.Unmarshal(r.Body, &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("no %s request", op)
	return nil
}

func (w *world) run(t testing.TB) (Summary, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return w.h.Handle(ctx, fixture(t, "scheduled-event.json"))
}

func keptOutcome(t testing.TB, status string) string {
	raw, err := json.Marshal(outcome.Build{ARN: testfixtures.BuildARN, ID: testBuildID, Project: "sample-codebuild-project",
		Account: "222222222222", Region: "eu-west-1", Status: status})
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestHandle(t *testing.T) {
	withOutcome := record(tokenstore.Waiting)
	withOutcome.Outcome = keptOutcome(t, "SUCCEEDED")
	pollMode := record(tokenstore.Waiting)
	pollMode.TaskToken, pollMode.Completion = "", "poll"
	fresh := record(tokenstore.Claimed)
	fresh.ClaimedAt, fresh.ClaimOwner = testNow.Add(-10*time.Second), "callback-1"
	stale := record(tokenstore.Claimed)
	stale.ClaimedAt, stale.ClaimOwner = testNow.Add(-5*time.Minute), "callback-died"
	young := record(tokenstore.Waiting)
	young.CreatedAt = testNow.Add(-time.Minute)
	otherMachine := record(tokenstore.Waiting)
	otherMachine.ExecutionARN = "arn:aws:states:eu-west-1:111111111111:execution:other:run-1"
	notAllowed := record(tokenstore.Waiting)
	notAllowed.RoleARN = "arn:aws:iam::222222222222:role/admin"
	wrongAccount := record(tokenstore.Waiting)
	wrongAccount.Account = "333333333333"

	running := func(t testing.TB) []awstest.Reply { return []awstest.Reply{file(t, "describeexecution-running.json")} }
	aborted := func(t testing.TB) []awstest.Reply { return []awstest.Reply{file(t, "describeexecution-aborted.json")} }
	succeeded := func(t testing.TB) []awstest.Reply { return []awstest.Reply{file(t, "batchgetbuilds-succeeded.json")} }
	inProgress := func(t testing.TB) []awstest.Reply { return []awstest.Reply{file(t, "batchgetbuilds-in-progress.json")} }
	sent := []awstest.Reply{awstest.JSON(200, `{}`)}

	cases := []struct {
		name        string
		rec         tokenstore.Record
		replies     func(t testing.TB) map[string][]awstest.Reply
		wantOps     []string
		wantState   tokenstore.State
		wantBy      string
		wantMetrics map[string]int
		wantErr     any // nil, or a pointer to the error type errors.As must find
	}{
		{"lost success delivered", record(tokenstore.Waiting),
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opGet: succeeded(t), opDescribe: running(t), opSuccess: sent}
			}, []string{opGet, opDescribe, opSuccess}, tokenstore.Completed, "reconciler",
			map[string]int{metrics.RecordsReconciled: 1, metrics.TaskCompleted: 1}, nil},
		{"lost failure delivered", record(tokenstore.Waiting),
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opGet: {file(t, "batchgetbuilds-failed.json")}, opDescribe: running(t), opFailure: sent}
			}, []string{opGet, opDescribe, opFailure}, tokenstore.Completed, "reconciler",
			map[string]int{metrics.RecordsReconciled: 1}, nil},
		{"build still running", record(tokenstore.Waiting),
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opGet: inProgress(t), opDescribe: running(t)}
			}, []string{opGet, opDescribe}, tokenstore.Waiting, "", map[string]int{metrics.RecordsReconciled: 0}, nil},
		{"running build of an aborted execution stopped", record(tokenstore.Waiting),
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opGet: inProgress(t), opDescribe: aborted(t), opStop: {file(t, "stopbuild-stopping.json")}}
			}, []string{opGet, opDescribe, opGet, opStop}, tokenstore.Stopped, "",
			map[string]int{metrics.BuildStopped: 1, metrics.RecordsClosed: 1, metrics.RecordsReconciled: 0}, nil},
		{"ended build of an aborted execution: record closed, nothing sent", record(tokenstore.Waiting),
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opGet: succeeded(t), opDescribe: aborted(t)}
			}, []string{opGet, opDescribe}, tokenstore.Stopped, "", map[string]int{metrics.RecordsClosed: 1}, nil},
		{"build not found", record(tokenstore.Waiting),
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opGet: {file(t, "batchgetbuilds-not-found.json")}}
			}, []string{opGet}, tokenstore.Waiting, "", map[string]int{metrics.ReconcileBuildNotFound: 1}, nil},
		{"outcome on the record: CodeBuild not asked", withOutcome,
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opDescribe: running(t), opSuccess: sent}
			}, []string{opDescribe, opSuccess}, tokenstore.Completed, "reconciler", map[string]int{metrics.RecordsReconciled: 1}, nil},
		{"outcome on the record, execution ended: closed", withOutcome,
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opDescribe: aborted(t)}
			}, []string{opDescribe}, tokenstore.Stopped, "", map[string]int{metrics.RecordsClosed: 1}, nil},
		{"task already closed: settled, not counted as recovered", record(tokenstore.Waiting),
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opGet: succeeded(t), opDescribe: running(t),
					opSuccess: {awstest.JSONError(400, "TaskTimedOut", "Task Timed Out")}}
			}, []string{opGet, opDescribe, opSuccess}, tokenstore.Waiting, "", map[string]int{metrics.RecordsReconciled: 0, metrics.TaskAlreadyClosed: 1}, nil},
		{"send throttled: released for the next run", record(tokenstore.Waiting),
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opGet: succeeded(t), opDescribe: running(t),
					opSuccess: {awstest.JSONError(400, "ThrottlingException", "Rate exceeded")}}
			}, []string{opGet, opDescribe, opSuccess}, tokenstore.Waiting, "", map[string]int{metrics.ReconcileFailed: 1, metrics.SendFailed: 1}, nil},
		{"describe execution throttled: delivered anyway", record(tokenstore.Waiting),
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opGet: succeeded(t), opDescribe: {awstest.JSONError(400, "ThrottlingException", "Rate exceeded")}, opSuccess: sent}
			}, []string{opGet, opDescribe, opSuccess}, tokenstore.Completed, "reconciler", map[string]int{metrics.RecordsReconciled: 1}, nil},
		{"describe builds fails", record(tokenstore.Waiting),
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opGet: {awstest.JSONError(400, "AccessDeniedException", "no")}}
			}, []string{opGet}, tokenstore.Waiting, "", map[string]int{metrics.ReconcileFailed: 1}, new(*RunFailed)},
		{"stale claim taken over", stale,
			func(t testing.TB) map[string][]awstest.Reply {
				return map[string][]awstest.Reply{opGet: succeeded(t), opDescribe: running(t), opSuccess: sent}
			}, []string{opGet, opDescribe, opSuccess}, tokenstore.Completed, "reconciler", map[string]int{metrics.RecordsReconciled: 1}, nil},
		{"fresh claim left to its owner", fresh, nil, nil, tokenstore.Claimed, "", nil, nil},
		{"poll mode left to the poller", pollMode, nil, nil, tokenstore.Waiting, "", nil, nil},
		{"younger than the threshold", young, nil, nil, tokenstore.Waiting, "", nil, nil},
		{"execution of another state machine", otherMachine, nil, nil, tokenstore.Waiting, "", nil, nil},
		{"build ARN contradicts the record", wrongAccount, nil, nil, tokenstore.Waiting, "", nil, nil},
		{"role no longer allowed", notAllowed, nil, nil, tokenstore.Waiting, "", map[string]int{metrics.ReconcileFailed: 1}, new(*RunFailed)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var replies map[string][]awstest.Reply
			if tc.replies != nil {
				replies = tc.replies(t)
			}
			w := newWorld(t, newMemStore(tc.rec), replies)
			_, err := w.run(t)
			checkErr(t, err, tc.wantErr)
			if got := w.ops(); !slices.Equal(got, tc.wantOps) {
				t.Errorf("requests %v, want %v", got, tc.wantOps)
			}
			got := w.store.get(tc.rec.BuildARN)
			if got.State != tc.wantState || got.CompletedBy != tc.wantBy {
				t.Errorf("record %s by %q, want %s by %q", got.State, got.CompletedBy, tc.wantState, tc.wantBy)
			}
			for name, n := range tc.wantMetrics {
				if c := w.count(name); c != n {
					t.Errorf("metric %s emitted %d times, want %d", name, c, n)
				}
			}
			for _, s := range w.roles.sessions {
				if s != "crossbuild-reconciler" {
					t.Errorf("session name %q", s)
				}
			}
			if slices.Contains(tc.wantOps, opSuccess) {
				out := w.body(t, opSuccess)
				var res outcome.Result
				if out["taskToken"] != testToken || json.Unmarshal([]byte(out["output"].(string)), &res) != nil {
					t.Fatalf("SendTaskSuccess body %v", out)
				}
				if res.CompletedBy != "reconciler" || res.BuildARN != testfixtures.BuildARN || res.Status != "SUCCEEDED" {
					t.Errorf("result %+v", res)
				}
			}
			if slices.Contains(tc.wantOps, opFailure) {
				if out := w.body(t, opFailure); out["error"] != "CodeBuild.FAILED" {
					t.Errorf("SendTaskFailure body %v", out)
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

// buildsReply answers BatchGetBuilds with a SUCCEEDED build for every id asked, whose ARN
// arnOf gives.
func buildsReply(r awstest.Request, arnOf map[string]string) awstest.Reply {
	var in struct{ Ids []string }
	_ = json.Unmarshal(r.Body, &in)
	var bs []string
	for _, id := range in.Ids {
		bs = append(bs, `{"id":"`+id+`","arn":"`+arnOf[id]+`","buildStatus":"SUCCEEDED"}`)
	}
	return awstest.JSON(200, `{"builds":[`+strings.Join(bs, ",")+`],"buildsNotFound":[]}`)
}

// TestBatches: builds are described at most 100 at a time, one batch sequence per role and
// Region, with one session per role; one DescribeExecution serves all records of an
// execution.
func TestBatches(t *testing.T) {
	store := newMemStore()
	arnOf := map[string]string{}
	add := func(i int, account, region string) {
		id := fmt.Sprintf("sample-codebuild-project:%08d-7d2a-4c1b-9e55-2a6d1f3c8b90", i)
		r := record(tokenstore.Waiting)
		r.BuildARN = "arn:aws:codebuild:" + region + ":" + account + ":build/" + id
		r.BuildID, r.Account, r.Region, r.MapIndex = id, account, region, i
		r.RoleARN = "arn:aws:iam::" + account + ":role/crossbuild-target"
		r.TaskToken = fmt.Sprintf("token-%d", i)
		store.recs[r.BuildARN] = r
		arnOf[id] = r.BuildARN
	}
	for i := range 250 {
		add(i, "222222222222", "eu-west-1")
	}
	for i := 250; i < 260; i++ {
		add(i, "333333333333", "us-east-1")
	}
	w := newWorld(t, store, nil)
	allow, err := target.NewAllowList([]string{"222222222222", "333333333333"}, []string{"eu-west-1", "us-east-1"},
		[]string{"arn:aws:iam::*:role/crossbuild-*"})
	if err != nil {
		t.Fatal(err)
	}
	w.h.Allow, w.h.Limit = allow, 1000
	var mu sync.Mutex
	batchOf := map[string]int{} // size of each batch by its first id: a retried request counts once
	srv := awstest.NewServer(t, func(r awstest.Request) awstest.Reply {
		switch r.Target {
		case opGet:
			var in struct{ Ids []string }
			_ = json.Unmarshal(r.Body, &in)
			mu.Lock()
			batchOf[in.Ids[0]] = len(in.Ids)
			mu.Unlock()
			return buildsReply(r, arnOf)
		case opDescribe:
			return file(t, "describeexecution-running.json")
		case opSuccess:
			return awstest.JSON(200, `{}`)
		}
		t.Errorf("unexpected %s", r.Target)
		return awstest.JSONError(400, "Unexpected", r.Target)
	})
	w.srv = srv
	// Three attempts: under the race detector the SDK's write of a large request to the test
	// server now and then fails with EOF after the answer came, which a retry absorbs.
	cfg := awstest.Config(srv.URL, 3)
	sfnClient := sfn.NewFromConfig(cfg)
	w.h.SFN = sfnClient
	w.h.Finisher.(*completion.Completer).SFN = SendRecorder{sfnClient}
	w.h.CodeBuild = func(region string, creds aws.CredentialsProvider) CodeBuildAPI {
		return codebuild.NewFromConfig(cfg, func(o *codebuild.Options) { o.Region = region; o.Credentials = creds })
	}

	sum, err := w.run(t)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	batches := slices.Sorted(maps.Values(batchOf))
	if !slices.Equal(batches, []int{10, 50, 100, 100}) {
		t.Errorf("batch sizes %v, want 100, 100, 50 for one role and 10 for the other", batches)
	}
	if len(w.roles.sessions) != 2 {
		t.Errorf("%d role sessions, want one per role: %v", len(w.roles.roles), w.roles.roles)
	}
	if n := countOps(w.ops(), opDescribe); n != 1 {
		t.Errorf("%d DescribeExecution calls for one execution, want 1", n)
	}
	if sum.Reconciled != 260 || w.count(metrics.RecordsReconciled) != 260 || sum.Listed != 260 || sum.Truncated {
		t.Errorf("summary %+v", sum)
	}
}

func countOps(ops []string, op string) int {
	n := 0
	for _, o := range ops {
		if o == op {
			n++
		}
	}
	return n
}

// TestBounds: a run handles at most Limit records and says there may be more; a run whose
// deadline is near takes on nothing.
func TestBounds(t *testing.T) {
	many := func() *memStore {
		s := newMemStore()
		for i := range 5 {
			r := record(tokenstore.Waiting)
			r.TaskToken = "" // poll mode: listed, then left alone
			r.BuildARN += fmt.Sprint(i)
			s.recs[r.BuildARN] = r
		}
		return s
	}
	w := newWorld(t, many(), nil)
	w.h.Limit = 3
	sum, err := w.run(t)
	if err != nil || sum.Listed != 3 || !sum.Truncated || w.count(metrics.ReconcileTruncated) != 1 {
		t.Fatalf("limited run: %+v, %v", sum, err)
	}

	w = newWorld(t, newMemStore(record(tokenstore.Waiting)), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	w.h.Margin = time.Minute // the deadline is already within the margin
	sum, err = w.h.Handle(ctx, fixture(t, "scheduled-event.json"))
	if err != nil || !sum.Truncated || len(w.ops()) != 0 {
		t.Fatalf("run past its deadline: %+v, %v, requests %v", sum, err, w.ops())
	}
}

func TestListFails(t *testing.T) {
	store := newMemStore()
	store.listErr = errors.New("throttled")
	_, err := newWorld(t, store, nil).run(t)
	var te *failure.TransientError
	if !errors.As(err, &te) {
		t.Fatalf("error %v, want TransientError", err)
	}
}

func TestAssumeRoleFails(t *testing.T) {
	w := newWorld(t, newMemStore(record(tokenstore.Waiting)), nil)
	w.roles.err = &failure.AssumeRoleFailed{RoleARN: testRole, Err: errors.New("denied")}
	sum, err := w.run(t)
	var rf *RunFailed
	var ar *failure.AssumeRoleFailed
	if !errors.As(err, &rf) || !errors.As(err, &ar) || rf.Failed != 1 || sum.Failed != 1 {
		t.Fatalf("error %v, summary %+v: want RunFailed wrapping AssumeRoleFailed", err, sum)
	}
	if w.store.get(testfixtures.BuildARN).State != tokenstore.Waiting {
		t.Fatal("record changed")
	}
}

func TestInvalidEvent(t *testing.T) {
	_, err := newWorld(t, newMemStore(), nil).h.Handle(context.Background(), []byte(`[`))
	var ie *InvalidEvent
	if !errors.As(err, &ie) {
		t.Fatalf("error %v, want InvalidEvent", err)
	}
	// An operator's manual run.
	if _, err := newWorld(t, newMemStore(), nil).h.Handle(context.Background(), []byte(`{}`)); err != nil {
		t.Fatalf("manual run: %v", err)
	}
}

// TestIdempotent: a second run over the same records changes nothing and sends nothing.
func TestIdempotent(t *testing.T) {
	w := newWorld(t, newMemStore(record(tokenstore.Waiting)), map[string][]awstest.Reply{
		opGet: {file(t, "batchgetbuilds-succeeded.json")}, opDescribe: {file(t, "describeexecution-running.json")},
		opSuccess: {awstest.JSON(200, `{}`)},
	})
	for range 2 {
		if _, err := w.run(t); err != nil {
			t.Fatal(err)
		}
	}
	if n := countOps(w.ops(), opSuccess); n != 1 {
		t.Fatalf("%d sends over two runs, want 1", n)
	}
}
