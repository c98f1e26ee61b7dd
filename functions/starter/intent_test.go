package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"

	"github.com/crossbuild/crossbuild/infra/statemachine"
	"github.com/crossbuild/crossbuild/internal/dynalitetest"
	"github.com/crossbuild/crossbuild/internal/runtimetest"
	"github.com/crossbuild/crossbuild/internal/testclock"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

// tokenCodeBuild behaves like CodeBuild where it matters here: a StartBuild idempotency
// token returns the build it started for five minutes, and no longer.
type tokenCodeBuild struct {
	clock   *testclock.Clock
	mu      sync.Mutex
	builds  []cbtypes.Build
	tokens  map[string]int // token -> index in builds
	refuse  int            // refuse this many StartBuild calls with AccountLimitExceeded
	stopped []string
	lists   int
}

func (f *tokenCodeBuild) StartBuild(_ context.Context, in *codebuild.StartBuildInput, _ ...func(*codebuild.Options)) (*codebuild.StartBuildOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clock.Now()
	if f.refuse > 0 {
		f.refuse--
		return nil, &cbtypes.AccountLimitExceededException{Message: aws.String("concurrent build limit")}
	}
	tok := aws.ToString(in.IdempotencyToken)
	if i, ok := f.tokens[tok]; ok && now.Sub(*f.builds[i].StartTime) < 5*time.Minute {
		return &codebuild.StartBuildOutput{Build: &f.builds[i]}, nil
	}
	id := fmt.Sprintf("sample-codebuild-project:build-%d", len(f.builds)+1)
	start := now
	f.builds = append(f.builds, cbtypes.Build{
		Id: aws.String(id), Arn: aws.String("arn:aws:codebuild:eu-west-1:222222222222:build/" + id),
		StartTime: &start, BuildStatus: cbtypes.StatusTypeInProgress,
		Environment: &cbtypes.ProjectEnvironment{EnvironmentVariables: in.EnvironmentVariablesOverride},
	})
	f.tokens[tok] = len(f.builds) - 1
	return &codebuild.StartBuildOutput{Build: &f.builds[len(f.builds)-1]}, nil
}

func (f *tokenCodeBuild) ListBuildsForProject(_ context.Context, in *codebuild.ListBuildsForProjectInput, _ ...func(*codebuild.Options)) (*codebuild.ListBuildsForProjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	var ids []string
	for i := len(f.builds) - 1; i >= 0; i-- {
		ids = append(ids, aws.ToString(f.builds[i].Id))
	}
	return &codebuild.ListBuildsForProjectOutput{Ids: ids}, nil
}

func (f *tokenCodeBuild) BatchGetBuilds(_ context.Context, in *codebuild.BatchGetBuildsInput, _ ...func(*codebuild.Options)) (*codebuild.BatchGetBuildsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &codebuild.BatchGetBuildsOutput{}
	for _, b := range f.builds {
		if slices.Contains(in.Ids, aws.ToString(b.Id)) {
			out.Builds = append(out.Builds, b)
		}
	}
	return out, nil
}

func (f *tokenCodeBuild) StopBuild(_ context.Context, in *codebuild.StopBuildInput, _ ...func(*codebuild.Options)) (*codebuild.StopBuildOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, aws.ToString(in.Id))
	return &codebuild.StopBuildOutput{}, nil
}

// faultyStore is the real token store with injected outages.
type faultyStore struct {
	*tokenstore.Store
	clock           *testclock.Clock
	failCreateUntil time.Time // Create fails before this time
	failRecord      int       // RecordBuild fails this many times (the starter died before its write)
}

func (s *faultyStore) Create(ctx context.Context, rec tokenstore.Record) error {
	if s.clock.Now().Before(s.failCreateUntil) {
		return errors.New("connection reset by peer")
	}
	return s.Store.Create(ctx, rec)
}

func (s *faultyStore) RecordBuild(ctx context.Context, in tokenstore.Intent, arn, id string) (tokenstore.Intent, error) {
	if s.failRecord > 0 {
		s.failRecord--
		return tokenstore.Intent{}, errors.New("connection reset by peer")
	}
	return s.Store.RecordBuild(ctx, in, arn, id)
}

type intentRig struct {
	clock *testclock.Clock
	cb    *tokenCodeBuild
	store *faultyStore
	f     *fixture
}

func newIntentRig(t *testing.T) *intentRig {
	t.Helper()
	c := testclock.New(time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC))
	client := dynalitetest.Start(t)
	dynalitetest.CreateTable(t, client, tokenstore.CreateTableInput("tokens"))
	r := &intentRig{
		clock: c,
		cb:    &tokenCodeBuild{clock: c, tokens: map[string]int{}},
		store: &faultyStore{Store: tokenstore.New(client, "tokens", tokenstore.WithClock(c.Now)), clock: c},
		f:     newFixture(t, io.Discard),
	}
	r.f.h.Store = r.store
	r.f.h.CodeBuild = func(string, aws.CredentialsProvider) CodeBuildAPI { return r.cb }
	r.f.h.Now = c.Now
	return r
}

// retrySchedule returns the offsets from the first attempt at which Step Functions retries
// the starter for errName, from the state machine's own Retry rule, each wait at its
// longest (full jitter draws below it).
func retrySchedule(t *testing.T, errName string) []time.Duration {
	t.Helper()
	def, err := statemachine.Build(statemachine.Params{PlannerARN: "p", StarterARN: "s", PollerARN: "o", SummariserARN: "m", CancellerARN: "c"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		States map[string]struct {
			ItemProcessor struct {
				States map[string]struct {
					Retry []struct {
						ErrorEquals                  []string
						IntervalSeconds, MaxAttempts float64
						BackoffRate, MaxDelaySeconds float64
					}
				}
			}
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, r := range doc.States[statemachine.StateRunTargets].ItemProcessor.States[statemachine.StateStartAndWait].Retry {
		if !slices.Contains(r.ErrorEquals, errName) {
			continue
		}
		var out []time.Duration
		var at float64
		for n := range int(r.MaxAttempts) {
			wait := r.IntervalSeconds * math.Pow(r.BackoffRate, float64(n))
			if r.MaxDelaySeconds > 0 {
				wait = math.Min(wait, r.MaxDelaySeconds)
			}
			at += wait
			out = append(out, time.Duration(at*float64(time.Second)))
		}
		return out
	}
	t.Fatalf("the starter does not retry %s", errName)
	return nil
}

// Replays the state machine's real retry schedules while the record write fails past
// CodeBuild's five-minute token window: every attempt gets the one build the first started.
func TestRetriesPastTheTokenWindowStartOneBuild(t *testing.T) {
	for _, errName := range []string{"BuildQuotaExceeded", "TransientError", "Lambda.ServiceException", "Sandbox.Timedout"} {
		t.Run(errName, func(t *testing.T) {
			r := newIntentRig(t)
			start := r.clock.Now()
			schedule := retrySchedule(t, errName)
			// The outage lasts until the schedule's last attempt but one, or seven minutes.
			last := schedule[len(schedule)-1]
			r.store.failCreateUntil = start.Add(min(7*time.Minute, last))
			attempts := append([]time.Duration{0}, schedule...)
			var got []string
			for _, at := range attempts {
				r.clock.Set(start.Add(at))
				d, err := r.f.h.Handle(context.Background(), requests(t)["event"])
				if err == nil {
					got = append(got, d.BuildARN)
					break
				}
				if name := runtimetest.ErrorName(err); name != "TransientError" {
					t.Fatalf("attempt at %v: %s %v", at, name, err)
				}
			}
			if len(got) != 1 {
				t.Fatalf("no attempt succeeded over %v", attempts)
			}
			if len(r.cb.builds) != 1 || got[0] != aws.ToString(r.cb.builds[0].Arn) {
				t.Fatalf("%d builds started (answer %s): want one", len(r.cb.builds), got[0])
			}
			if r.cb.lists != 0 {
				t.Fatalf("searched CodeBuild %d times; the intent held the build", r.cb.lists)
			}
		})
	}
}

// A starter killed between StartBuild and writing the build onto its intent: a retry within
// the token's window gets the build by its token; one after it finds the build in CodeBuild.
// A starter killed before StartBuild left nothing to find: the next attempt starts the one
// build, with a new token.
func TestInterruptedAttempt(t *testing.T) {
	cases := []struct {
		name        string
		startFirst  bool
		retryAfter  time.Duration
		wantSearch  bool
		wantAttempt int
	}{
		{"killed after StartBuild, retried within the window", true, 2 * time.Minute, false, 1},
		{"killed after StartBuild, retried after the window", true, 9 * time.Minute, true, 1},
		{"killed before StartBuild, retried after the window", false, 9 * time.Minute, true, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newIntentRig(t)
			ctx := context.Background()
			start := r.clock.Now()
			if tc.startFirst {
				r.store.failRecord = 1
				if _, err := r.f.h.Handle(ctx, requests(t)["event"]); runtimetest.ErrorName(err) != "TransientError" {
					t.Fatalf("first attempt: %v", err)
				}
			} else {
				want := tokenstore.Intent{ExecutionARN: "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1", MapIndex: 0}
				if _, err := r.store.BeginStart(ctx, want); err != nil {
					t.Fatal(err)
				}
			}
			r.clock.Set(start.Add(tc.retryAfter))
			d, err := r.f.h.Handle(ctx, requests(t)["event"])
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if len(r.cb.builds) != 1 || d.BuildARN != aws.ToString(r.cb.builds[0].Arn) {
				t.Fatalf("%d builds, answer %s: want one", len(r.cb.builds), d.BuildARN)
			}
			if (r.cb.lists > 0) != tc.wantSearch {
				t.Fatalf("searched %d times, want search %v", r.cb.lists, tc.wantSearch)
			}
			in, err := r.store.GetIntent(ctx, d.ExecutionARN, d.MapIndex)
			if err != nil || in.BuildARN != d.BuildARN || in.Attempt != tc.wantAttempt {
				t.Fatalf("intent %+v, %v", in, err)
			}
			rec, err := r.store.Get(ctx, d.BuildARN)
			if err != nil || rec.State != tokenstore.Waiting || rec.TaskToken != testToken {
				t.Fatalf("record %+v, %v", rec, err)
			}
		})
	}
}

// A StartBuild refused for a quota started nothing: the attempt is closed, and the next one
// uses a token of its own.
func TestRefusedAttemptOpensTheNextWithANewToken(t *testing.T) {
	r := newIntentRig(t)
	r.cb.refuse = 1
	if _, err := r.f.h.Handle(context.Background(), requests(t)["event"]); runtimetest.ErrorName(err) != "BuildQuotaExceeded" {
		t.Fatalf("first attempt: %v", err)
	}
	r.clock.Set(r.clock.Now().Add(30 * time.Second))
	d, err := r.f.h.Handle(context.Background(), requests(t)["event"])
	if err != nil {
		t.Fatal(err)
	}
	if len(r.cb.builds) != 1 || r.cb.lists != 0 {
		t.Fatalf("%d builds, %d searches", len(r.cb.builds), r.cb.lists)
	}
	if _, ok := r.cb.tokens[IdempotencyToken(d.ExecutionARN, d.MapIndex, 2)]; !ok {
		t.Fatal("the second attempt did not use its own token")
	}
}

// Once the canceller marked the intent, nothing starts; a build started just before that
// is stopped by the starter that started it.
func TestCancelledIntent(t *testing.T) {
	ctx := context.Background()
	const exec = "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1"

	r := newIntentRig(t)
	if _, err := r.store.BeginStart(ctx, tokenstore.Intent{ExecutionARN: exec, MapIndex: 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.store.CancelIntent(ctx, exec, 0); err != nil {
		t.Fatal(err)
	}
	r.clock.Set(r.clock.Now().Add(time.Minute))
	if _, err := r.f.h.Handle(ctx, requests(t)["event"]); runtimetest.ErrorName(err) != "StartBuildFailed" {
		t.Fatalf("after cancel: %v", err)
	}
	if len(r.cb.builds) != 0 {
		t.Fatalf("%d builds started for an ended execution", len(r.cb.builds))
	}

	// Cancelled between StartBuild and the intent write.
	r = newIntentRig(t)
	r.f.h.CodeBuild = func(string, aws.CredentialsProvider) CodeBuildAPI {
		return cancelOnStart{tokenCodeBuild: r.cb, cancel: func() {
			if _, err := r.store.CancelIntent(ctx, exec, 0); err != nil {
				t.Error(err)
			}
		}}
	}
	if _, err := r.f.h.Handle(ctx, requests(t)["event"]); runtimetest.ErrorName(err) != "StartBuildFailed" {
		t.Fatalf("cancelled during start: %v", err)
	}
	if len(r.cb.builds) != 1 || len(r.cb.stopped) != 1 || r.cb.stopped[0] != aws.ToString(r.cb.builds[0].Id) {
		t.Fatalf("builds %d, stopped %v: the build started for an ended execution must be stopped", len(r.cb.builds), r.cb.stopped)
	}
	if _, err := r.store.Get(ctx, aws.ToString(r.cb.builds[0].Arn)); err == nil {
		t.Fatal("a token record was written for an ended execution")
	}
}

type cancelOnStart struct {
	*tokenCodeBuild
	cancel func()
}

func (c cancelOnStart) StartBuild(ctx context.Context, in *codebuild.StartBuildInput, opts ...func(*codebuild.Options)) (*codebuild.StartBuildOutput, error) {
	out, err := c.tokenCodeBuild.StartBuild(ctx, in, opts...)
	c.cancel()
	return out, err
}

// The search is bounded: more builds of the project since the attempt than one execution
// can start means the answer cannot be trusted, and nothing is started.
func TestSearchIsBounded(t *testing.T) {
	r := newIntentRig(t)
	ctx := context.Background()
	const exec = "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1"
	if _, err := r.store.BeginStart(ctx, tokenstore.Intent{ExecutionARN: exec, MapIndex: 0}); err != nil {
		t.Fatal(err)
	}
	r.clock.Set(r.clock.Now().Add(10 * time.Minute))
	r.f.h.CodeBuild = func(string, aws.CredentialsProvider) CodeBuildAPI { return endlessBuilds{r.cb, r.clock} }
	_, err := r.f.h.Handle(ctx, requests(t)["event"])
	if runtimetest.ErrorName(err) != "StartBuildFailed" {
		t.Fatalf("unbounded search: %v", err)
	}
	if len(r.cb.builds) != 0 {
		t.Fatal("a build was started after an inconclusive search")
	}
}

// endlessBuilds lists page after page of other items' recent builds.
type endlessBuilds struct {
	*tokenCodeBuild
	clock *testclock.Clock
}

func (e endlessBuilds) ListBuildsForProject(_ context.Context, in *codebuild.ListBuildsForProjectInput, _ ...func(*codebuild.Options)) (*codebuild.ListBuildsForProjectOutput, error) {
	page := 0
	if in.NextToken != nil {
		page, _ = strconv.Atoi(*in.NextToken)
	}
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprintf("sample-codebuild-project:other-%d-%d", page, i)
	}
	return &codebuild.ListBuildsForProjectOutput{Ids: ids, NextToken: aws.String(strconv.Itoa(page + 1))}, nil
}

func (e endlessBuilds) BatchGetBuilds(_ context.Context, in *codebuild.BatchGetBuildsInput, _ ...func(*codebuild.Options)) (*codebuild.BatchGetBuildsOutput, error) {
	now := e.clock.Now()
	out := &codebuild.BatchGetBuildsOutput{}
	for _, id := range in.Ids {
		out.Builds = append(out.Builds, cbtypes.Build{Id: aws.String(id), StartTime: &now})
	}
	return out, nil
}
