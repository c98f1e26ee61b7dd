package pictures

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Lines as the local Lambda writes a function's log: the runtime's, slog records, EMF.
const functionLog = `START RequestId: 86ecc749-debb-47a3-b1d3-36cdcf5e4982 Version: $LATEST
{"CompletionLag":0.620817447,"Completions":1,"Function":"callback","Path":"event","_aws":{"CloudWatchMetrics":[{"Namespace":"crossbuild","Dimensions":[["Path"]],"Metrics":[{"Name":"Completions","Unit":"Count"},{"Name":"CompletionLag","Unit":"Seconds"}]}],"Timestamp":1796360749620}}
{"timestamp":"2026-12-04T05:05:45.114957586Z","level":"INFO","message":"build started","mapIndex":0}
{"Function":"callback","TaskAlreadyClosed":1,"_aws":{"CloudWatchMetrics":[{"Namespace":"crossbuild","Dimensions":[["Function"]],"Metrics":[{"Name":"TaskAlreadyClosed","Unit":"Count"}]}],"Timestamp":1796360749874}}
2026/12/04 05:09:30 {"errorMessage":"start build of no-such-project in eu-west-1: ResourceNotFoundException","errorType":"StartBuildFailed"}
2026/12/04 05:09:31 not a document
END RequestId: 86ecc749-debb-47a3-b1d3-36cdcf5e4982
`

func TestReadEMF(t *testing.T) {
	got, err := ReadEMF(strings.NewReader(functionLog))
	if err != nil {
		t.Fatal(err)
	}
	at := func(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
	want := []Sample{
		{Time: at(1796360749620), Namespace: "crossbuild", Name: "Completions", Dims: map[string]string{"Path": "event"}, Value: 1},
		{Time: at(1796360749620), Namespace: "crossbuild", Name: "CompletionLag", Dims: map[string]string{"Path": "event"}, Value: 0.620817447},
		{Time: at(1796360749874), Namespace: "crossbuild", Name: "TaskAlreadyClosed", Dims: map[string]string{"Function": "callback"}, Value: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestReadFunctionErrors(t *testing.T) {
	got, err := ReadFunctionErrors(strings.NewReader(functionLog), "crossbuild-starter")
	if err != nil {
		t.Fatal(err)
	}
	at, _ := time.ParseInLocation("2006/01/02 15:04:05", "2026/12/04 05:09:30", time.Local)
	want := []Sample{{Time: at.UTC(), Namespace: "AWS/Lambda", Name: "Errors", Dims: map[string]string{"FunctionName": "crossbuild-starter"}, Value: 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestStatistic(t *testing.T) {
	values := []float64{4, 1, 3, 2, 10}
	for _, tc := range []struct {
		stat string
		want float64
		ok   bool
	}{
		{"Sum", 20, true}, {"Maximum", 10, true}, {"Minimum", 1, true}, {"SampleCount", 5, true},
		{"Average", 4, true}, {"p50", 3, true}, {"p99", 10, true}, {"p0", 1, true}, {"tm99", 0, false},
	} {
		got, ok := statistic(tc.stat, values)
		if ok != tc.ok || math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: got %v %v, want %v %v", tc.stat, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := statistic("Sum", nil); ok {
		t.Error("a period without values has a statistic")
	}
}

// TestSeries: samples fall into periods from the recording's start, each drawn at its
// period's end; a sample of other dimensions is another metric.
func TestSeries(t *testing.T) {
	start := time.Date(2026, 12, 4, 5, 0, 0, 0, time.UTC)
	dims := map[string]string{"Function": "starter"}
	sample := func(offset time.Duration, d map[string]string) Sample {
		return Sample{Time: start.Add(offset), Namespace: "crossbuild", Name: "BuildStarted", Dims: d, Value: 1}
	}
	rec := Recording{Start: start, End: start.Add(10 * time.Second), Samples: []Sample{
		sample(100*time.Millisecond, dims), sample(900*time.Millisecond, dims), sample(4500*time.Millisecond, dims),
		sample(time.Second, map[string]string{"Function": "canceller"}),
		sample(time.Second, map[string]string{"Function": "starter", "Extra": "x"}),
	}}
	m := Metric{Namespace: "crossbuild", Name: "BuildStarted", Dims: dims, Stat: "Sum"}
	got := rec.series(m, 2*time.Second)
	want := []point{{X: 2, Y: 2}, {X: 6, Y: 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestParseBody(t *testing.T) {
	for _, tc := range []struct {
		name, body, err string
		want            []Metric
	}{
		{
			name: "full metric arrays, default period, right axis",
			body: `{"widgets":[{"type":"text","properties":{"markdown":"x"}},{"type":"metric","x":0,"y":0,"width":12,"height":6,"properties":{"title":"Dead letters","metrics":[` +
				`["AWS/SQS","ApproximateNumberOfMessagesVisible","QueueName","q",{"label":"messages","stat":"Maximum"}],` +
				`["AWS/SQS","ApproximateAgeOfOldestMessage","QueueName","q",{"label":"oldest","stat":"Maximum","yAxis":"right","period":60}]]}}]}`,
			want: []Metric{
				{Namespace: "AWS/SQS", Name: "ApproximateNumberOfMessagesVisible", Dims: map[string]string{"QueueName": "q"}, Stat: "Maximum", Label: "messages", Period: 300},
				{Namespace: "AWS/SQS", Name: "ApproximateAgeOfOldestMessage", Dims: map[string]string{"QueueName": "q"}, Stat: "Maximum", Label: "oldest", Period: 60, Right: true},
			},
		},
		{
			name: "shorthand is refused",
			body: `{"widgets":[{"type":"metric","properties":{"title":"t","metrics":[["...","Other"]]}}]}`,
			err:  "only full metric arrays",
		},
		{
			name: "odd dimensions are refused",
			body: `{"widgets":[{"type":"metric","properties":{"title":"t","metrics":[["ns","m","QueueName"]]}}]}`,
			err:  "name/value pairs",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseBody(tc.body)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Widgets) != 1 || !reflect.DeepEqual(d.Widgets[0].Metrics, tc.want) {
				t.Errorf("got %+v", d.Widgets)
			}
		})
	}
}
