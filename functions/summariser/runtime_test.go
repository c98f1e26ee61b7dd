package main

import (
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/crossbuild/crossbuild/internal/summary"
	"github.com/crossbuild/crossbuild/internal/testfixtures"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

// The handler as the Lambda runtime calls it: raw payload bytes in, JSON out with the
// field names the state machine's Choice and Fail states read.
func TestRuntimeInvoke(t *testing.T) {
	h := lambda.NewHandler(tracing.Wrap(nil, "summariser", newHandler(newFakeS3(testfixtures.MapRunObjects()), io.Discard).Handle))
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
	if _, err := h.Invoke(context.Background(), requests(t)["other-bucket"]); tracing.ErrorType(err) != "InvalidInput" {
		t.Errorf("error through the runtime: %T %v", err, err)
	}
}
