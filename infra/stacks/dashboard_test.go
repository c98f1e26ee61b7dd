package stacks

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crossbuild/crossbuild/infra/config"
	"github.com/crossbuild/crossbuild/internal/metrics"
)

// dashboardWidget is a widget of the synthesized dashboard body.
type dashboardWidget struct {
	Type       string `json:"type"`
	Properties struct {
		Title   string  `json:"title"`
		Metrics [][]any `json:"metrics"`
		Stacked bool    `json:"stacked"`
	} `json:"properties"`
}

// dashboardMetric is one metric line: namespace, name, dimensions, options.
type dashboardMetric struct {
	namespace, name string
	dims            map[string]string
	stat, label     string
	yAxis           string
}

// dashboard decodes the source stack's dashboard.
func dashboard(t *testing.T, a *testApp) (string, map[string][]dashboardMetric) {
	t.Helper()
	name, body := dashboardBody(t, a)
	var decoded struct {
		Widgets []dashboardWidget `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(body), &decoded); err != nil {
		t.Fatalf("dashboard body: %v\n%s", err, body)
	}
	widgets := map[string][]dashboardMetric{}
	for _, w := range decoded.Widgets {
		if w.Type != "metric" {
			continue
		}
		var ms []dashboardMetric
		for _, line := range w.Properties.Metrics {
			m := dashboardMetric{namespace: line[0].(string), name: line[1].(string), dims: map[string]string{}}
			rest := line[2:]
			if n := len(rest); n > 0 {
				if opts, ok := rest[n-1].(map[string]any); ok {
					m.stat, _ = opts["stat"].(string)
					m.label, _ = opts["label"].(string)
					m.yAxis, _ = opts["yAxis"].(string)
					rest = rest[:n-1]
				}
			}
			for i := 0; i+1 < len(rest); i += 2 {
				m.dims[rest[i].(string)] = rest[i+1].(string)
			}
			ms = append(ms, m)
		}
		widgets[w.Properties.Title] = ms
	}
	return name, widgets
}

// dashboardBody is the source stack's dashboard name and body. The body is a Fn::Join of
// text and references; each reference becomes "<Ref:logicalId>" or
// "<GetAtt:logicalId.attribute>".
func dashboardBody(t *testing.T, a *testApp) (name, body string) {
	t.Helper()
	_, props := only(t, a.json[config.SourceStackName], "AWS::CloudWatch::Dashboard")
	join, ok := props["DashboardBody"].(map[string]any)["Fn::Join"].([]any)
	if !ok || len(join) != 2 || join[0] != "" {
		t.Fatalf("DashboardBody is not a Fn::Join of parts: %v", props["DashboardBody"])
	}
	var b strings.Builder
	for _, part := range join[1].([]any) {
		switch p := part.(type) {
		case string:
			b.WriteString(p)
		case map[string]any:
			switch {
			case p["Ref"] != nil:
				fmt.Fprintf(&b, "<Ref:%s>", p["Ref"])
			case p["Fn::GetAtt"] != nil:
				att := p["Fn::GetAtt"].([]any)
				fmt.Fprintf(&b, "<GetAtt:%s.%s>", att[0], att[1])
			default:
				t.Fatalf("unexpected token in the dashboard body: %v", p)
			}
		}
	}
	return props["DashboardName"].(string), b.String()
}

func has(ms []dashboardMetric, namespace, name, stat string, dims map[string]string) bool {
	return slices.ContainsFunc(ms, func(m dashboardMetric) bool {
		if m.namespace != namespace || m.name != name || m.stat != stat || len(m.dims) != len(dims) {
			return false
		}
		for k, v := range dims {
			if m.dims[k] != v {
				return false
			}
		}
		return true
	})
}

// TestDashboard: the source stack's dashboard shows how executions end, completions by
// path and their lag, builds started and stopped, the events the callback did not
// complete with, the dead letters and every function's errors, each from the metric the
// code emits or the resource the stack creates.
func TestDashboard(t *testing.T) {
	a := accountsApp
	src := a.d.Source
	name, widgets := dashboard(t, a)
	if name != "crossbuild-"+srcRegion {
		t.Errorf("dashboard name %q", name)
	}
	want := []string{WidgetExecutions, WidgetCompletions, WidgetLag, WidgetBuilds, WidgetEvents, WidgetDeadLetters, WidgetFunctionErrors}
	if got := keys(widgets); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Fatalf("widgets %v, want %v", got, want)
	}

	sm := map[string]string{"StateMachineArn": "<Ref:" + logicalID(src.Stack, src.StateMachine) + ">"}
	for _, m := range []string{"ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsAborted", "ExecutionsTimedOut"} {
		if !has(widgets[WidgetExecutions], "AWS/States", m, "Sum", sm) {
			t.Errorf("%s: no %s of the state machine in %v", WidgetExecutions, m, widgets[WidgetExecutions])
		}
	}
	for _, p := range []string{metrics.PathEvent, metrics.PathFallback, metrics.PathPoll, metrics.PathReconciler} {
		path := map[string]string{"Path": p}
		if !has(widgets[WidgetCompletions], metrics.Namespace, metrics.Completions, "Sum", path) {
			t.Errorf("%s: no %s path", WidgetCompletions, p)
		}
		for _, stat := range []string{"p50", "p99"} {
			if !has(widgets[WidgetLag], metrics.Namespace, metrics.CompletionLag, stat, path) {
				t.Errorf("%s: no %s of the %s path", WidgetLag, stat, p)
			}
		}
	}
	for _, m := range []struct{ name, fn string }{
		{metrics.BuildStarted, "starter"}, {metrics.BuildStopped, "canceller"}, {metrics.BuildStopped, "reconciler"},
	} {
		if !has(widgets[WidgetBuilds], metrics.Namespace, m.name, "Sum", map[string]string{"Function": m.fn}) {
			t.Errorf("%s: no %s of the %s", WidgetBuilds, m.name, m.fn)
		}
	}
	for _, m := range []string{metrics.EventIgnored, metrics.EventRejected, metrics.EventParked, metrics.EventForeignBuild, metrics.TaskAlreadyClosed} {
		if !has(widgets[WidgetEvents], metrics.Namespace, m, "Sum", map[string]string{"Function": "callback"}) {
			t.Errorf("%s: no %s", WidgetEvents, m)
		}
	}
	queue := map[string]string{"QueueName": "<GetAtt:" + logicalID(src.Stack, src.DeadLetters) + ".QueueName>"}
	if !has(widgets[WidgetDeadLetters], "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", queue) ||
		!has(widgets[WidgetDeadLetters], "AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum", queue) {
		t.Errorf("%s: %v", WidgetDeadLetters, widgets[WidgetDeadLetters])
	}
	for _, fn := range Functions {
		ref := map[string]string{"FunctionName": "<Ref:" + logicalID(src.Stack, src.Functions[fn]) + ">"}
		if !has(widgets[WidgetFunctionErrors], "AWS/Lambda", "Errors", "Sum", ref) {
			t.Errorf("%s: no errors of the %s", WidgetFunctionErrors, fn)
		}
	}
	// Every crossbuild metric shown is one the functions emit, under the dimension they emit it with.
	emitted := map[string]string{
		metrics.Completions: "Path", metrics.CompletionLag: "Path", metrics.BuildStarted: "Function", metrics.BuildStopped: "Function",
		metrics.EventIgnored: "Function", metrics.EventRejected: "Function", metrics.EventParked: "Function",
		metrics.EventForeignBuild: "Function", metrics.TaskAlreadyClosed: "Function",
	}
	for title, ms := range widgets {
		for _, m := range ms {
			if m.namespace != metrics.Namespace {
				continue
			}
			if dim, ok := emitted[m.name]; !ok || len(m.dims) != 1 || m.dims[dim] == "" || m.label == "" {
				t.Errorf("%s: %s %v is not a metric the code emits as drawn, or has no label", title, m.name, m.dims)
			}
		}
	}
}

// TestDashboardDocumented: docs/operations.md describes every widget.
func TestDashboardDocumented(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	start := strings.Index(doc, "## Dashboard")
	if start < 0 {
		t.Fatal("docs/operations.md has no Dashboard section")
	}
	section := doc[start:]
	if end := strings.Index(section[1:], "\n## "); end >= 0 {
		section = section[:end+1]
	}
	_, widgets := dashboard(t, accountsApp)
	for title := range widgets {
		if !strings.Contains(section, "**"+title+"**") {
			t.Errorf("docs/operations.md, Dashboard: widget %q is not described", title)
		}
	}
}
