package main

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/crossbuild/crossbuild/internal/awstest"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/runtimetest"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

// The handler as the Lambda runtime calls it: raw payload bytes in, through the same
// wrapping main uses.
func TestRuntimeInvoke(t *testing.T) {
	srv := awstest.NewServer(t, script(t, map[string][]awstest.Reply{
		opGet: {file(t, "batchgetbuilds-in-progress.json")}, opStop: {file(t, "stopbuild-stopping.json")},
	}))
	store := newMemStore(record(tokenstore.Waiting))
	h := lambda.NewHandler(failure.Report(tracing.Wrap(nil, "canceller", newHandler(t, store, &staticRoles{}, srv.URL).Invoke)))
	if _, err := h.Invoke(context.Background(), fixture(t, "event-aborted.json")); err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if store.state(record(tokenstore.Waiting).BuildARN) != tokenstore.Stopped {
		t.Fatal("record not stopped")
	}
	if _, err := h.Invoke(context.Background(), []byte(`{"source":"aws.ec2"}`)); err == nil {
		t.Fatal("want an InvalidEvent error through the runtime")
	}
}

// An event that is not an execution status change goes out of the runtime as InvalidEvent.
func TestRuntimeErrorNames(t *testing.T) {
	srv := awstest.NewServer(t, script(t, map[string][]awstest.Reply{}))
	h := lambda.NewHandler(failure.Report(tracing.Wrap(nil, "canceller", newHandler(t, newMemStore(), &staticRoles{}, srv.URL).Invoke)))
	if res := runtimetest.Invoke(t, h, []byte(`{"source":"aws.ec2"}`)); res[0].ErrorType != "InvalidEvent" {
		t.Errorf("went out as %+v", res[0])
	}
}
