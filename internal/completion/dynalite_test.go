package completion_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/crossbuild/crossbuild/internal/completion"
	"github.com/crossbuild/crossbuild/internal/dynalitetest"
	"github.com/crossbuild/crossbuild/internal/metrics"
	"github.com/crossbuild/crossbuild/internal/outcome"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

// closedTask refuses every send: the heartbeat timed out and the polling branch owns the
// target now.
type closedTask struct{}

func (closedTask) SendTaskSuccess(context.Context, *sfn.SendTaskSuccessInput, ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	return nil, &sfntypes.TaskTimedOut{Message: aws.String("Task Timed Out")}
}

func (closedTask) SendTaskFailure(context.Context, *sfn.SendTaskFailureInput, ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	return nil, &sfntypes.TaskTimedOut{Message: aws.String("Task Timed Out")}
}

// The callback and the poller race on a target whose heartbeat timed out: the execution's
// result comes from the poller, and the record says so whichever of them writes first.
func TestCompletedByMatchesTheResult(t *testing.T) {
	for _, pollerFirst := range []bool{false, true} {
		name := map[bool]string{false: "event refused, then the poll completes", true: "poll completes under the event's claim"}[pollerFirst]
		t.Run(name, func(t *testing.T) {
			client := dynalitetest.Start(t)
			dynalitetest.CreateTable(t, client, tokenstore.CreateTableInput("tokens"))
			store := tokenstore.New(client, "tokens")
			ctx := context.Background()
			const arn = "arn:aws:codebuild:eu-west-1:222222222222:build/p:1"
			if err := store.Create(ctx, tokenstore.Record{BuildARN: arn, BuildID: "p:1", TaskToken: "token-1",
				ExecutionARN: "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1", CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			claimed, err := store.ClaimAs(ctx, arn, tokenstore.NewOwnerID(), time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			c := &completion.Completer{SFN: closedTask{}, Store: store, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Metrics: metrics.New(io.Discard, "test")}
			b := outcome.Build{ARN: arn, ID: "p:1", Project: "p", Account: "222222222222", Region: "eu-west-1", Status: outcome.StatusSucceeded}
			if pollerFirst {
				if err := store.Complete(ctx, arn, outcome.ByPoll); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Finish(ctx, claimed, b, outcome.ByEvent); err != nil {
				t.Fatal(err)
			}
			if !pollerFirst {
				if err := store.Complete(ctx, arn, outcome.ByPoll); err != nil {
					t.Fatalf("the poller's completion after a refused event: %v", err)
				}
			}
			got, err := store.Get(ctx, arn)
			if err != nil || got.State != tokenstore.Completed || got.CompletedBy != outcome.ByPoll {
				t.Fatalf("record %s by %q (%v), want COMPLETED by poll", got.State, got.CompletedBy, err)
			}
		})
	}
}
