package tokenstore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/internal/dynalitetest"
	"github.com/crossbuild/crossbuild/internal/testclock"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

// newDynaliteStore starts dynalite, creates the token table and returns a store over it.
func newDynaliteStore(t *testing.T, c *testclock.Clock) *tokenstore.Store {
	t.Helper()
	client := dynalitetest.Start(t)
	dynalitetest.CreateTable(t, client, tokenstore.CreateTableInput("tokens"))
	return tokenstore.New(client, "tokens", tokenstore.WithClock(c.Now))
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustConflict(t *testing.T, err error, op string, st tokenstore.State) {
	t.Helper()
	var ce *tokenstore.ConflictError
	if !errors.As(err, &ce) || ce.Op != op || ce.State != st {
		t.Fatalf("error = %v, want a %s conflict in state %q", err, op, st)
	}
}

func mustNotFound(t *testing.T, err error) {
	t.Helper()
	var nf *tokenstore.NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("error = %v, want *NotFoundError", err)
	}
}

func mustExist(t *testing.T, err error, want tokenstore.Record) {
	t.Helper()
	var ee *tokenstore.ExistsError
	if !errors.As(err, &ee) {
		t.Fatalf("error = %v, want *ExistsError", err)
	}
	if !reflect.DeepEqual(ee.Existing, want) {
		t.Fatalf("existing record:\n got %+v\nwant %+v", ee.Existing, want)
	}
}

func mustGet(t *testing.T, s *tokenstore.Store, buildARN string, want tokenstore.Record) {
	t.Helper()
	got, err := s.Get(ctxT(t), buildARN)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stored record:\n got %+v\nwant %+v", got, want)
	}
}

func TestLifecycleOnDynalite(t *testing.T) {
	c := testclock.New(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC))
	s := newDynaliteStore(t, c)
	ctx := ctxT(t)
	const (
		buildARN = "arn:aws:codebuild:eu-west-1:222222222222:build/sample:0b1c"
		execARN  = "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1"
		lease    = time.Minute
	)
	rec := tokenstore.Record{
		BuildARN: buildARN, BuildID: "sample:0b1c", TaskToken: "token-1",
		ExecutionARN: execARN, MapIndex: 3,
		Account: "222222222222", Region: "eu-west-1", Project: "sample",
		RoleARN:    "arn:aws:iam::222222222222:role/crossbuild-target-role",
		Completion: "event", EnvOverrides: []string{}, TraceID: "1-5759e988-bd862e3fe1be46a994272793",
		CreatedAt: c.Now(), ExpiresAt: c.Now().Add(840 * time.Hour),
	}
	want := rec
	want.State = tokenstore.Waiting

	// Create, and a second Create reports the first record.
	if err := s.Create(ctx, rec); err != nil {
		t.Fatalf("create: %v", err)
	}
	second := rec
	second.TaskToken = "token-other"
	mustExist(t, s.Create(ctx, second), want)
	mustGet(t, s, buildARN, want)

	// The execution index finds it; another Map iteration has nothing.
	found, err := s.FindByExecution(ctx, execARN, 3)
	if err != nil || !reflect.DeepEqual(found, want) {
		t.Fatalf("find by execution = %+v, %v", found, err)
	}
	_, err = s.FindByExecution(ctx, execARN, 4)
	mustNotFound(t, err)

	// A retried starter of the same iteration refreshes the token; anyone else cannot.
	refresh := func(exec string, index int, token string) error {
		_, err := s.RefreshToken(ctx, buildARN, exec, index, token)
		return err
	}
	mustConflict(t, refresh(execARN+"-other", 3, "token-x"), "refresh token of", tokenstore.Waiting)
	mustConflict(t, refresh(execARN, 4, "token-x"), "refresh token of", tokenstore.Waiting)
	refreshed, err := s.RefreshToken(ctx, buildARN, execARN, 3, "token-2")
	if err != nil {
		t.Fatalf("refresh token: %v", err)
	}
	want.TaskToken = "token-2"
	if !reflect.DeepEqual(refreshed, want) {
		t.Fatalf("refreshed:\n got %+v\nwant %+v", refreshed, want)
	}
	mustGet(t, s, buildARN, want)

	// Claim; a second claim within the lease conflicts; a retried starter's token still
	// replaces the one under the claim, for the claimant to send with when the old is refused.
	first, err := s.Claim(ctx, buildARN, lease)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	want.State, want.ClaimedAt = tokenstore.Claimed, c.Now()
	if !reflect.DeepEqual(first, want) {
		t.Fatalf("claimed:\n got %+v\nwant %+v", first, want)
	}
	c.Advance(lease - time.Millisecond)
	_, err = s.Claim(ctx, buildARN, lease)
	mustConflict(t, err, "claim", tokenstore.Claimed)
	if err := refresh(execARN, 3, "token-3"); err != nil {
		t.Fatalf("refresh under a claim: %v", err)
	}
	want.TaskToken = "token-3"
	mustGet(t, s, buildARN, want)

	// After the lease the claim is taken over, and the first claimant can no longer release.
	c.Advance(2 * time.Millisecond)
	takeover, err := s.Claim(ctx, buildARN, lease)
	if err != nil {
		t.Fatalf("takeover: %v", err)
	}
	if !takeover.ClaimedAt.Equal(c.Now()) || takeover.ClaimedAt.Equal(first.ClaimedAt) {
		t.Fatalf("takeover claimedAt = %v, first %v, now %v", takeover.ClaimedAt, first.ClaimedAt, c.Now())
	}
	mustConflict(t, s.Release(ctx, first), "release", tokenstore.Claimed)

	// The current claimant releases; the record is WAITING again and claimable at once.
	if err := s.Release(ctx, takeover); err != nil {
		t.Fatalf("release: %v", err)
	}
	want.State, want.ClaimedAt = tokenstore.Waiting, time.Time{}
	mustGet(t, s, buildARN, want)
	mustConflict(t, s.Release(ctx, takeover), "release", tokenstore.Waiting)
	c.Advance(time.Second)
	if _, err := s.Claim(ctx, buildARN, lease); err != nil {
		t.Fatalf("claim after release: %v", err)
	}

	// Complete once; everything after that conflicts.
	if err := s.Complete(ctx, buildARN, "event"); err != nil {
		t.Fatalf("complete: %v", err)
	}
	want.State, want.ClaimedAt, want.CompletedBy = tokenstore.Completed, c.Now(), "event"
	mustGet(t, s, buildARN, want)
	mustConflict(t, s.Complete(ctx, buildARN, "poll"), "complete", tokenstore.Completed)
	c.Advance(time.Hour)
	_, err = s.Claim(ctx, buildARN, lease)
	mustConflict(t, err, "claim", tokenstore.Completed)
	mustConflict(t, refresh(execARN, 3, "token-4"), "refresh token of", tokenstore.Completed)
	mustExist(t, s.Park(ctx, tokenstore.Record{BuildARN: buildARN, Outcome: "{}"}), want)

	// A build nobody recorded.
	const missing = "arn:aws:codebuild:eu-west-1:222222222222:build/sample:none"
	_, err = s.Get(ctx, missing)
	mustNotFound(t, err)
	_, err = s.Claim(ctx, missing, lease)
	mustNotFound(t, err)
	mustNotFound(t, s.Complete(ctx, missing, "event"))
}

func TestParkAndAdoptOnDynalite(t *testing.T) {
	c := testclock.New(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC))
	s := newDynaliteStore(t, c)
	ctx := ctxT(t)
	const (
		buildARN = "arn:aws:codebuild:us-east-2:333333333333:build/fast:9f9f"
		execARN  = "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-2"
		outcome  = `{"status":"SUCCEEDED","completedBy":"event"}`
	)
	expires := c.Now().Add(840 * time.Hour)

	// The terminal event arrives first and is parked.
	p := tokenstore.Record{
		BuildARN: buildARN, Account: "333333333333", Region: "us-east-2", Project: "fast",
		Outcome: outcome, ExpiresAt: expires,
		TaskToken: "not-stored", ExecutionARN: "not-stored", // Park keeps only its own fields
	}
	if err := s.Park(ctx, p); err != nil {
		t.Fatalf("park: %v", err)
	}
	parked := tokenstore.Record{
		BuildARN: buildARN, Account: "333333333333", Region: "us-east-2", Project: "fast",
		Outcome: outcome, ExpiresAt: expires, State: tokenstore.Parked,
	}
	mustGet(t, s, buildARN, parked)
	mustExist(t, s.Park(ctx, p), parked) // a duplicate event

	// Parked items are not in the execution index, and cannot be claimed.
	_, err := s.FindByExecution(ctx, execARN, 0)
	mustNotFound(t, err)
	_, err = s.Claim(ctx, buildARN, time.Minute)
	mustConflict(t, err, "claim", tokenstore.Parked)

	// The starter's Create finds the parked item and adopts it.
	rec := tokenstore.Record{
		BuildARN: buildARN, BuildID: "fast:9f9f", TaskToken: "token-1",
		ExecutionARN: execARN, MapIndex: 0,
		Account: "333333333333", Region: "us-east-2", Project: "fast",
		RoleARN: "arn:aws:iam::333333333333:role/crossbuild-target-role", Completion: "event",
		EnvOverrides: []string{"SAMPLE_VAR1"}, CreatedAt: c.Now(), ExpiresAt: expires,
	}
	mustExist(t, s.Create(ctx, rec), parked)

	c.Advance(1500 * time.Millisecond)
	gotOutcome, claimed, err := s.Adopt(ctx, rec)
	if err != nil {
		t.Fatalf("adopt: %v", err)
	}
	if gotOutcome != outcome {
		t.Fatalf("adopted outcome = %q, want %q", gotOutcome, outcome)
	}
	want := rec
	want.State, want.ClaimedAt = tokenstore.Claimed, c.Now()
	if !reflect.DeepEqual(claimed, want) {
		t.Fatalf("adopted:\n got %+v\nwant %+v", claimed, want)
	}
	mustGet(t, s, buildARN, want)
	found, err := s.FindByExecution(ctx, execARN, 0)
	if err != nil || !reflect.DeepEqual(found, want) {
		t.Fatalf("find by execution after adopt = %+v, %v", found, err)
	}

	// Adopting twice fails; the adopter owns the claim like any other claimant.
	_, _, err = s.Adopt(ctx, rec)
	mustConflict(t, err, "adopt", tokenstore.Claimed)
	if err := s.Release(ctx, claimed); err != nil {
		t.Fatalf("release adopted claim: %v", err)
	}
	if err := s.Complete(ctx, buildARN, "event"); err != nil {
		t.Fatalf("complete: %v", err)
	}
}

// TestClaimRaceOnDynalite lets many callers claim, then complete, one record at once:
// exactly one of them may win each time.
func TestClaimRaceOnDynalite(t *testing.T) {
	const (
		rounds  = 5
		callers = 50
	)
	c := testclock.New(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC))
	s := newDynaliteStore(t, c)
	ctx := ctxT(t)

	for round := range rounds {
		buildARN := fmt.Sprintf("arn:aws:codebuild:eu-west-1:222222222222:build/race:%d", round)
		if err := s.Create(ctx, tokenstore.Record{BuildARN: buildARN, TaskToken: "token", CreatedAt: c.Now()}); err != nil {
			t.Fatalf("round %d: create: %v", round, err)
		}
		claimErrs, claims := race(callers, func() (tokenstore.Record, error) {
			return s.Claim(ctx, buildARN, time.Minute)
		})
		winner := checkOneWinner(t, fmt.Sprintf("round %d: claim", round), claimErrs, "claim", tokenstore.Claimed)
		stored, err := s.Get(ctx, buildARN)
		if err != nil || stored.State != tokenstore.Claimed || !stored.ClaimedAt.Equal(claims[winner].ClaimedAt) {
			t.Fatalf("round %d: stored %+v, %v; winner's claim %v", round, stored, err, claims[winner].ClaimedAt)
		}

		completeErrs, _ := race(callers, func() (tokenstore.Record, error) {
			return tokenstore.Record{}, s.Complete(ctx, buildARN, "event")
		})
		checkOneWinner(t, fmt.Sprintf("round %d: complete", round), completeErrs, "complete", tokenstore.Completed)
		c.Advance(time.Second)
	}
}

// race runs f from n goroutines released at the same moment.
func race(n int, f func() (tokenstore.Record, error)) ([]error, []tokenstore.Record) {
	errs := make([]error, n)
	recs := make([]tokenstore.Record, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			recs[i], errs[i] = f()
		})
	}
	close(start)
	wg.Wait()
	return errs, recs
}

// checkOneWinner asserts that exactly one call succeeded and every other one got a
// conflict in state st; it returns the winner's index.
func checkOneWinner(t *testing.T, what string, errs []error, op string, st tokenstore.State) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		if err == nil {
			if winner >= 0 {
				t.Fatalf("%s: callers %d and %d both won", what, winner, i)
			}
			winner = i
			continue
		}
		var ce *tokenstore.ConflictError
		if !errors.As(err, &ce) || ce.Op != op || ce.State != st {
			t.Fatalf("%s: caller %d: %v, want a conflict in state %s", what, i, err, st)
		}
	}
	if winner < 0 {
		t.Fatalf("%s: nobody won", what)
	}
	return winner
}
