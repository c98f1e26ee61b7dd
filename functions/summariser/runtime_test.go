package main

import (
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/runtimetest"
	"github.com/crossbuild/crossbuild/internal/summary"
	"github.com/crossbuild/crossbuild/internal/testfixtures"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

// The handler as the Lambda runtime calls it: raw payload bytes in, JSON out with the
// field names the state machine's Choice and Fail states read.
func TestRuntimeInvoke(t *testing.T) {
	h := lambda.NewHandler(failure.Report(tracing.Wrap(nil, "summariser", newHandler(newFakeS3(testfixtures.MapRunObjects()), io.Discard).Handle)))
	out, err := h.Invoke(context.Background(), requests(t)["map-run"])
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var resp struct {
		Output struct {
			Summary         summary.Summary  `json:"summary"`
			ResultsLocation summary.Location `json:"resultsLocation"`
		} `json:"output"`
		Failed *bool   `json:"failed"`
		Cause  *string `json:"cause"`
	}
	if err := json.Unmarshal(out, &resp); err != nil || resp.Failed == nil || !*resp.Failed || resp.Cause == nil ||
		resp.Output.Summary.Total != 6 || resp.Output.ResultsLocation.Bucket != testBucket {
		t.Fatalf("output %s (%v)", out, err)
	}
}

// The error name Step Functions matches, as the Lambda runtime sends it, through the same
// wrapping main uses.
func TestRuntimeErrorNames(t *testing.T) {
	h := lambda.NewHandler(failure.Report(tracing.Wrap(nil, "summariser", newHandler(newFakeS3(testfixtures.MapRunObjects()), io.Discard).Handle)))
	res := runtimetest.Invoke(t, h, requests(t)["other-bucket"])
	if res[0].ErrorType != failure.NameInvalidInput {
		t.Errorf("went out as %+v", res[0])
	}
}
