package tracing

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// recentRoot is a trace id that began at t, as X-Ray ids do.
func recentRoot(t time.Time) string {
	return fmt.Sprintf("1-%08x-0123456789abcdef01234567", t.Unix())
}

func TestEmitSendsDocumentsIntoAnotherTrace(t *testing.T) {
	p, sink := setupSink(t)
	began := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	root := recentRoot(began)
	build := DocumentID(root, "arn:aws:codebuild:eu-west-1:222222222222:build/p:1")
	docs := []Document{
		{TraceID: root, ID: build, ParentID: "53995c3f42cd8ad8", Name: "sample-codebuild-project",
			Origin: "AWS::CodeBuild::Project", Start: began, InProgress: true, Region: "eu-west-1", AccountID: "222222222222",
			Annotations: map[string]any{"build_arn": "arn:aws:codebuild:eu-west-1:222222222222:build/p:1", "bad": []string{"x"}}},
		{TraceID: root, ID: DocumentID(root, "phase", "BUILD"), ParentID: build, Subsegment: true, Name: "BUILD",
			Start: began.Add(time.Minute), End: began.Add(2 * time.Minute), Fault: true,
			ErrorType: "CodeBuild.FAULT", ErrorMessage: "phase BUILD", Metadata: map[string]any{"phase_status": "FAULT"}},
	}
	// Not sampled: the documents belong to the older trace, which was.
	h := Wrap(p, "callback", func(ctx context.Context, _ int) (int, error) {
		return 0, Emit(ctx, docs...)
	})
	if _, err := h(lambdaContext("Root="+testRoot+";Parent="+testParent+";Sampled=0"), 0); err != nil {
		t.Fatalf("Emit: %v", err)
	}
	got := sink.receive(2)
	seg, sub := got[0], got[1]
	wantStr(t, seg, "trace_id", root)
	wantStr(t, seg, "id", build)
	wantStr(t, seg, "parent_id", "53995c3f42cd8ad8")
	wantStr(t, seg, "origin", "AWS::CodeBuild::Project")
	wantStr(t, seg, "aws.account_id", "222222222222")
	wantStr(t, seg, "annotations.build_arn", "arn:aws:codebuild:eu-west-1:222222222222:build/p:1")
	wantNum(t, seg, "start_time", float64(began.Unix()))
	if !seg.flag(t, "in_progress") {
		t.Error("in_progress not set")
	}
	wantAbsent(t, seg, "type", "end_time", "annotations.bad")

	wantStr(t, sub, "type", "subsegment")
	wantStr(t, sub, "parent_id", build)
	if ex := exceptions(t, sub); ex[0]["type"] != "CodeBuild.FAULT" || ex[0]["message"] != "phase BUILD" {
		t.Errorf("exception = %v", ex[0])
	}
	wantStr(t, sub, "metadata.default.phase_status", "FAULT")
	wantNum(t, sub, "end_time", float64(began.Add(2*time.Minute).Unix()))
	wantFlags(t, sub, false, true, false)
	wantAbsent(t, sub, "origin", "in_progress")
	drained(t, p, sink)
}

func TestEmitRefusesWhatXRayWouldNot(t *testing.T) {
	p, sink := setupSink(t)
	now := time.Now()
	ok := Document{TraceID: recentRoot(now), ID: "0a1b2c3d4e5f6071", Name: "x", Start: now, End: now}
	tests := []struct {
		name   string
		change func(*Document)
	}{
		{"trace older than the window", func(d *Document) { d.TraceID = recentRoot(now.Add(-MaxTraceAge - time.Hour)) }},
		{"trace from the future", func(d *Document) { d.TraceID = recentRoot(now.Add(time.Hour)) }},
		{"malformed trace id", func(d *Document) { d.TraceID = "1-xyz" }},
		{"upper-case id", func(d *Document) { d.ID = "0A1B2C3D4E5F6071" }},
		{"zero parent", func(d *Document) { d.ParentID = "0000000000000000" }},
		{"subsegment without parent", func(d *Document) { d.Subsegment = true }},
		{"no end and not in progress", func(d *Document) { d.End = time.Time{} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := ok
			tc.change(&d)
			h := Wrap(p, "callback", func(ctx context.Context, _ int) (int, error) { return 0, Emit(ctx, d) })
			_, err := h(lambdaContext(""), 0)
			var de *DocumentError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *DocumentError", err)
			}
			drained(t, p, sink)
		})
	}
	// Outside Wrap there is nowhere to send to.
	if err := Emit(context.Background(), ok); err != nil {
		t.Errorf("Emit outside Wrap: %v", err)
	}
	drained(t, p, sink)
}

func TestDocumentIDAndParentID(t *testing.T) {
	a, b := DocumentID("t", "build", "BUILD"), DocumentID("t", "build", "BUILD")
	if a != b || !validDocumentID(a) || a == DocumentID("t", "buildBUILD") {
		t.Errorf("DocumentID: %s, %s, %s", a, b, DocumentID("t", "buildBUILD"))
	}
	p, _ := setupSink(t)
	for header, want := range map[string]bool{testHeader: true, "Root=" + testRoot + ";Parent=" + testParent + ";Sampled=0": false} {
		h := Wrap(p, "starter", func(ctx context.Context, _ int) (string, error) { return ParentID(ctx), nil })
		got, _ := h(lambdaContext(header), 0)
		if (got != "") != want || (want && !validDocumentID(got)) {
			t.Errorf("ParentID under %q = %q", header, got)
		}
	}
	if got := ParentID(context.Background()); got != "" {
		t.Errorf("ParentID outside a span = %q", got)
	}
}
