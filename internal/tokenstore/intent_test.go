package tokenstore_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/internal/dynalitetest"
	"github.com/crossbuild/crossbuild/internal/testclock"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

const (
	intentExec  = "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1"
	intentBuild = "arn:aws:codebuild:eu-west-1:222222222222:build/sample:b1"
)

func wantIntent(c *testclock.Clock) tokenstore.Intent {
	return tokenstore.Intent{
		ExecutionARN: intentExec, MapIndex: 7,
		Account: "222222222222", Region: "eu-west-1", Project: "sample",
		RoleARN: "arn:aws:iam::222222222222:role/crossbuild-target-role", ExpiresAt: c.Now().Add(48 * time.Hour),
	}
}

// The life of an intent: opened, refused and closed, reopened with the next attempt, a build
// recorded and reused by every later attempt, then cancelled.
func TestIntentLifecycleOnDynalite(t *testing.T) {
	c := testclock.New(time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC))
	s := newDynaliteStore(t, c)
	ctx := ctxT(t)

	first, err := s.BeginStart(ctx, wantIntent(c))
	if err != nil {
		t.Fatal(err)
	}
	if first.Attempt != 1 || !first.AttemptAt.Equal(c.Now()) || !first.Open() || first.BuildARN != "" || first.Project != "sample" {
		t.Fatalf("first attempt: %+v", first)
	}

	// A concurrent or retried call while the attempt is open gets the same open attempt.
	c.Advance(time.Minute)
	again, err := s.BeginStart(ctx, wantIntent(c))
	if err != nil || again.Attempt != 1 || !again.AttemptAt.Equal(first.AttemptAt) {
		t.Fatalf("open attempt seen again: %+v, %v", again, err)
	}

	// A refusal that started nothing closes it; the next call opens attempt 2.
	if err := s.CloseAttempt(ctx, first); err != nil {
		t.Fatal(err)
	}
	second, err := s.BeginStart(ctx, wantIntent(c))
	if err != nil || second.Attempt != 2 || !second.AttemptAt.Equal(c.Now()) {
		t.Fatalf("second attempt: %+v, %v", second, err)
	}
	// Closing attempt 1 again changes nothing: attempt 2 stays open.
	if err := s.CloseAttempt(ctx, first); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetIntent(ctx, intentExec, 7); !got.Open() || got.Attempt != 2 {
		t.Fatalf("stale close changed the intent: %+v", got)
	}

	recorded, err := s.RecordBuild(ctx, second, intentBuild, "sample:b1")
	if err != nil || recorded.BuildARN != intentBuild || recorded.BuildID != "sample:b1" || recorded.Open() {
		t.Fatalf("record build: %+v, %v", recorded, err)
	}
	// The same build again is fine; another one is refused by name.
	if _, err := s.RecordBuild(ctx, second, intentBuild, "sample:b1"); err != nil {
		t.Fatalf("recording the same build twice: %v", err)
	}
	var other *tokenstore.OtherBuildError
	if _, err := s.RecordBuild(ctx, second, intentBuild+"x", "sample:b1x"); !errors.As(err, &other) || other.Intent.BuildARN != intentBuild {
		t.Fatalf("a second build: %v", err)
	}
	// Closing after a build is recorded changes nothing either.
	if err := s.CloseAttempt(ctx, second); err != nil {
		t.Fatal(err)
	}

	// Hours later (far past CodeBuild's five-minute token window) the build is reused.
	c.Advance(7 * time.Hour)
	late, err := s.BeginStart(ctx, wantIntent(c))
	if err != nil || late.BuildARN != intentBuild || late.Attempt != 2 || late.Open() {
		t.Fatalf("late attempt: %+v, %v", late, err)
	}

	// The records of the execution do not include the intent; ListExecution has it.
	recs, intents, err := s.ListExecution(ctx, intentExec)
	if err != nil || len(recs) != 0 || len(intents) != 1 || intents[0].BuildARN != intentBuild {
		t.Fatalf("list execution: %+v %+v %v", recs, intents, err)
	}
	if _, err := s.FindByExecution(ctx, intentExec, 7); err == nil {
		t.Fatal("FindByExecution returned the intent as a record")
	}

	cancelled, err := s.CancelIntent(ctx, intentExec, 7)
	if err != nil || !cancelled.Cancelled() {
		t.Fatalf("cancel: %+v, %v", cancelled, err)
	}
	c.Advance(time.Minute)
	twice, err := s.CancelIntent(ctx, intentExec, 7)
	if err != nil || !twice.CancelledAt.Equal(cancelled.CancelledAt) {
		t.Fatalf("cancel twice moved the time: %+v, %v", twice, err)
	}
	var ce *tokenstore.CancelledError
	if _, err := s.BeginStart(ctx, wantIntent(c)); !errors.As(err, &ce) {
		t.Fatalf("begin after cancel: %v", err)
	}
	mustNotFound(t, func() error { _, err := s.CancelIntent(ctx, intentExec, 8); return err }())
}

// A build started by an attempt whose execution was cancelled meanwhile is reported, so the
// starter stops it; a cancelled intent opens no attempt.
func TestIntentCancelledBeforeBuildRecorded(t *testing.T) {
	c := testclock.New(time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC))
	s := newDynaliteStore(t, c)
	ctx := ctxT(t)
	in, err := s.BeginStart(ctx, wantIntent(c))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CancelIntent(ctx, intentExec, 7); err != nil {
		t.Fatal(err)
	}
	var ce *tokenstore.CancelledError
	if _, err := s.RecordBuild(ctx, in, intentBuild, "sample:b1"); !errors.As(err, &ce) {
		t.Fatalf("record after cancel: %v", err)
	}
	if err := s.CloseAttempt(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginStart(ctx, wantIntent(c)); !errors.As(err, &ce) {
		t.Fatalf("begin after cancel: %v", err)
	}
}

// Ten concurrent first attempts of one item all get attempt 1: one opened it, the others
// saw it open, so all of them use the same idempotency token.
func TestIntentConcurrentBeginsOnDynalite(t *testing.T) {
	c := testclock.New(time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC))
	s := newDynaliteStore(t, c)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	got := make([]tokenstore.Intent, 10)
	errs := make([]error, 10)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = s.BeginStart(ctx, wantIntent(c))
		}()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i].Attempt != 1 || !got[i].AttemptAt.Equal(got[0].AttemptAt) {
			t.Fatalf("call %d: %+v, %v", i, got[i], errs[i])
		}
	}
}

// Every intent write whose answer is lost, retried by the SDK and refused by its own
// condition, still ends where the call meant it to.
func TestIntentLostAnswersOnDynalite(t *testing.T) {
	for _, fault := range []dynalitetest.Fault{dynalitetest.Answer500, dynalitetest.DropConnection} {
		t.Run(fault.String(), func(t *testing.T) {
			c := testclock.New(time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC))
			s, proxy := newLossyStore(t, c)
			ctx := ctxT(t)

			isPut := func(op string, body []byte) bool { return op == "PutItem" && strings.Contains(string(body), "intent/") }
			proxy.LoseAnswers(1, fault, isPut)
			first, err := s.BeginStart(ctx, wantIntent(c))
			if err != nil || first.Attempt != 1 || !first.Open() {
				t.Fatalf("create with a lost answer: %+v, %v", first, err)
			}
			if n := proxy.Count(isPut); n != 2 {
				t.Fatalf("create sent %d times, want 2", n)
			}
			if err := s.CloseAttempt(ctx, first); err != nil {
				t.Fatal(err)
			}
			isReopen := updateWith(":next")
			proxy.LoseAnswers(1, fault, isReopen)
			second, err := s.BeginStart(ctx, wantIntent(c))
			if err != nil || second.Attempt != 2 || !second.Open() {
				t.Fatalf("reopen with a lost answer: %+v, %v", second, err)
			}
			if n := proxy.Count(isReopen); n != 2 {
				t.Fatalf("reopen sent %d times, want 2", n)
			}
			isRecord := updateWith("#startedBuildArn = :arn")
			proxy.LoseAnswers(1, fault, isRecord)
			rec, err := s.RecordBuild(ctx, second, intentBuild, "sample:b1")
			if err != nil || rec.BuildARN != intentBuild {
				t.Fatalf("record with a lost answer: %+v, %v", rec, err)
			}
			if n := proxy.Count(isRecord); n != 2 {
				t.Fatalf("record sent %d times, want 2", n)
			}
		})
	}
}
