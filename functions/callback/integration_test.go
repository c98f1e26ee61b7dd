package main

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/crossbuild/crossbuild/internal/awstest"
	"github.com/crossbuild/crossbuild/internal/dynalitetest"
	"github.com/crossbuild/crossbuild/internal/testfixtures"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

// The real token store on dynalite: many concurrent deliveries of a build's events,
// terminal ones included, send exactly one completion, and a late event afterwards is a no-op.
func TestExactlyOnceOnDynalite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dynalite")
	}
	client := dynalitetest.Start(t)
	dynalitetest.CreateTable(t, client, tokenstore.CreateTableInput("tokens"))
	store := tokenstore.New(client, "tokens")
	ctx := context.Background()
	for round := range 3 {
		rec := waitingRecord()
		rec.BuildARN = strings.Replace(rec.BuildARN, "0f8c3b4e", "0f8c3b4"+string(rune('a'+round)), 1)
		if err := store.Create(ctx, rec); err != nil {
			t.Fatal(err)
		}
		s := &fakeSFN{}
		h := newHandler(t, store, s, io.Discard)
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				raw := fixture(t, testfixtures.All[i%len(testfixtures.All)])
				raw = []byte(strings.ReplaceAll(string(raw), "0f8c3b4e", "0f8c3b4"+string(rune('a'+round))))
				if err := h.Handle(ctx, raw); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if got := s.completions(); got != 1 {
			t.Fatalf("round %d: %d completions", round, got)
		}
		got, err := store.Get(ctx, rec.BuildARN)
		if err != nil || got.State != tokenstore.Completed || got.CompletedBy != "event" {
			t.Fatalf("record after completion: %+v %v", got, err)
		}
	}
}

// The real Step Functions client: the error codes of a closed task are recognised on the
// wire, and throttling is retried by the next delivery.
func TestSendTaskWire(t *testing.T) {
	cases := []struct {
		name      string
		reply     awstest.Reply
		wantErr   bool
		wantState tokenstore.State
	}{
		{"success", awstest.JSON(200, `{}`), false, tokenstore.Completed},
		{"task timed out", awstest.JSONError(400, "TaskTimedOut", "Task Timed Out"), false, tokenstore.Waiting},
		{"task does not exist", awstest.JSONError(400, "TaskDoesNotExist", "Task does not exist"), false, tokenstore.Waiting},
		{"invalid token", awstest.JSONError(400, "InvalidToken", "Invalid Token"), false, tokenstore.Waiting},
		{"throttled", awstest.JSONError(400, "ThrottlingException", "Rate exceeded"), true, tokenstore.Waiting},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := awstest.NewServer(t, func(awstest.Request) awstest.Reply { return tc.reply })
			client := sfn.NewFromConfig(awstest.Config(srv.URL, 1))
			store := newMemStore(waitingRecord())
			store.now = func() time.Time { return time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC) }
			h := newHandler(t, store, client, io.Discard)
			err := h.Handle(context.Background(), fixture(t, testfixtures.StateSucceeded))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Handle = %v", err)
			}
			if got := store.state(testfixtures.BuildARN); got != tc.wantState {
				t.Fatalf("state %s, want %s", got, tc.wantState)
			}
			reqs := srv.Requests()
			if len(reqs) != 1 || reqs[0].Target != "AWSStepFunctions.SendTaskSuccess" || !strings.Contains(string(reqs[0].Body), `"taskToken":"`+testToken+`"`) {
				t.Fatalf("requests %+v", reqs)
			}
		})
	}
}
