package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/crossbuild/crossbuild/internal/awstest"
	"github.com/crossbuild/crossbuild/internal/contract"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/testfixtures"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

// The handler as the Lambda runtime calls it: raw payload bytes in, JSON out.
func TestRuntimeInvoke(t *testing.T) {
	srv := awstest.NewServer(t, func(awstest.Request) awstest.Reply { return reply(t, "batchgetbuilds-in-progress.json") })
	hd := newHandler(t, &fakeStore{recs: []tokenstore.Record{record()}}, srv.URL)
	h := lambda.NewHandler(failure.Report(tracing.Wrap(nil, "poller", hd.Handle)))
	out, err := h.Invoke(context.Background(), []byte(`{"buildArn":"`+testfixtures.BuildARN+`"}`))
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var resp contract.PollerResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.Status != "IN_PROGRESS" || resp.Terminal {
		t.Fatalf("output %s (%v)", out, err)
	}
}
