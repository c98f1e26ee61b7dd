package main

import (
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/crossbuild/crossbuild/internal/contract"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

// The handler as the Lambda runtime calls it: raw payload bytes in, JSON out.
func TestRuntimeInvoke(t *testing.T) {
	f := newFixture(t, io.Discard)
	h := lambda.NewHandler(tracing.Wrap(nil, "starter", f.h.Handle))
	out, err := h.Invoke(context.Background(), requests(t)["poll"])
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var d contract.Descriptor
	if err := json.Unmarshal(out, &d); err != nil || d.BuildARN != testBuildARN || d.Completion != "poll" {
		t.Fatalf("output %s (%v)", out, err)
	}
	if _, err := h.Invoke(context.Background(), requests(t)["invalid-target"]); tracing.ErrorType(err) != "InvalidTarget" {
		t.Fatalf("error through the runtime: %T %v", err, err)
	}
}
