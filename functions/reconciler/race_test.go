package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/crossbuild/crossbuild/internal/completion"
	"github.com/crossbuild/crossbuild/internal/dynalitetest"
	"github.com/crossbuild/crossbuild/internal/metrics"
	"github.com/crossbuild/crossbuild/internal/outcome"
	"github.com/crossbuild/crossbuild/internal/target"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

// fakeSFN is Step Functions for one execution that runs: it accepts one completion per
// token, as Step Functions does, answers TaskTimedOut to any later one, and remembers who
// completed each task.
type fakeSFN struct {
	mu    sync.Mutex
	sends map[string]int    // accepted completions by token
	by    map[string]string // completedBy of the accepted completion, by token
	tries int
}

func (f *fakeSFN) send(token, by string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tries++
	if f.sends[token] > 0 {
		return &sfntypes.TaskTimedOut{Message: aws.String("Task Timed Out")}
	}
	f.sends[token]++
	f.by[token] = by
	return nil
}

func (f *fakeSFN) SendTaskSuccess(_ context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	var res outcome.Result
	if err := json.Unmarshal([]byte(aws.ToString(in.Output)), &res); err != nil {
		return nil, err
	}
	return &sfn.SendTaskSuccessOutput{}, f.send(aws.ToString(in.TaskToken), res.CompletedBy)
}

func (f *fakeSFN) SendTaskFailure(_ context.Context, in *sfn.SendTaskFailureInput, _ ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	return &sfn.SendTaskFailureOutput{}, f.send(aws.ToString(in.TaskToken), "failure")
}

func (f *fakeSFN) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	return &sfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Status: sfntypes.ExecutionStatusRunning}, nil
}

// succeededBuilds is CodeBuild in the target account: every build asked for has succeeded.
type succeededBuilds struct{}

func (succeededBuilds) BatchGetBuilds(_ context.Context, in *codebuild.BatchGetBuildsInput, _ ...func(*codebuild.Options)) (*codebuild.BatchGetBuildsOutput, error) {
	out := &codebuild.BatchGetBuildsOutput{}
	for _, id := range in.Ids {
		out.Builds = append(out.Builds, cbtypes.Build{Id: aws.String(id), BuildStatus: cbtypes.StatusTypeSucceeded,
			Arn: aws.String("arn:aws:codebuild:eu-west-1:222222222222:build/" + id)})
	}
	return out, nil
}

func (succeededBuilds) StopBuild(context.Context, *codebuild.StopBuildInput, ...func(*codebuild.Options)) (*codebuild.StopBuildOutput, error) {
	return nil, fmt.Errorf("no build of a running execution is stopped")
}

// TestRaceWithCallbackOnDynalite: the real token store on dynalite, the real completer. For
// each of many builds whose completion looks lost, the reconciler's sweep and the callback
// (two deliveries of the build's terminal event, each claiming and finishing as the callback
// does) race: some events come before the sweep, some while it runs, some after it. Every task gets exactly one completion, the record names the path that sent
// it, and a second sweep sends nothing.
func TestRaceWithCallbackOnDynalite(t *testing.T) {
	client := dynalitetest.Start(t)
	dynalitetest.CreateTable(t, client, tokenstore.CreateTableInput("tokens"))
	store := tokenstore.New(client, "tokens")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	allow, err := target.NewAllowList([]string{"222222222222"}, []string{"eu-west-1"}, []string{"arn:aws:iam::222222222222:role/crossbuild-*"})
	if err != nil {
		t.Fatal(err)
	}

	for round := range 4 {
		const builds = 12
		sfnFake := &fakeSFN{sends: map[string]int{}, by: map[string]string{}}
		var recs []tokenstore.Record
		for i := range builds {
			id := fmt.Sprintf("sample-codebuild-project:%02d%02d0000-7d2a-4c1b-9e55-2a6d1f3c8b90", round, i)
			r := record(tokenstore.Waiting)
			r.BuildARN, r.BuildID, r.MapIndex = "arn:aws:codebuild:eu-west-1:222222222222:build/"+id, id, i
			r.TaskToken = fmt.Sprintf("token-%d-%d", round, i)
			r.CreatedAt = time.Now().Add(-time.Hour)
			if err := store.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
		}
		rec := metrics.New(io.Discard, "reconciler")
		h := &Handler{
			Store:    store,
			Finisher: &completion.Completer{SFN: SendRecorder{sfnFake}, Store: store, Log: log, Metrics: rec},
			SFN:      sfnFake, Roles: &staticRoles{},
			CodeBuild: func(string, aws.CredentialsProvider) CodeBuildAPI { return succeededBuilds{} },
			Allow:     allow, StateMachineARN: testSM, After: time.Minute, Lease: time.Minute, Limit: 1000, Concurrency: 4,
			Margin: time.Second, Log: log, Metrics: rec, Now: time.Now,
		}
		callback := &completion.Completer{SFN: sfnFake, Store: store, Log: log, Metrics: metrics.New(io.Discard, "callback")}

		var wg sync.WaitGroup
		swept := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(swept)
			if _, err := h.Handle(ctx, []byte(`{}`)); err != nil {
				t.Errorf("sweep: %v", err)
			}
		}()
		for i, r := range recs {
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// A third of the events come at once, a third within the sweep, a third
					// after it: both paths win some, and some are true races.
					switch i % 3 {
					case 1:
						time.Sleep(time.Duration(rand.N(150)) * time.Millisecond)
					case 2:
						<-swept
					}
					// The callback's path for a terminal event: claim with its own owner id, finish.
					claimed, err := store.ClaimAs(ctx, r.BuildARN, tokenstore.NewOwnerID(), time.Minute)
					if err != nil {
						return // under way or done: the callback returns nil then
					}
					b := outcome.Build{ARN: r.BuildARN, ID: r.BuildID, Project: r.Project, Account: r.Account, Region: r.Region,
						Status: outcome.StatusSucceeded}
					if err := callback.Finish(ctx, claimed, b, outcome.ByEvent); err != nil {
						t.Errorf("callback finish: %v", err)
					}
				}()
			}
		}
		wg.Wait()

		byReconciler := 0
		for _, r := range recs {
			if n := sfnFake.sends[r.TaskToken]; n != 1 {
				t.Fatalf("round %d build %d: %d completions", round, r.MapIndex, n)
			}
			got, err := store.Get(ctx, r.BuildARN)
			if err != nil {
				t.Fatal(err)
			}
			// The record says who sent the completion the execution holds.
			if got.State != tokenstore.Completed || got.CompletedBy != sfnFake.by[r.TaskToken] {
				t.Fatalf("round %d build %d: record %s by %q, the task was completed by %q",
					round, r.MapIndex, got.State, got.CompletedBy, sfnFake.by[r.TaskToken])
			}
			if got.CompletedBy == outcome.ByReconciler {
				byReconciler++
			}
		}
		t.Logf("round %d: %d of %d completed by the reconciler, %d sends tried", round, byReconciler, builds, sfnFake.tries)
		if byReconciler < builds/3 {
			t.Fatalf("round %d: the reconciler completed %d builds, fewer than those whose events came after it", round, byReconciler)
		}

		// Idempotent: nothing is open any more, and a second sweep sends nothing.
		tries := sfnFake.tries
		sum, err := h.Handle(ctx, []byte(`{}`))
		if err != nil || sum.Reconciled != 0 || sfnFake.tries != tries {
			t.Fatalf("second sweep: %+v, %v, %d more sends", sum, err, sfnFake.tries-tries)
		}
	}
}
