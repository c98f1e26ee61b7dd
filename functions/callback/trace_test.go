package main

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/internal/buildtrace"
	"github.com/crossbuild/crossbuild/internal/testfixtures"
	"github.com/crossbuild/crossbuild/internal/tracing"
	"github.com/crossbuild/crossbuild/internal/tracing/tracingtest"
)

// Events add to the execution's trace whichever invocation handles them: a progress event
// the phases that ended, the terminal event whose outcome Step Functions accepts the
// complete build, its phases and the completion; a duplicate of it nothing new.
func TestEventsBuildTheExecutionsTrace(t *testing.T) {
	rec := waitingRecord()
	rec.TraceID = fmt.Sprintf("1-%08x-0123456789abcdef01234567", time.Now().Add(-time.Hour).Unix())
	rec.TraceParent = "53995c3f42cd8ad8"
	tg := buildtrace.FromRecord(rec)
	store := newMemStore(rec)
	h := newHandler(t, store, &fakeSFN{}, io.Discard)
	sent := &tracingtest.Datagrams{}
	p := tracing.NewProvider(tracing.NewExporter(sent), "crossbuild-callback")
	handle := tracing.Wrap(p, "callback", h.Invoke)
	cases := []struct {
		fixture  string
		wantDocs map[string]int // by name, from this event
	}{
		{testfixtures.PhaseBuild, map[string]int{"BUILD": 1, "PROVISIONING": 1}},
		{testfixtures.StateSucceeded, map[string]int{"sample-codebuild-project": 1, "BUILD": 1, "completion": 1}},
		{testfixtures.StateSucceeded, map[string]int{}},
	}
	for i, tc := range cases {
		sent.Docs = nil
		if _, err := handle(context.Background(), fixture(t, tc.fixture)); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		got := map[string]int{}
		for _, d := range sent.Docs {
			if d["trace_id"] != rec.TraceID {
				continue // the callback's own invocation
			}
			got[d["name"].(string)]++
			want := tg.PhaseID(d["name"].(string))
			switch d["name"] {
			case "sample-codebuild-project":
				want = tg.BuildID()
			case buildtrace.CompletionName:
				want = tg.CompletionID()
			}
			if d["id"] != want {
				t.Errorf("event %d: %s has id %v, want %s", i, d["name"], d["id"], want)
			}
		}
		for name, n := range tc.wantDocs {
			if got[name] != n {
				t.Errorf("event %d (%s): %d documents named %s, want %d: %v", i, tc.fixture, got[name], name, n, got)
			}
		}
		if len(tc.wantDocs) == 0 && len(got) != 0 {
			t.Errorf("event %d (duplicate): sent %v", i, got)
		}
	}
}
