package buildtrace

import (
	"reflect"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/internal/outcome"
	"github.com/crossbuild/crossbuild/internal/testfixtures"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

var rec = tokenstore.Record{
	BuildARN:    "arn:aws:codebuild:eu-west-1:222222222222:build/sample-codebuild-project:0f8c3b4e-7d2a-4c1b-9e55-2a6d1f3c8b90",
	Account:     "222222222222",
	Region:      "eu-west-1",
	Project:     "sample-codebuild-project",
	TraceID:     "1-6745a1b0-0123456789abcdef01234567",
	TraceParent: "53995c3f42cd8ad8",
	Completion:  "event",
}

func build(t *testing.T, fixture string) outcome.Build {
	t.Helper()
	ev, err := testfixtures.Event(fixture)
	if err != nil {
		t.Fatal(err)
	}
	b, err := outcome.FromEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFinishedBuildAndItsPhases(t *testing.T) {
	tests := []struct {
		fixture      string
		status       string
		isErr, fault bool
		failedPhases []string
	}{
		{testfixtures.StateSucceeded, "SUCCEEDED", false, false, nil},
		{testfixtures.StateFailed, "FAILED", true, false, []string{"BUILD"}},
		{testfixtures.StateFault, "FAULT", false, true, nil},
		{testfixtures.StateTimedOut, "TIMED_OUT", true, false, nil},
		{testfixtures.StateStopped, "STOPPED", true, false, nil},
	}
	tg := FromRecord(rec)
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			b := build(t, tc.fixture)
			docs := Finished(tg, b)
			if len(docs) < 2 {
				t.Fatalf("%d documents", len(docs))
			}
			seg := docs[0]
			if seg.Subsegment || seg.ID != tg.BuildID() || seg.ParentID != rec.TraceParent || seg.TraceID != rec.TraceID ||
				seg.Name != rec.Project || seg.Origin != Origin || seg.AccountID != rec.Account || seg.Region != rec.Region ||
				seg.InProgress || !seg.Start.Equal(b.Start) || !seg.End.Equal(b.End) {
				t.Errorf("build segment %+v", seg)
			}
			if seg.Annotations[KeyBuildStatus] != tc.status || seg.Annotations[tracing.KeyBuildARN] != rec.BuildARN ||
				seg.Error != tc.isErr || seg.Fault != tc.fault || (tc.status != "SUCCEEDED") != (seg.ErrorType == outcome.ErrorName(tc.status)) {
				t.Errorf("build segment status %+v", seg)
			}
			names := map[string]bool{}
			var failedPhases []string
			for _, d := range docs[1:] {
				if !d.Subsegment || d.ParentID != tg.BuildID() || d.ID != tg.PhaseID(d.Name) || d.End.Before(d.Start) || d.Start.Before(seg.Start) {
					t.Errorf("phase %+v", d)
				}
				if names[d.Name] || d.Name == "COMPLETED" {
					t.Errorf("phase %s twice, or the COMPLETED marker drawn", d.Name)
				}
				names[d.Name] = true
				if d.Error || d.Fault {
					failedPhases = append(failedPhases, d.Name)
				}
			}
			if tc.failedPhases != nil && !reflect.DeepEqual(failedPhases, tc.failedPhases) {
				t.Errorf("failed phases %v, want %v", failedPhases, tc.failedPhases)
			}
			// A duplicate delivery writes the very same documents.
			if again := Finished(tg, build(t, tc.fixture)); !reflect.DeepEqual(again, docs) {
				t.Error("a second delivery of the event changes the documents")
			}
		})
	}
}

func TestPhasesOfAPhaseChangeAreThoseOfTheFinalEvent(t *testing.T) {
	tg := FromRecord(rec)
	final := map[string]tracing.Document{}
	for _, d := range Finished(tg, build(t, testfixtures.StateSucceeded))[1:] {
		final[d.ID] = d
	}
	for _, fixture := range []string{testfixtures.PhaseProvision, testfixtures.PhaseBuild} {
		docs := Phases(tg, build(t, fixture))
		if len(docs) == 0 {
			t.Fatalf("%s: no phase documents", fixture)
		}
		for _, d := range docs {
			if f, ok := final[d.ID]; !ok || !reflect.DeepEqual(f, d) {
				t.Errorf("%s: phase %s differs from the final event's: %+v vs %+v", fixture, d.Name, d, f)
			}
		}
	}
}

func TestStartedAndCompletion(t *testing.T) {
	tg := FromRecord(rec)
	at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	started := Started(tg, at)
	if len(started) != 1 || !started[0].InProgress || started[0].ID != tg.BuildID() || started[0].ParentID != rec.TraceParent {
		t.Fatalf("started %+v", started)
	}
	b := build(t, testfixtures.StateSucceeded)
	closed := b.End.Add(1500 * time.Millisecond)
	c := Completion(tg, b, Closed{By: "event", Path: "event", Operation: "SendTaskSuccess", At: closed})
	if len(c) != 1 || c[0].Name != CompletionName || c[0].ID != tg.CompletionID() || c[0].ParentID != tg.BuildID() ||
		!c[0].Start.Equal(b.End) || !c[0].End.Equal(closed) || c[0].Operation != "SendTaskSuccess" ||
		c[0].Annotations[KeyCompletedBy] != "event" || c[0].Annotations[KeyCompletionPath] != "event" || c[0].Metadata["lag_seconds"] != 1.5 {
		t.Errorf("completion %+v", c)
	}
	// Not sampled: nothing goes anywhere.
	untraced := tg
	untraced.Parent = ""
	if Started(untraced, at) != nil || Finished(untraced, b) != nil || Phases(untraced, b) != nil || Completion(untraced, b, Closed{At: closed}) != nil {
		t.Error("documents for an untraced build")
	}
}

func TestPath(t *testing.T) {
	for _, tc := range []struct{ by, completion, want string }{
		{"event", "event", "event"},
		{"poll", "event", "fallback"},
		{"poll", "poll", "poll"},
		{"reconciler", "event", "reconciler"},
	} {
		if got := Path(tc.by, tc.completion); got != tc.want {
			t.Errorf("Path(%s, %s) = %s, want %s", tc.by, tc.completion, got, tc.want)
		}
	}
}
