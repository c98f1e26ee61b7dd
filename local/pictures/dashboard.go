// Package pictures draws what an operator sees of a run, from what the local runtime
// recorded: the source stack's CloudWatch dashboard, widget by widget, and one target's
// X-Ray trace as a timeline. docs/operations.md shows both; `make pictures` renders them.
//
// The dashboard is read from the synthesized template, so the picture has the widgets,
// titles, metrics and statistics the stack deploys; only the numbers come from the local
// runtime, and a metric it has no source for is drawn empty and says so.
package pictures

import (
	"encoding/json"
	"fmt"
	"sort"
)

// defaultPeriod is CloudWatch's period of a dashboard metric that names none (seconds).
const defaultPeriod = 300

// Dashboard is the part of a CloudWatch dashboard body that the pictures draw.
type Dashboard struct {
	Widgets []Widget
}

// Widget is one metric widget, placed on the dashboard's 24-column grid.
type Widget struct {
	Title               string
	Stacked             bool
	X, Y, Width, Height int
	Metrics             []Metric
}

// Metric is one line of a widget: a metric, its statistic and label.
type Metric struct {
	Namespace, Name string
	Dims            map[string]string
	Stat, Label     string
	Period          int  // seconds
	Right           bool // on the right axis
}

// ID names the metric as CloudWatch does: namespace, name and dimensions.
func (m Metric) ID() string {
	keys := make([]string, 0, len(m.Dims))
	for k := range m.Dims {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	id := m.Namespace + "/" + m.Name
	for _, k := range keys {
		id += " " + k + "=" + m.Dims[k]
	}
	return id
}

// bodyWidget is a widget of the dashboard body (CloudWatch "Dashboard body structure and
// syntax"); metrics are arrays: namespace, name, dimension name/value pairs, options.
type bodyWidget struct {
	Type       string `json:"type"`
	X          int    `json:"x"`
	Y          int    `json:"y"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	Properties struct {
		Title   string  `json:"title"`
		Stacked bool    `json:"stacked"`
		Period  int     `json:"period"`
		Metrics [][]any `json:"metrics"`
	} `json:"properties"`
}

// ParseBody reads the metric widgets of a dashboard body. Other widget types (text,
// alarms, logs) are not drawn; a metric line in a form it does not know is an error, so a
// dashboard change cannot silently drop a line from the picture.
func ParseBody(body string) (Dashboard, error) {
	var doc struct {
		Widgets []bodyWidget `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		return Dashboard{}, fmt.Errorf("dashboard body: %w", err)
	}
	var d Dashboard
	for i, bw := range doc.Widgets {
		if bw.Type != "metric" {
			continue
		}
		w := Widget{Title: bw.Properties.Title, Stacked: bw.Properties.Stacked, X: bw.X, Y: bw.Y, Width: bw.Width, Height: bw.Height}
		period := bw.Properties.Period
		if period == 0 {
			period = defaultPeriod
		}
		for j, line := range bw.Properties.Metrics {
			m, err := parseMetric(line, period)
			if err != nil {
				return Dashboard{}, fmt.Errorf("dashboard widget %d (%q), metric %d: %w", i, w.Title, j, err)
			}
			w.Metrics = append(w.Metrics, m)
		}
		d.Widgets = append(d.Widgets, w)
	}
	return d, nil
}

func parseMetric(line []any, period int) (Metric, error) {
	if len(line) < 2 {
		return Metric{}, fmt.Errorf("want namespace and name, got %v", line)
	}
	ns, ok1 := line[0].(string)
	name, ok2 := line[1].(string)
	if !ok1 || !ok2 || ns == "." || name == "." || ns == "..." {
		return Metric{}, fmt.Errorf("only full metric arrays are drawn, got %v", line)
	}
	m := Metric{Namespace: ns, Name: name, Dims: map[string]string{}, Stat: "Average", Period: period}
	rest := line[2:]
	if n := len(rest); n > 0 {
		if opts, ok := rest[n-1].(map[string]any); ok {
			if s, ok := opts["stat"].(string); ok {
				m.Stat = s
			}
			m.Label, _ = opts["label"].(string)
			m.Right = opts["yAxis"] == "right"
			if p, ok := opts["period"].(float64); ok && p > 0 {
				m.Period = int(p)
			}
			rest = rest[:n-1]
		}
	}
	if len(rest)%2 != 0 {
		return Metric{}, fmt.Errorf("dimensions are not name/value pairs: %v", rest)
	}
	for i := 0; i < len(rest); i += 2 {
		k, ok1 := rest[i].(string)
		v, ok2 := rest[i+1].(string)
		if !ok1 || !ok2 {
			return Metric{}, fmt.Errorf("dimension %v=%v is not text", rest[i], rest[i+1])
		}
		m.Dims[k] = v
	}
	if m.Label == "" {
		m.Label = m.Name
	}
	return m, nil
}
