package pictures

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"time"
)

// Sample is one value of a metric at a moment, as CloudWatch would have received it.
type Sample struct {
	Time      time.Time         `json:"time"`
	Namespace string            `json:"namespace"`
	Name      string            `json:"name"`
	Dims      map[string]string `json:"dims"`
	Value     float64           `json:"value"`
}

// Source says that the local runtime records a metric, so no sample means none happened.
// An empty Name stands for every metric of the namespace.
type Source struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name,omitempty"`
	From      string `json:"from"` // where the samples come from, for the picture's notes
}

// Recording is what one local run yields for the dashboard.
type Recording struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Samples []Sample  `json:"samples"`
	Sources []Source  `json:"sources"`
}

// source reports where m's samples come from, if the run records it at all.
func (r Recording) source(m Metric) (Source, bool) {
	for _, s := range r.Sources {
		if s.Namespace == m.Namespace && (s.Name == "" || s.Name == m.Name) {
			return s, true
		}
	}
	return Source{}, false
}

// ReadEMF returns the metrics of the embedded-metric-format lines in a function's log;
// every other line (the runtime's START/END/REPORT, JSON log records) is skipped. Each
// dimension set of a directive is a metric of its own, as CloudWatch Logs extracts them.
func ReadEMF(r io.Reader) ([]Sample, error) {
	var out []Sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var doc map[string]any
		if json.Unmarshal(line, &doc) != nil {
			continue
		}
		meta, ok := doc["_aws"].(map[string]any)
		if !ok {
			continue
		}
		var head struct {
			Timestamp         int64 `json:"Timestamp"`
			CloudWatchMetrics []struct {
				Namespace  string     `json:"Namespace"`
				Dimensions [][]string `json:"Dimensions"`
				Metrics    []struct {
					Name string `json:"Name"`
				} `json:"Metrics"`
			} `json:"CloudWatchMetrics"`
		}
		raw, _ := json.Marshal(meta)
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, fmt.Errorf("embedded metric directive %s: %w", raw, err)
		}
		at := time.UnixMilli(head.Timestamp).UTC()
		for _, d := range head.CloudWatchMetrics {
			for _, set := range d.Dimensions {
				dims := map[string]string{}
				for _, k := range set {
					dims[k] = fmt.Sprint(doc[k])
				}
				for _, m := range d.Metrics {
					v, ok := doc[m.Name].(float64)
					if !ok {
						continue
					}
					out = append(out, Sample{Time: at, Namespace: d.Namespace, Name: m.Name, Dims: dims, Value: v})
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read log: %w", err)
	}
	return out, nil
}

// ReadFunctionErrors counts the failed invocations in one function's log: aws-lambda-go
// logs each error response it reports to the runtime as one line, the Go log timestamp and
// the {"errorMessage", "errorType"} document, which is what Lambda's Errors metric counts
// for a handler that returned an error. Timestamps are the functions' local time, to the
// second.
func ReadFunctionErrors(r io.Reader, function string) ([]Sample, error) {
	var out []Sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	const stamp = "2006/01/02 15:04:05"
	for sc.Scan() {
		line := sc.Text()
		if len(line) <= len(stamp)+1 || line[len(stamp)] != ' ' {
			continue
		}
		at, err := time.ParseInLocation(stamp, line[:len(stamp)], time.Local)
		if err != nil {
			continue
		}
		var doc struct {
			ErrorType *string `json:"errorType"`
		}
		if json.Unmarshal([]byte(line[len(stamp)+1:]), &doc) != nil || doc.ErrorType == nil {
			continue
		}
		out = append(out, Sample{Time: at.UTC(), Namespace: "AWS/Lambda", Name: "Errors",
			Dims: map[string]string{"FunctionName": function}, Value: 1})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read log: %w", err)
	}
	return out, nil
}

// point is one period's statistic: X in seconds from the recording's start.
type point struct{ X, Y float64 }

// series computes m's statistic over periods of period seconds from r.Start to r.End. A
// period without samples has no point, as in CloudWatch.
func (r Recording) series(m Metric, period time.Duration) []point {
	buckets := map[int][]float64{}
	for _, s := range r.Samples {
		if !matches(m, s) {
			continue
		}
		i := int(s.Time.Sub(r.Start) / period)
		buckets[i] = append(buckets[i], s.Value)
	}
	idx := make([]int, 0, len(buckets))
	for i := range buckets {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	out := make([]point, 0, len(idx))
	for _, i := range idx {
		v, ok := statistic(m.Stat, buckets[i])
		if !ok {
			continue
		}
		// Drawn at the period's end: what the period holds is known then.
		out = append(out, point{X: float64(i+1) * period.Seconds(), Y: v})
	}
	return out
}

// matches: same namespace and name, and exactly the metric's dimensions (CloudWatch
// treats every dimension combination as a metric of its own).
func matches(m Metric, s Sample) bool {
	if s.Namespace != m.Namespace || s.Name != m.Name || len(s.Dims) != len(m.Dims) {
		return false
	}
	for k, v := range m.Dims {
		if s.Dims[k] != v {
			return false
		}
	}
	return true
}

// statistic computes one of CloudWatch's statistics over a period's values.
func statistic(stat string, vs []float64) (float64, bool) {
	if len(vs) == 0 {
		return 0, false
	}
	switch stat {
	case "Sum":
		sum := 0.0
		for _, v := range vs {
			sum += v
		}
		return sum, true
	case "Maximum":
		return slices.Max(vs), true
	case "Minimum":
		return slices.Min(vs), true
	case "SampleCount":
		return float64(len(vs)), true
	case "Average":
		sum, _ := statistic("Sum", vs)
		return sum / float64(len(vs)), true
	}
	var p float64
	if _, err := fmt.Sscanf(stat, "p%g", &p); err == nil && p >= 0 && p <= 100 {
		sorted := append([]float64(nil), vs...)
		sort.Float64s(sorted)
		// Nearest rank.
		rank := int(math.Ceil(p/100*float64(len(sorted)))) - 1
		return sorted[min(max(rank, 0), len(sorted)-1)], true
	}
	return 0, false
}
