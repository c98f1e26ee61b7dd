package main

import (
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/crossbuild/crossbuild/internal/contract"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/runtimetest"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

// The handler as the Lambda runtime calls it: raw payload bytes in, JSON out.
func TestRuntimeInvoke(t *testing.T) {
	f := newFixture(t, io.Discard)
	h := lambda.NewHandler(failure.Report(tracing.Wrap(nil, "starter", f.h.Handle)))
	out, err := h.Invoke(context.Background(), requests(t)["poll"])
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var d contract.Descriptor
	if err := json.Unmarshal(out, &d); err != nil || d.BuildARN != testBuildARN || d.Completion != "poll" {
		t.Fatalf("output %s (%v)", out, err)
	}
}

// The error name Step Functions matches, as the Lambda runtime sends it, through the same
// wrapping main uses.
func TestRuntimeErrorNames(t *testing.T) {
	f := newFixture(t, io.Discard)
	h := lambda.NewHandler(failure.Report(tracing.Wrap(nil, "starter", f.h.Handle)))
	res := runtimetest.Invoke(t, h, requests(t)["invalid-target"], requests(t)["not-allowed"])
	for i, want := range []string{failure.NameInvalidTarget, failure.NameTargetNotAllowed} {
		if res[i].ErrorType != want {
			t.Errorf("invocation %d went out as %+v, want %s", i, res[i], want)
		}
	}
}
