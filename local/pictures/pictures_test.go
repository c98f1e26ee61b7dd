package pictures

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/local/xray"
)

// The fixtures are what `crossbuild-pictures -record` wrote for one local run: the
// resolved dashboard body, the recording and the assembled trace of target 0.
func fixtures(t *testing.T) (Dashboard, Recording, []*xray.Node) {
	t.Helper()
	read := func(name string) []byte {
		raw, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	d, err := ParseBody(string(read("dashboard.json")))
	if err != nil {
		t.Fatal(err)
	}
	var rec Recording
	if err := json.Unmarshal(read("recording.json"), &rec); err != nil {
		t.Fatal(err)
	}
	var trace []*xray.Node
	if err := json.Unmarshal(read("trace.json"), &trace); err != nil {
		t.Fatal(err)
	}
	return d, rec, trace
}

func decode(t *testing.T, b []byte) (width, height int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the picture is not a PNG: %v", err)
	}
	return img.Bounds().Dx(), img.Bounds().Dy()
}

// TestRenderDashboardFixture draws every widget of the recorded dashboard, in its order,
// with every line, into a PNG of the grid's size; a widget whose metrics the local runtime
// has no source for says so instead of showing numbers.
func TestRenderDashboardFixture(t *testing.T) {
	d, rec, _ := fixtures(t)
	var out bytes.Buffer
	drawn, err := RenderDashboard(&out, d, rec, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Seven widgets of width 12 and height 6 on a 24-column grid: four rows.
	if w, h := decode(t, out.Bytes()); w != 1600 || h != 1600 {
		t.Errorf("dashboard picture is %dx%d, want 1600x1600", w, h)
	}
	if len(drawn) != len(d.Widgets) {
		t.Fatalf("drew %d widgets, the dashboard has %d", len(drawn), len(d.Widgets))
	}
	for i, w := range d.Widgets {
		if drawn[i].Title != w.Title || len(drawn[i].Lines) != len(w.Metrics) {
			t.Errorf("widget %d: drew %q with %d lines, the dashboard has %q with %d metrics", i, drawn[i].Title, len(drawn[i].Lines), w.Title, len(w.Metrics))
		}
	}
	// The local runtime has no age of the oldest dead letter: that line says so.
	var lines []string
	for _, dw := range drawn {
		lines = append(lines, dw.Lines...)
	}
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "oldest") && strings.HasSuffix(l, "no local source") }) {
		t.Errorf("no line says the oldest message's age has no local source: %q", lines)
	}
}

// TestRenderDashboardUnrecorded: a widget none of whose metrics the run records is drawn
// empty, with a note naming them, not with invented numbers.
func TestRenderDashboardUnrecorded(t *testing.T) {
	d, rec, _ := fixtures(t)
	rec.Sources = nil
	drawn, err := RenderDashboard(&bytes.Buffer{}, d, rec, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, dw := range drawn {
		if !strings.HasPrefix(dw.Note, "not recorded by the local runtime: ") {
			t.Errorf("%q: note %q", dw.Title, dw.Note)
		}
	}
}

// TestRenderTraceFixture draws one bar per document of the assembled trace.
func TestRenderTraceFixture(t *testing.T) {
	_, _, trace := fixtures(t)
	var out bytes.Buffer
	if err := RenderTrace(&out, "target 0", trace); err != nil {
		t.Fatal(err)
	}
	rows := TraceRows(trace)
	// The starter, its six AWS calls, the build, its ten phases and the completion.
	if rows != 19 {
		t.Errorf("%d documents in the trace fixture, want 19", rows)
	}
	if w, h := decode(t, out.Bytes()); w != 1600 || h != 19*24+110 {
		t.Errorf("trace picture is %dx%d, want 1600x%d", w, h, 19*24+110)
	}
	var labels []string
	for _, r := range traceRows(trace) {
		labels = append(labels, r.label)
	}
	for _, want := range []string{"starter", "sample-codebuild-project (AWS::CodeBuild::Project) build_status=SUCCEEDED", "BUILD",
		"completion SendTaskSuccess completed_by=event completion_path=event"} {
		if !slices.Contains(labels, want) {
			t.Errorf("no document %q in %q", want, labels)
		}
	}
	if err := RenderTrace(&bytes.Buffer{}, "empty", nil); err == nil {
		t.Error("an empty trace was drawn")
	}
}
