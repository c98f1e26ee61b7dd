package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/crossbuild/crossbuild/internal/awstest"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/runtimetest"
	"github.com/crossbuild/crossbuild/internal/testfixtures"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

// The handler as the Lambda runtime calls it: raw payload bytes in, through the same
// wrapping main uses, and the run's summary out.
func TestRuntimeInvoke(t *testing.T) {
	w := newWorld(t, newMemStore(record(tokenstore.Waiting)), map[string][]awstest.Reply{
		opGet: {file(t, "batchgetbuilds-succeeded.json")}, opDescribe: {file(t, "describeexecution-running.json")},
		opSuccess: {awstest.JSON(200, `{}`)},
	})
	h := lambda.NewHandler(failure.Report(tracing.Wrap(nil, "reconciler", w.h.Invoke)))
	out, err := h.Invoke(context.Background(), fixture(t, "scheduled-event.json"))
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var sum Summary
	if err := json.Unmarshal(out, &sum); err != nil || sum.Listed != 1 || sum.Reconciled != 1 {
		t.Fatalf("output %s (%v)", out, err)
	}
	if rec := w.store.get(testfixtures.BuildARN); rec.State != tokenstore.Completed || rec.CompletedBy != "reconciler" {
		t.Fatalf("record %s by %q", rec.State, rec.CompletedBy)
	}
	if _, err := h.Invoke(context.Background(), []byte(`"not an object"`)); err == nil {
		t.Fatal("want an InvalidEvent error through the runtime")
	}
}

// A payload that is not a JSON object goes out of the runtime as InvalidEvent.
func TestRuntimeErrorNames(t *testing.T) {
	w := newWorld(t, newMemStore(), map[string][]awstest.Reply{})
	h := lambda.NewHandler(failure.Report(tracing.Wrap(nil, "reconciler", w.h.Invoke)))
	if res := runtimetest.Invoke(t, h, []byte(`"not an object"`)); res[0].ErrorType != "InvalidEvent" {
		t.Errorf("went out as %+v", res[0])
	}
}
