package main

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/internal/dynalitetest"
	"github.com/crossbuild/crossbuild/internal/testfixtures"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

// isClaim matches the callback's claim on the wire.
func isClaim(op string, body []byte) bool {
	return op == "UpdateItem" && strings.Contains(string(body), "SET #state = :claimed")
}

// lostWriteStore returns a store whose real, retrying SDK client reaches dynalite through a
// proxy that can lose answers.
func lostWriteStore(t *testing.T) (*tokenstore.Store, *dynalitetest.Proxy) {
	t.Helper()
	endpoint := dynalitetest.StartEndpoint(t)
	dynalitetest.CreateTable(t, dynalitetest.NewClient(endpoint), tokenstore.CreateTableInput("tokens"))
	proxy := dynalitetest.StartProxy(t, endpoint)
	return tokenstore.New(dynalitetest.NewRetryingClient(proxy.URL), "tokens"), proxy
}

// A claim that is applied but whose answer is lost is retried by the SDK; the retry fails
// its condition because the record is now claimed, by this very invocation. The callback
// must recognise its own claim and complete the task, once.
func TestLostClaimAnswerStillCompletes(t *testing.T) {
	for _, fault := range []dynalitetest.Fault{dynalitetest.Answer500, dynalitetest.DropConnection} {
		t.Run(fault.String(), func(t *testing.T) {
			store, proxy := lostWriteStore(t)
			ctx := context.Background()
			if err := store.Create(ctx, waitingRecord()); err != nil {
				t.Fatal(err)
			}
			proxy.LoseAnswers(1, fault, isClaim)
			s := &fakeSFN{}
			h := newHandler(t, store, s, io.Discard)
			if err := h.Handle(ctx, fixture(t, testfixtures.StateSucceeded)); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if got := proxy.Count(isClaim); got != 2 {
				t.Fatalf("claim sent %d times, want 2 (the lost one and the SDK's retry)", got)
			}
			if len(s.successes) != 1 || len(s.failures) != 0 {
				t.Fatalf("SendTaskSuccess %d times, SendTaskFailure %d times; want exactly one success", len(s.successes), len(s.failures))
			}
			got, err := store.Get(ctx, testfixtures.BuildARN)
			if err != nil || got.State != tokenstore.Completed || got.CompletedBy != "event" {
				t.Fatalf("record after completion: %+v, %v", got, err)
			}

			// A duplicate of the event finds the task done.
			if err := h.Handle(ctx, fixture(t, testfixtures.StateSucceeded)); err != nil || s.completions() != 1 {
				t.Fatalf("duplicate: %v, completions %d", err, s.completions())
			}
		})
	}
}

// A claim held by another invocation is still refused: the event is a duplicate of one
// whose completion is under way, and nothing is sent.
func TestOtherOwnersClaimIsRefused(t *testing.T) {
	store, proxy := lostWriteStore(t)
	ctx := context.Background()
	if err := store.Create(ctx, waitingRecord()); err != nil {
		t.Fatal(err)
	}
	held, err := store.ClaimAs(ctx, testfixtures.BuildARN, "another-invocation", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	proxy.LoseAnswers(1, dynalitetest.Answer500, isClaim) // even our own retried claim must not win
	var logs strings.Builder
	s := &fakeSFN{}
	if err := newHandler(t, store, s, &logs).Handle(ctx, fixture(t, testfixtures.StateSucceeded)); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if s.completions() != 0 {
		t.Fatalf("%d completions sent under another invocation's claim", s.completions())
	}
	if !strings.Contains(logs.String(), "completion already under way") {
		t.Fatalf("logs do not report the claim under way: %s", logs.String())
	}
	got, err := store.Get(ctx, testfixtures.BuildARN)
	if err != nil || !reflect.DeepEqual(got, held) {
		t.Fatalf("record changed under another invocation's claim:\n got %+v, %v\nwant %+v", got, err, held)
	}
}
