package metrics

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestCountWritesEMF(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf, "callback")
	r.now = func() time.Time { return time.UnixMilli(1700000000123) }
	r.Count(TaskAlreadyClosed)
	var got struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []emfDirective
		} `json:"_aws"`
		Function string
		Value    int `json:"TaskAlreadyClosed"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	d := got.AWS.CloudWatchMetrics
	if got.AWS.Timestamp != 1700000000123 || got.Function != "callback" || got.Value != 1 || len(d) != 1 ||
		d[0].Namespace != "crossbuild" || d[0].Metrics[0].Name != TaskAlreadyClosed || d[0].Dimensions[0][0] != "Function" {
		t.Fatalf("unexpected EMF line %s", buf.String())
	}
	var nilRec *Recorder
	nilRec.Count("x") // must not panic
}

func TestCompletionWritesEMF(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		lag     time.Duration
		wantLag any
	}{
		{"event with lag", PathEvent, 1500 * time.Millisecond, 1.5},
		{"fallback, end unknown", PathFallback, -1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			r := New(&buf, "poller")
			r.now = func() time.Time { return time.UnixMilli(1700000000123) }
			r.Completion(tc.path, tc.lag)
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("%v: %s", err, buf.String())
			}
			directive := got["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
			metrics := directive["Metrics"].([]any)
			if got["Path"] != tc.path || got["Function"] != "poller" || got[Completions] != 1.0 || got[CompletionLag] != tc.wantLag ||
				directive["Dimensions"].([]any)[0].([]any)[0] != "Path" || len(metrics) != map[bool]int{true: 2, false: 1}[tc.wantLag != nil] {
				t.Fatalf("unexpected EMF line %s", buf.String())
			}
			if tc.wantLag != nil && metrics[1].(map[string]any)["Unit"] != "Seconds" {
				t.Errorf("lag unit: %s", buf.String())
			}
		})
	}
	var nilRec *Recorder
	nilRec.Completion(PathPoll, 0) // must not panic
}
