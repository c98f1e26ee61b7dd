package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/internal/buildtrace"
	"github.com/crossbuild/crossbuild/internal/metrics"
	"github.com/crossbuild/crossbuild/internal/tracing"
	"github.com/crossbuild/crossbuild/internal/tracing/tracingtest"
)

// A build the starter starts is counted, and put into the execution's trace in progress
// under the starter's invocation, whose id the record keeps for whoever completes the
// build. An execution whose trace is not sampled gets no document and no parent.
func TestStartedBuildJoinsTheExecutionsTrace(t *testing.T) {
	root := fmt.Sprintf("1-%08x-0123456789abcdef01234567", time.Now().Unix())
	for _, sampled := range []bool{true, false} {
		t.Run(fmt.Sprintf("sampled %v", sampled), func(t *testing.T) {
			f := newFixture(t, io.Discard)
			var emf strings.Builder
			f.h.Metrics = metrics.New(&emf, "starter")
			sent := &tracingtest.Datagrams{}
			p := tracing.NewProvider(tracing.NewExporter(sent), "crossbuild-starter")
			header := "Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=" + map[bool]string{true: "1", false: "0"}[sampled]
			ctx := context.WithValue(context.Background(), "x-amzn-trace-id", header) //nolint:staticcheck // the key aws-lambda-go uses
			if _, err := tracing.Wrap(p, "starter", f.h.Handle)(ctx, requests(t)["event"]); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(emf.String(), `"BuildStarted":1`) {
				t.Errorf("no BuildStarted: %s", emf.String())
			}
			rec := f.store.created[0]
			var build, inv map[string]any
			for _, d := range sent.Docs {
				switch d["name"] {
				case "sample-codebuild-project":
					build = d
				case "starter":
					inv = d
				}
			}
			if !sampled {
				if rec.TraceParent != "" || build != nil || rec.TraceID != root {
					t.Errorf("record %q/%q, build %v", rec.TraceID, rec.TraceParent, build)
				}
				return
			}
			tg := buildtrace.FromRecord(rec)
			if inv == nil || rec.TraceID != root || rec.TraceParent != inv["id"] || build == nil ||
				build["id"] != tg.BuildID() || build["parent_id"] != rec.TraceParent || build["in_progress"] != true || build["origin"] != buildtrace.Origin {
				t.Errorf("record %q/%q, invocation %v, build %v", rec.TraceID, rec.TraceParent, inv, build)
			}
		})
	}
}
