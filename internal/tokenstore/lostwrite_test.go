package tokenstore_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/internal/dynalitetest"
	"github.com/crossbuild/crossbuild/internal/testclock"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

// newLossyStore returns a store whose retrying SDK client reaches dynalite through a proxy
// that can lose the answers to applied writes.
func newLossyStore(t *testing.T, c *testclock.Clock) (*tokenstore.Store, *dynalitetest.Proxy) {
	t.Helper()
	endpoint := dynalitetest.StartEndpoint(t)
	dynalitetest.CreateTable(t, dynalitetest.NewClient(endpoint), tokenstore.CreateTableInput("tokens"))
	proxy := dynalitetest.StartProxy(t, endpoint)
	return tokenstore.New(dynalitetest.NewRetryingClient(proxy.URL), "tokens", tokenstore.WithClock(c.Now)), proxy
}

func updateWith(fragment string) func(op string, body []byte) bool {
	return func(op string, body []byte) bool {
		return op == "UpdateItem" && strings.Contains(string(body), fragment)
	}
}

// Every owner-aware transition whose answer is lost, retried by the SDK and refused by its
// own condition, still reports success; someone else's claim is still refused.
func TestLostAnswersOnDynalite(t *testing.T) {
	for _, fault := range []dynalitetest.Fault{dynalitetest.Answer500, dynalitetest.DropConnection} {
		t.Run(fault.String(), func(t *testing.T) {
			c := testclock.New(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC))
			s, proxy := newLossyStore(t, c)
			ctx := ctxT(t)
			const (
				buildARN = "arn:aws:codebuild:eu-west-1:222222222222:build/sample:10st"
				lease    = time.Minute
			)
			if err := s.Create(ctx, tokenstore.Record{BuildARN: buildARN, TaskToken: "token-1", CreatedAt: c.Now()}); err != nil {
				t.Fatal(err)
			}

			// Claim: applied, answer lost, retried, refused; recognised as ours.
			isClaim := updateWith("SET #state = :claimed")
			proxy.LoseAnswers(1, fault, isClaim)
			mine, err := s.ClaimAs(ctx, buildARN, "owner-a", lease)
			if err != nil {
				t.Fatalf("claim with a lost answer: %v", err)
			}
			if n := proxy.Count(isClaim); n != 2 {
				t.Fatalf("claim sent %d times, want 2", n)
			}
			if mine.State != tokenstore.Claimed || mine.ClaimOwner != "owner-a" || !mine.ClaimedAt.Equal(c.Now()) {
				t.Fatalf("claimed %+v", mine)
			}
			mustGet(t, s, buildARN, mine)

			// Another invocation is refused, now and a moment later.
			_, err = s.ClaimAs(ctx, buildARN, "owner-b", lease)
			mustConflict(t, err, "claim", tokenstore.Claimed)
			c.Advance(time.Second)
			_, err = s.ClaimAs(ctx, buildARN, "owner-b", lease)
			mustConflict(t, err, "claim", tokenstore.Claimed)
			// So is a claim by the same owner that is not the retry of the applied one.
			_, err = s.ClaimAs(ctx, buildARN, "owner-a", lease)
			mustConflict(t, err, "claim", tokenstore.Claimed)

			// Release: applied, answer lost, retried, refused; recognised as ours.
			isRelease := updateWith("SET #state = :waiting")
			proxy.LoseAnswers(1, fault, isRelease)
			if err := s.Release(ctx, mine); err != nil {
				t.Fatalf("release with a lost answer: %v", err)
			}
			if n := proxy.Count(isRelease); n != 2 {
				t.Fatalf("release sent %d times, want 2", n)
			}
			want := mine
			want.State, want.ClaimedAt = tokenstore.Waiting, time.Time{}
			mustGet(t, s, buildARN, want)

			// Once someone else holds the claim, the old owner's release is refused.
			theirs, err := s.ClaimAs(ctx, buildARN, "owner-b", lease)
			if err != nil {
				t.Fatalf("claim after release: %v", err)
			}
			mustConflict(t, s.Release(ctx, mine), "release", tokenstore.Claimed)
			if err := s.Release(ctx, theirs); err != nil {
				t.Fatalf("release by the new owner: %v", err)
			}
			mustConflict(t, s.Release(ctx, mine), "release", tokenstore.Waiting)
		})
	}
}

func TestLostAdoptAnswerOnDynalite(t *testing.T) {
	c := testclock.New(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC))
	s, proxy := newLossyStore(t, c)
	ctx := ctxT(t)
	const (
		buildARN = "arn:aws:codebuild:us-east-2:333333333333:build/fast:10st"
		outcome  = `{"status":"SUCCEEDED"}`
	)
	expires := c.Now().Add(840 * time.Hour)
	if err := s.Park(ctx, tokenstore.Record{BuildARN: buildARN, Account: "333333333333", Region: "us-east-2",
		Project: "fast", Outcome: outcome, ExpiresAt: expires}); err != nil {
		t.Fatal(err)
	}
	rec := tokenstore.Record{
		BuildARN: buildARN, BuildID: "fast:10st", TaskToken: "token-1",
		ExecutionARN: "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-9", MapIndex: 2,
		Account: "333333333333", Region: "us-east-2", Project: "fast", Completion: "event",
		CreatedAt: c.Now(), ExpiresAt: expires, ClaimOwner: "owner-a",
	}
	isAdopt := updateWith(`"ConditionExpression":"#state = :parked"`)
	proxy.LoseAnswers(1, dynalitetest.Answer500, isAdopt)
	c.Advance(time.Second)
	got, claimed, err := s.Adopt(ctx, rec)
	if err != nil {
		t.Fatalf("adopt with a lost answer: %v", err)
	}
	if n := proxy.Count(isAdopt); n != 2 {
		t.Fatalf("adoption sent %d times, want 2", n)
	}
	want := rec
	want.State, want.ClaimedAt, want.Outcome = tokenstore.Claimed, c.Now(), outcome
	if got != outcome || !reflect.DeepEqual(claimed, want) {
		t.Fatalf("adopted %q\n got %+v\nwant %+v", got, claimed, want)
	}
	mustGet(t, s, buildARN, want)

	// A second starter invocation, with its own owner, finds it adopted.
	other := rec
	other.ClaimOwner = "owner-b"
	_, _, err = s.Adopt(ctx, other)
	mustConflict(t, err, "adopt", tokenstore.Claimed)

	// The adopter completes like any claimant; the outcome stays on the record.
	if err := s.Complete(ctx, buildARN, "event"); err != nil {
		t.Fatal(err)
	}
	want.State, want.CompletedBy = tokenstore.Completed, "event"
	mustGet(t, s, buildARN, want)
}

// Records claimed before owners existed keep working: an owner-less claim blocks owners
// for its lease, is taken over after it, and is released by its own claimant.
func TestOwnerlessRecordsOnDynalite(t *testing.T) {
	c := testclock.New(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC))
	s := newDynaliteStore(t, c)
	ctx := ctxT(t)
	const (
		buildARN = "arn:aws:codebuild:eu-west-1:222222222222:build/sample:01d"
		lease    = time.Minute
	)
	if err := s.Create(ctx, tokenstore.Record{BuildARN: buildARN, TaskToken: "token-1", CreatedAt: c.Now()}); err != nil {
		t.Fatal(err)
	}
	legacy, err := s.Claim(ctx, buildARN, lease)
	if err != nil || legacy.ClaimOwner != "" {
		t.Fatalf("owner-less claim: %+v, %v", legacy, err)
	}
	_, err = s.ClaimAs(ctx, buildARN, "owner-a", lease)
	mustConflict(t, err, "claim", tokenstore.Claimed)
	if err := s.Release(ctx, legacy); err != nil {
		t.Fatalf("owner-less release: %v", err)
	}
	if _, err := s.Claim(ctx, buildARN, lease); err != nil {
		t.Fatal(err)
	}
	c.Advance(lease + time.Millisecond)
	mine, err := s.ClaimAs(ctx, buildARN, "owner-a", lease)
	if err != nil || mine.ClaimOwner != "owner-a" {
		t.Fatalf("takeover of an owner-less claim: %+v, %v", mine, err)
	}
	if err := s.Release(ctx, mine); err != nil {
		t.Fatal(err)
	}
}
