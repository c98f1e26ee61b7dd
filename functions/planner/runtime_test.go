package main

import (
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/plan"
	"github.com/crossbuild/crossbuild/internal/runtimetest"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

// The handler as the Lambda runtime calls it: raw payload bytes in, JSON out, and the
// error type name Step Functions matches on.
func TestRuntimeInvoke(t *testing.T) {
	f := newFakeS3()
	h := lambda.NewHandler(failure.Report(tracing.Wrap(nil, "planner", newHandler(f, io.Discard).Handle)))
	out, err := h.Invoke(context.Background(), requests(t)["walkthrough"])
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var p plan.Plan
	if err := json.Unmarshal(out, &p); err != nil || p.Count != 1 || p.Items.Key != "runs/run-1/items.json" {
		t.Fatalf("output %s (%v)", out, err)
	}
}

// The error name Step Functions matches, as the Lambda runtime sends it, through the same
// wrapping main uses.
func TestRuntimeErrorNames(t *testing.T) {
	h := lambda.NewHandler(failure.Report(tracing.Wrap(nil, "planner", newHandler(newFakeS3(), io.Discard).Handle)))
	names := []string{"array-input", "fractional-concurrency"}
	res := runtimetest.Invoke(t, h, requests(t)[names[0]], requests(t)[names[1]])
	for i, name := range names {
		if res[i].ErrorType != failure.NameInvalidInput {
			t.Errorf("%s went out as %+v", name, res[i])
		}
	}
}
