package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"

	"github.com/crossbuild/crossbuild/internal/completion"
	"github.com/crossbuild/crossbuild/internal/dynalitetest"
	"github.com/crossbuild/crossbuild/internal/metrics"
	"github.com/crossbuild/crossbuild/internal/outcome"
	"github.com/crossbuild/crossbuild/internal/runtimetest"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

// countingSFN counts the completions sent to Step Functions.
type countingSFN struct {
	mu        sync.Mutex
	successes []string // task tokens
	failures  []string
}

func (c *countingSFN) SendTaskSuccess(_ context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.successes = append(c.successes, aws.ToString(in.TaskToken))
	return &sfn.SendTaskSuccessOutput{}, nil
}

func (c *countingSFN) SendTaskFailure(_ context.Context, in *sfn.SendTaskFailureInput, _ ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failures = append(c.failures, aws.ToString(in.TaskToken))
	return &sfn.SendTaskFailureOutput{}, nil
}

// isAdopt matches the starter's adoption of a parked record on the wire.
func isAdopt(op string, body []byte) bool {
	return (op == "UpdateItem" || op == "PutItem") && strings.Contains(string(body), `"ConditionExpression":"#state = :parked"`)
}

// An adoption that is applied but whose answer is lost is retried by the SDK; the retry
// fails its condition because the record is no longer parked, adopted by this very
// invocation. The starter must recognise its own adoption and complete the task, once.
func TestLostAdoptAnswerStillCompletes(t *testing.T) {
	for _, fault := range []dynalitetest.Fault{dynalitetest.Answer500, dynalitetest.DropConnection} {
		t.Run(fault.String(), func(t *testing.T) {
			endpoint := dynalitetest.StartEndpoint(t)
			dynalitetest.CreateTable(t, dynalitetest.NewClient(endpoint), tokenstore.CreateTableInput("tokens"))
			proxy := dynalitetest.StartProxy(t, endpoint)
			store := tokenstore.New(dynalitetest.NewRetryingClient(proxy.URL), "tokens")
			ctx := context.Background()

			// The terminal event overtook the starter's write and was parked.
			parked := outcome.Build{ARN: testBuildARN, ID: testBuildID, Project: "sample-codebuild-project",
				Account: "222222222222", Region: "eu-west-1", Status: outcome.StatusSucceeded}
			raw, _ := json.Marshal(parked)
			if err := store.Park(ctx, tokenstore.Record{BuildARN: testBuildARN, Account: "222222222222", Region: "eu-west-1",
				Project: "sample-codebuild-project", Outcome: string(raw), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}

			s := &countingSFN{}
			f := newFixture(t, io.Discard)
			f.h.Store = store
			f.h.Finisher = &completion.Completer{SFN: s, Store: store, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
				Metrics: metrics.New(io.Discard, "starter")}
			proxy.LoseAnswers(1, fault, isAdopt)
			if _, err := f.h.Handle(ctx, requests(t)["event"]); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if got := proxy.Count(isAdopt); got != 2 {
				t.Fatalf("adoption sent %d times, want 2 (the lost one and the SDK's retry)", got)
			}
			if len(s.successes) != 1 || s.successes[0] != testToken || len(s.failures) != 0 {
				t.Fatalf("SendTaskSuccess %d times, SendTaskFailure %d times; want exactly one success with the new token",
					len(s.successes), len(s.failures))
			}
			got, err := store.Get(ctx, testBuildARN)
			if err != nil || got.State != tokenstore.Completed || got.ExecutionARN == "" {
				t.Fatalf("record after completion: %+v, %v", got, err)
			}
		})
	}
}

// throttleFirst refuses the first send with a throttling error, then counts like countingSFN.
type throttleFirst struct {
	countingSFN
	refused bool
}

func (t *throttleFirst) SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, opts ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	if !t.refused {
		t.refused = true
		return nil, &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	}
	return t.countingSFN.SendTaskSuccess(ctx, in, opts...)
}

// The outcome survives a replaced token: the starter adopts a parked outcome, its send is
// throttled and the claim released, Step Functions retries the starter with a new token, and
// that retry completes the task with the outcome still on the record, once.
func TestAdoptedOutcomeSurvivesATokenRefresh(t *testing.T) {
	client := dynalitetest.Start(t)
	dynalitetest.CreateTable(t, client, tokenstore.CreateTableInput("tokens"))
	store := tokenstore.New(client, "tokens")
	ctx := context.Background()
	parked := outcome.Build{ARN: testBuildARN, ID: testBuildID, Project: "sample-codebuild-project",
		Account: "222222222222", Region: "eu-west-1", Status: outcome.StatusSucceeded}
	raw, _ := json.Marshal(parked)
	if err := store.Park(ctx, tokenstore.Record{BuildARN: testBuildARN, Account: "222222222222", Region: "eu-west-1",
		Project: "sample-codebuild-project", Outcome: string(raw), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	s := &throttleFirst{}
	f := newFixture(t, io.Discard)
	f.h.Store = store
	f.h.Lease = time.Minute
	f.h.Finisher = &completion.Completer{SFN: s, Store: store, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Metrics: metrics.New(io.Discard, "starter")}

	if _, err := f.h.Handle(ctx, requests(t)["event"]); runtimetest.ErrorName(err) != "TransientError" {
		t.Fatalf("first attempt: %v, want TransientError (throttled send)", err)
	}
	var retry map[string]any
	if err := json.Unmarshal(requests(t)["event"], &retry); err != nil {
		t.Fatal(err)
	}
	retry["taskToken"] = "AQCEAAAAKgAAAAMAAAAAAAAAAretriedTokenValue"
	again, _ := json.Marshal(retry)
	if _, err := f.h.Handle(ctx, again); err != nil {
		t.Fatalf("retried attempt: %v", err)
	}
	if len(s.successes) != 1 || s.successes[0] != retry["taskToken"] {
		t.Fatalf("successes %v: want one, with the retried attempt's token", s.successes)
	}
	got, err := store.Get(ctx, testBuildARN)
	if err != nil || got.State != tokenstore.Completed || got.CompletedBy != outcome.ByEvent {
		t.Fatalf("record %+v, %v", got, err)
	}
}
