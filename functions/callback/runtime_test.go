package main

import (
	"context"
	"io"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/runtimetest"
	"github.com/crossbuild/crossbuild/internal/testfixtures"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

// The handler as the Lambda runtime calls it: raw payload bytes in, through the same
// wrapping main uses.
func TestRuntimeInvoke(t *testing.T) {
	store, s := newMemStore(waitingRecord()), &fakeSFN{}
	h := lambda.NewHandler(failure.Report(tracing.Wrap(nil, "callback", newHandler(t, store, s, io.Discard).Invoke)))
	raw, err := testfixtures.Raw(testfixtures.StateSucceeded)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Invoke(context.Background(), raw); err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if s.completions() != 1 || store.state(testfixtures.BuildARN) != tokenstore.Completed {
		t.Fatalf("completions %d", s.completions())
	}
	if _, err := h.Invoke(context.Background(), []byte(`{"source":"aws.ec2"}`)); err == nil {
		t.Fatal("want an InvalidEvent error through the runtime")
	}
}

// An event that is not a CodeBuild build event goes out of the runtime as InvalidEvent.
func TestRuntimeErrorNames(t *testing.T) {
	h := lambda.NewHandler(failure.Report(tracing.Wrap(nil, "callback", newHandler(t, newMemStore(), &fakeSFN{}, io.Discard).Invoke)))
	if res := runtimetest.Invoke(t, h, []byte(`{"source":"aws.ec2"}`)); res[0].ErrorType != "InvalidEvent" {
		t.Errorf("went out as %+v", res[0])
	}
}
