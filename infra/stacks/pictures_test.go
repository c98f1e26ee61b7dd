package stacks

import (
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/local/pictures"
)

// drawnMetric is what the picture and the template must agree on for one line.
type drawnMetric struct {
	namespace, name, stat, label string
	right                        bool
	dims                         string
}

func fromTemplate(m dashboardMetric, withValues bool) drawnMetric {
	return drawnMetric{m.namespace, m.name, m.stat, m.label, m.yAxis == "right", dimString(m.dims, withValues)}
}

func fromPicture(m pictures.Metric, withValues bool) drawnMetric {
	return drawnMetric{m.Namespace, m.Name, m.Stat, m.Label, m.Right, dimString(m.Dims, withValues)}
}

// sameMetrics puts a widget's lines as drawn and as the template has them side by side.
func sameMetrics(drawn []pictures.Metric, tmpl []dashboardMetric, withValues bool) (got, want []drawnMetric) {
	for _, m := range drawn {
		got = append(got, fromPicture(m, withValues))
	}
	for _, m := range tmpl {
		want = append(want, fromTemplate(m, withValues))
	}
	return got, want
}

// dimString names the dimensions, with their values or (for a body whose references were
// resolved to a deployment's names) without.
func dimString(dims map[string]string, withValues bool) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(dims)) {
		if withValues {
			k += "=" + dims[k]
		}
		parts = append(parts, k)
	}
	return strings.Join(parts, ",")
}

// TestDashboardPicture: the picture of the dashboard (docs/operations.md, make pictures)
// draws the widgets the stack deploys, each with the template's metrics, statistics and
// labels, so it cannot drift from the dashboard.
func TestDashboardPicture(t *testing.T) {
	_, body := dashboardBody(t, accountsApp)
	_, widgets := dashboard(t, accountsApp)
	d, err := pictures.ParseBody(body)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 4, 5, 0, 0, 0, time.UTC)
	drawn, err := pictures.RenderDashboard(io.Discard, d, pictures.Recording{Start: start, End: start.Add(time.Minute)}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, dw := range drawn {
		titles = append(titles, dw.Title)
		if got, want := sameMetrics(dw.Metrics, widgets[dw.Title], true); !slices.Equal(got, want) {
			t.Errorf("widget %q: the picture draws\n%v\nthe template has\n%v", dw.Title, got, want)
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(titles)), keys(widgets)) {
		t.Errorf("the picture draws widgets %q, the template has %q", titles, keys(widgets))
	}
}

// TestDashboardPictureCurrent: the committed dashboard picture was drawn from the dashboard
// the stack deploys now. make pictures records the body it drew from next to the renderer's
// test fixtures; after a dashboard change this fails until make pictures is run again.
func TestDashboardPictureCurrent(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "local", "pictures", "testdata", "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	recorded, err := pictures.ParseBody(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, widgets := dashboard(t, accountsApp)
	seen := map[string]bool{}
	for _, w := range recorded.Widgets {
		seen[w.Title] = true
		if got, want := sameMetrics(w.Metrics, widgets[w.Title], false); !slices.Equal(got, want) {
			t.Errorf("widget %q of docs/operations/dashboard.png is not the deployed one (run make pictures):\n%v\nthe template has\n%v", w.Title, got, want)
		}
	}
	for title := range widgets {
		if !seen[title] {
			t.Errorf("docs/operations/dashboard.png has no widget %q (run make pictures)", title)
		}
	}
}
