package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/internal/awstest"
	"github.com/crossbuild/crossbuild/internal/buildtrace"
	"github.com/crossbuild/crossbuild/internal/metrics"
	"github.com/crossbuild/crossbuild/internal/testfixtures"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
	"github.com/crossbuild/crossbuild/internal/tracing"
	"github.com/crossbuild/crossbuild/internal/tracing/tracingtest"
)

// The poller's last poll is a completion: counted by path (fallback when the target waited
// for events, poll in poll mode) with its lag, and drawn into the execution's trace with
// the build and its phases; a poll of a running build adds only the phases that ended.
func TestPollCompletesTheTrace(t *testing.T) {
	cases := []struct {
		name, reply, completion, wantPath string
		wantDocs                          func(names map[string]int) bool
	}{
		{"fallback", "batchgetbuilds-succeeded.json", "event", metrics.PathFallback,
			func(n map[string]int) bool {
				return n["sample-codebuild-project"] == 1 && n["completion"] == 1 && n["BUILD"] == 1
			}},
		{"poll mode", "batchgetbuilds-failed.json", "poll", metrics.PathPoll,
			func(n map[string]int) bool {
				return n["sample-codebuild-project"] == 1 && n["completion"] == 1 && n["BUILD"] == 1
			}},
		{"running", "batchgetbuilds-in-progress.json", "event", "",
			func(n map[string]int) bool {
				return n["sample-codebuild-project"] == 0 && n["completion"] == 0 && n["SUBMITTED"] == 1
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := awstest.NewServer(t, func(awstest.Request) awstest.Reply { return reply(t, tc.reply) })
			rec := record()
			rec.Completion = tc.completion
			rec.TraceID = fmt.Sprintf("1-%08x-0123456789abcdef01234567", time.Now().Add(-time.Hour).Unix())
			rec.TraceParent = "53995c3f42cd8ad8"
			h := newHandler(t, &fakeStore{recs: []tokenstore.Record{rec}}, srv.URL)
			var emf strings.Builder
			h.Metrics = metrics.New(&emf, "poller")
			sent := &tracingtest.Datagrams{}
			p := tracing.NewProvider(tracing.NewExporter(sent), "crossbuild-poller")
			if _, err := tracing.Wrap(p, "poller", h.Handle)(context.Background(), json.RawMessage(`{"buildArn":"`+testfixtures.BuildARN+`"}`)); err != nil {
				t.Fatal(err)
			}
			names := map[string]int{}
			tg := buildtrace.FromRecord(rec)
			for _, d := range sent.Docs {
				names[d["name"].(string)]++
				if d["trace_id"] != rec.TraceID {
					t.Errorf("document outside the execution's trace: %v", d)
				}
				if d["name"] == buildtrace.CompletionName && d["annotations"].(map[string]any)[buildtrace.KeyCompletionPath] != tc.wantPath {
					t.Errorf("completion %v, want path %s", d, tc.wantPath)
				}
				if d["name"] == "sample-codebuild-project" && (d["id"] != tg.BuildID() || d["parent_id"] != rec.TraceParent) {
					t.Errorf("build %v", d)
				}
			}
			if !tc.wantDocs(names) {
				t.Errorf("documents %v", names)
			}
			completions := strings.Count(emf.String(), `"Completions":1`)
			if (tc.wantPath == "") != (completions == 0) || (tc.wantPath != "" && !strings.Contains(emf.String(), `"Path":"`+tc.wantPath+`"`)) {
				t.Errorf("completion metrics %s", emf.String())
			}
		})
	}
}
