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
