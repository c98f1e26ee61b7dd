package main

import (
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/crossbuild/crossbuild/internal/plan"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

// The handler as the Lambda runtime calls it: raw payload bytes in, JSON out, and the
// error type name Step Functions matches on.
func TestRuntimeInvoke(t *testing.T) {
	f := newFakeS3()
	h := lambda.NewHandler(tracing.Wrap(nil, "planner", newHandler(f, io.Discard).Handle))
	out, err := h.Invoke(context.Background(), requests(t)["walkthrough"])
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var p plan.Plan
	if err := json.Unmarshal(out, &p); err != nil || p.Count != 1 || p.Items.Key != "runs/run-1/items.json" {
		t.Fatalf("output %s (%v)", out, err)
	}
	for _, name := range []string{"array-input", "fractional-concurrency"} {
		if _, err := h.Invoke(context.Background(), requests(t)[name]); tracing.ErrorType(err) != "InvalidInput" {
			t.Errorf("%s through the runtime: %T %v", name, err, err)
		}
	}
}
