package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"

	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/outcome"
	"github.com/crossbuild/crossbuild/internal/runtimetest"
	"github.com/crossbuild/crossbuild/internal/target"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

const (
	testBuildID  = "sample-codebuild-project:5d2c1b0a-1111-4222-8333-944455556666"
	testBuildARN = "arn:aws:codebuild:eu-west-1:222222222222:build/" + testBuildID
	testToken    = "AQCEAAAAKgAAAAMAAAAAAAAAAeXampleTokenValue"
)

func requests(t testing.TB) map[string]json.RawMessage {
	t.Helper()
	raw, err := os.ReadFile("testdata/requests.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

type fakeRoles struct {
	err   error
	calls []string
}

func (f *fakeRoles) Credentials(_ context.Context, role, session string) (aws.CredentialsProvider, error) {
	f.calls = append(f.calls, role+"|"+session)
	if f.err != nil {
		return nil, f.err
	}
	return credentials.NewStaticCredentialsProvider("ASIA", "secret", "token"), nil
}

type fakeCodeBuild struct {
	mu      sync.Mutex
	err     error
	inputs  []*codebuild.StartBuildInput
	stopped []string
}

func (f *fakeCodeBuild) ListBuildsForProject(context.Context, *codebuild.ListBuildsForProjectInput, ...func(*codebuild.Options)) (*codebuild.ListBuildsForProjectOutput, error) {
	return &codebuild.ListBuildsForProjectOutput{}, nil
}

func (f *fakeCodeBuild) BatchGetBuilds(context.Context, *codebuild.BatchGetBuildsInput, ...func(*codebuild.Options)) (*codebuild.BatchGetBuildsOutput, error) {
	return &codebuild.BatchGetBuildsOutput{}, nil
}

func (f *fakeCodeBuild) StopBuild(_ context.Context, in *codebuild.StopBuildInput, _ ...func(*codebuild.Options)) (*codebuild.StopBuildOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, aws.ToString(in.Id))
	return &codebuild.StopBuildOutput{}, nil
}

func (f *fakeCodeBuild) StartBuild(_ context.Context, in *codebuild.StartBuildInput, _ ...func(*codebuild.Options)) (*codebuild.StartBuildOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, in)
	if f.err != nil {
		return nil, f.err
	}
	return &codebuild.StartBuildOutput{Build: &cbtypes.Build{Id: aws.String(testBuildID), Arn: aws.String(testBuildARN)}}, nil
}

type fakeStore struct {
	mu        sync.Mutex
	intent    *tokenstore.Intent
	beginErr  error
	recordErr error
	closed    int
	createErr error
	refreshTo *tokenstore.Record // the record RefreshToken returns; nil: WAITING without outcome
	claimErr  error
	claims    []string
	adoptOut  string
	adoptErr  error
	created   []tokenstore.Record
	refreshed []string
	adopted   []tokenstore.Record
}

func (f *fakeStore) Create(_ context.Context, rec tokenstore.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, rec)
	return f.createErr
}

func (f *fakeStore) BeginStart(_ context.Context, want tokenstore.Intent) (tokenstore.Intent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.beginErr != nil {
		return tokenstore.Intent{}, f.beginErr
	}
	if f.intent == nil {
		want.Attempt, want.AttemptAt = 1, time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
		f.intent = &want
	} else if f.intent.BuildARN == "" && f.intent.AttemptAt.IsZero() {
		f.intent.Attempt++
		f.intent.AttemptAt = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	}
	return *f.intent, nil
}

func (f *fakeStore) RecordBuild(_ context.Context, in tokenstore.Intent, arn, id string) (tokenstore.Intent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.recordErr != nil {
		return tokenstore.Intent{}, f.recordErr
	}
	f.intent.BuildARN, f.intent.BuildID, f.intent.AttemptAt = arn, id, time.Time{}
	return *f.intent, nil
}

func (f *fakeStore) CloseAttempt(_ context.Context, in tokenstore.Intent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed++
	if f.intent != nil && f.intent.Attempt == in.Attempt && f.intent.BuildARN == "" {
		f.intent.AttemptAt = time.Time{}
	}
	return nil
}

func (f *fakeStore) RefreshToken(_ context.Context, buildARN, exec string, idx int, token string) (tokenstore.Record, error) {
	f.refreshed = append(f.refreshed, token)
	if f.refreshTo != nil {
		rec := *f.refreshTo
		rec.TaskToken = token
		return rec, nil
	}
	return tokenstore.Record{BuildARN: buildARN, ExecutionARN: exec, MapIndex: idx, TaskToken: token, State: tokenstore.Waiting}, nil
}

func (f *fakeStore) ClaimAs(_ context.Context, buildARN, owner string, _ time.Duration) (tokenstore.Record, error) {
	f.claims = append(f.claims, owner)
	if f.claimErr != nil {
		return tokenstore.Record{}, f.claimErr
	}
	rec := *f.refreshTo
	rec.State, rec.ClaimOwner = tokenstore.Claimed, owner
	if n := len(f.refreshed); n > 0 {
		rec.TaskToken = f.refreshed[n-1]
	}
	return rec, nil
}

func (f *fakeStore) Adopt(_ context.Context, rec tokenstore.Record) (string, tokenstore.Record, error) {
	f.adopted = append(f.adopted, rec)
	rec.State = tokenstore.Claimed
	return f.adoptOut, rec, f.adoptErr
}

type fakeFinisher struct {
	claimed []tokenstore.Record
	builds  []outcome.Build
}

func (f *fakeFinisher) Finish(_ context.Context, rec tokenstore.Record, b outcome.Build, by string) error {
	f.claimed = append(f.claimed, rec)
	f.builds = append(f.builds, b)
	return nil
}

type fixture struct {
	roles    *fakeRoles
	cb       *fakeCodeBuild
	store    *fakeStore
	finisher *fakeFinisher
	h        *Handler
}

func newFixture(t testing.TB, logTo io.Writer) *fixture {
	t.Helper()
	allow, err := target.NewAllowList([]string{"222222222222"}, []string{"eu-west-1"}, []string{"arn:aws:iam::222222222222:role/crossbuild-*"})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{roles: &fakeRoles{}, cb: &fakeCodeBuild{}, store: &fakeStore{}, finisher: &fakeFinisher{}}
	f.h = &Handler{
		Parser:              target.Parser{Mapping: target.DefaultMapping(), ReservedPrefix: "CROSSBUILD_"},
		Allow:               allow,
		Roles:               f.roles,
		CodeBuild:           func(string, aws.CredentialsProvider) CodeBuildAPI { return f.cb },
		Store:               f.store,
		Finisher:            f.finisher,
		Log:                 slog.New(slog.NewJSONHandler(logTo, nil)),
		CorrelationPrefix:   "CROSSBUILD_",
		DefaultPollInterval: 20,
		RecordTTL:           35 * 24 * time.Hour,
		Now:                 func() time.Time { return time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC) },
	}
	return f
}

func envOf(in *codebuild.StartBuildInput) map[string]string {
	m := map[string]string{}
	for _, e := range in.EnvironmentVariablesOverride {
		m[aws.ToString(e.Name)] = aws.ToString(e.Value) + "/" + string(e.Type)
	}
	return m
}

func TestHandleStartsBuild(t *testing.T) {
	cases := []struct {
		request        string
		wantCompletion string
		wantPoll       int
		wantEnv        map[string]string
	}{
		{"event", "event", 20, map[string]string{
			"HARDCODED_VAR1": "I am hardcoded/PLAINTEXT", "SAMPLE_VAR1": "Value1/PLAINTEXT", "SAMPLE_VAR2": "Value2/PLAINTEXT",
			"CROSSBUILD_EXECUTION_ARN": "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1/PLAINTEXT",
			"CROSSBUILD_MAP_INDEX":     "0/PLAINTEXT"}},
		{"poll", "poll", 30, map[string]string{
			"HARDCODED_VAR1":           "I am hardcoded/PLAINTEXT",
			"CROSSBUILD_EXECUTION_ARN": "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1/PLAINTEXT",
			"CROSSBUILD_MAP_INDEX":     "2/PLAINTEXT"}},
	}
	reqs := requests(t)
	for _, tc := range cases {
		t.Run(tc.request, func(t *testing.T) {
			var logs strings.Builder
			f := newFixture(t, &logs)
			d, err := f.h.Handle(context.Background(), reqs[tc.request])
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if d.BuildID != testBuildID || d.BuildARN != testBuildARN || d.Account != "222222222222" ||
				d.Completion != tc.wantCompletion || d.PollIntervalSeconds != tc.wantPoll {
				t.Errorf("descriptor = %+v", d)
			}
			if len(f.cb.inputs) != 1 {
				t.Fatalf("StartBuild calls = %d", len(f.cb.inputs))
			}
			in := f.cb.inputs[0]
			if got := envOf(in); !reflect.DeepEqual(got, tc.wantEnv) {
				t.Errorf("env = %v\nwant %v", got, tc.wantEnv)
			}
			if aws.ToString(in.IdempotencyToken) != IdempotencyToken(d.ExecutionARN, d.MapIndex, 1) || len(aws.ToString(in.IdempotencyToken)) != 64 {
				t.Errorf("idempotency token %q", aws.ToString(in.IdempotencyToken))
			}
			if f.roles.calls[0] != "arn:aws:iam::222222222222:role/crossbuild-target|crossbuild-run-1" {
				t.Errorf("assumed %v", f.roles.calls)
			}
			rec := f.store.created[0]
			if rec.BuildARN != testBuildARN || rec.Completion != tc.wantCompletion || rec.MapIndex != d.MapIndex ||
				!rec.ExpiresAt.Equal(f.h.Now().Add(35*24*time.Hour)) || !reflect.DeepEqual(rec.EnvOverrides, d.EnvOverrides) {
				t.Errorf("record = %+v", rec)
			}
			if (rec.TaskToken != "") != (tc.wantCompletion == "event") {
				t.Errorf("token stored = %v", rec.TaskToken != "")
			}
			// Nothing secret reaches the logs: no token, no env values.
			for _, secret := range []string{testToken, "Value1", "I am hardcoded", "ASIA"} {
				if strings.Contains(logs.String(), secret) {
					t.Errorf("logs contain %q: %s", secret, logs.String())
				}
			}
		})
	}
}

func TestHandleRejectsBeforeAnyCall(t *testing.T) {
	cases := []struct{ request, errType, field string }{
		{"invalid-target", "InvalidTarget", "region"},
		{"not-allowed", "TargetNotAllowed", "account"},
		{"bad-execution-arn", "InvalidTarget", "executionArn"},
		{"missing-map-index", "InvalidTarget", "mapIndex"},
		{"unknown-field", "InvalidTarget", "starter request"},
		{"map-index-string", "InvalidTarget", "starter request"},
		{"timeout-beyond-record", "InvalidTarget", "timeoutSeconds"},
	}
	reqs := requests(t)
	for _, tc := range cases {
		t.Run(tc.request, func(t *testing.T) {
			f := newFixture(t, io.Discard)
			_, err := f.h.Handle(context.Background(), reqs[tc.request])
			if got := runtimetest.ErrorName(err); got != tc.errType {
				t.Fatalf("error type %q (%v), want %q", got, err, tc.errType)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name %q", err, tc.field)
			}
			if len(f.roles.calls)+len(f.cb.inputs)+len(f.store.created) != 0 {
				t.Errorf("AWS was called: roles %d, builds %d, records %d", len(f.roles.calls), len(f.cb.inputs), len(f.store.created))
			}
		})
	}
	f := newFixture(t, io.Discard)
	for _, raw := range []string{``, `null`, `[]`, `{"target": 5}`, `{}{}`} {
		if _, err := f.h.Handle(context.Background(), json.RawMessage(raw)); runtimetest.ErrorName(err) != "InvalidTarget" {
			t.Errorf("payload %q: %v", raw, err)
		}
	}
}

func TestHandleClassifiesFailures(t *testing.T) {
	cases := []struct {
		name     string
		rolesErr error
		cbErr    error
		storeErr error
		errType  string
	}{
		{"assume role refused", &failure.AssumeRoleFailed{RoleARN: "r", Err: errors.New("AccessDenied")}, nil, nil, "AssumeRoleFailed"},
		{"project missing", nil, &cbtypes.ResourceNotFoundException{Message: aws.String("no project")}, nil, "StartBuildFailed"},
		{"invalid input", nil, &cbtypes.InvalidInputException{Message: aws.String("bad")}, nil, "StartBuildFailed"},
		{"account limit", nil, &cbtypes.AccountLimitExceededException{Message: aws.String("limit")}, nil, "BuildQuotaExceeded"},
		{"store down", nil, nil, errors.New("connection reset"), "TransientError"},
	}
	reqs := requests(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, io.Discard)
			f.roles.err, f.cb.err, f.store.createErr = tc.rolesErr, tc.cbErr, tc.storeErr
			_, err := f.h.Handle(context.Background(), reqs["event"])
			if got := runtimetest.ErrorName(err); got != tc.errType {
				t.Fatalf("error type %q (%v), want %q", got, err, tc.errType)
			}
		})
	}
}

func TestHandleRetriedInvocation(t *testing.T) {
	reqs := requests(t)
	cases := []struct {
		name        string
		existing    tokenstore.Record
		wantRefresh bool
		wantErr     string
	}{
		{"same execution, new token", tokenstore.Record{ExecutionARN: "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1", MapIndex: 0, State: tokenstore.Waiting, TaskToken: "older"}, true, ""},
		{"same execution, same token", tokenstore.Record{ExecutionARN: "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1", MapIndex: 0, State: tokenstore.Waiting, TaskToken: testToken}, false, ""},
		{"already completed", tokenstore.Record{ExecutionARN: "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1", MapIndex: 0, State: tokenstore.Completed}, false, ""},
		{"another execution's build", tokenstore.Record{ExecutionARN: "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:other", MapIndex: 0, State: tokenstore.Waiting}, false, "StartBuildFailed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, io.Discard)
			f.store.createErr = &tokenstore.ExistsError{Existing: tc.existing}
			_, err := f.h.Handle(context.Background(), reqs["event"])
			if got := runtimetest.ErrorName(err); got != tc.wantErr {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if got := len(f.store.refreshed) == 1; got != tc.wantRefresh {
				t.Errorf("refreshed = %v", f.store.refreshed)
			}
		})
	}
}

// A terminal event that overtook the record was parked by the callback; the starter must
// complete the task itself.
func TestHandleAdoptsParkedOutcome(t *testing.T) {
	parked := outcome.Build{ARN: testBuildARN, ID: testBuildID, Project: "sample-codebuild-project",
		Account: "222222222222", Region: "eu-west-1", Status: outcome.StatusFailed, FailedPhase: "PROVISIONING"}
	raw, _ := json.Marshal(parked)
	f := newFixture(t, io.Discard)
	f.store.createErr = &tokenstore.ExistsError{Existing: tokenstore.Record{BuildARN: testBuildARN, State: tokenstore.Parked}}
	f.store.adoptOut = string(raw)
	if _, err := f.h.Handle(context.Background(), requests(t)["event"]); err != nil {
		t.Fatal(err)
	}
	if len(f.store.adopted) != 1 || f.store.adopted[0].TaskToken != testToken {
		t.Fatalf("adopted %+v", f.store.adopted)
	}
	if len(f.finisher.builds) != 1 || !reflect.DeepEqual(f.finisher.builds[0], parked) || f.finisher.claimed[0].TaskToken != testToken {
		t.Fatalf("finished %+v", f.finisher.builds)
	}
}

func BenchmarkHandle(b *testing.B) {
	f := newFixture(b, io.Discard)
	req := requests(b)["event"]
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.h.Handle(ctx, req); err != nil {
			b.Fatal(err)
		}
		f.cb.inputs, f.store.created, f.store.intent = f.cb.inputs[:0], f.store.created[:0], nil
		f.roles.calls = f.roles.calls[:0]
	}
}

// A retried invocation whose record already holds a terminal outcome (a send to the old
// token was refused) completes the task with its own, new token; under someone else's
// claim it only refreshes the token, which that claimant sends with.
func TestRetriedInvocationSendsKnownOutcome(t *testing.T) {
	known := outcome.Build{ARN: testBuildARN, ID: testBuildID, Project: "sample-codebuild-project",
		Account: "222222222222", Region: "eu-west-1", Status: outcome.StatusSucceeded}
	raw, _ := json.Marshal(known)
	exec := "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1"
	cases := []struct {
		name      string
		after     tokenstore.Record // the record as the refresh leaves it
		wantSends int
	}{
		{"waiting with an outcome", tokenstore.Record{BuildARN: testBuildARN, ExecutionARN: exec, State: tokenstore.Waiting, Outcome: string(raw)}, 1},
		{"claimed by a sender", tokenstore.Record{BuildARN: testBuildARN, ExecutionARN: exec, State: tokenstore.Claimed, Outcome: string(raw)}, 0},
		{"waiting, build still running", tokenstore.Record{BuildARN: testBuildARN, ExecutionARN: exec, State: tokenstore.Waiting}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, io.Discard)
			old := tc.after
			old.TaskToken = "older"
			f.store.createErr = &tokenstore.ExistsError{Existing: old}
			f.store.refreshTo = &tc.after
			if _, err := f.h.Handle(context.Background(), requests(t)["event"]); err != nil {
				t.Fatal(err)
			}
			if len(f.store.refreshed) != 1 || f.store.refreshed[0] != testToken {
				t.Fatalf("refreshed %v", f.store.refreshed)
			}
			if len(f.finisher.builds) != tc.wantSends {
				t.Fatalf("sent %d times, want %d", len(f.finisher.builds), tc.wantSends)
			}
			if tc.wantSends == 1 && (f.finisher.claimed[0].TaskToken != testToken || !reflect.DeepEqual(f.finisher.builds[0], known)) {
				t.Fatalf("sent %+v with %+v", f.finisher.builds[0], f.finisher.claimed[0])
			}
		})
	}
}
