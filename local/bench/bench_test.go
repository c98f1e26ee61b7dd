package bench

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/local/asl"
)

func TestAWSSeconds(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	tests := []struct {
		name     string
		from, to float64
		timers   []interval
		want     float64
	}{
		{"all work: divided by the time scale", 0, 60, nil, 1},
		{"all waiting: as the clock reads", 0, 20, []interval{{at(0), at(20)}}, 20},
		{"a wait clipped to the window", 10, 40, []interval{{at(0), at(20)}}, 10 + 20.0/TimeScale},
		{"overlapping timers count once", 0, 30, []interval{{at(0), at(20)}, {at(10), at(30)}}, 30},
		{"an empty window", 5, 5, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := awsSeconds(at(tt.from), at(tt.to), tt.timers); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("awsSeconds = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestClosesTask(t *testing.T) {
	tests := []struct {
		name, output string
		want         bool
	}{
		{"the original's start", `{"Payload":{"invocationType":"START_BUILD","CodeBuildJobId":"p:1","CodeBuildJobStatus":"IN_PROGRESS"},"StatusCode":200}`, false},
		{"the original's read, still running", `{"Payload":{"CodeBuildJobId":"p:1","CodeBuildJobStatus":"IN_PROGRESS"},"StatusCode":200}`, false},
		{"the original's read, succeeded", `{"Payload":{"CodeBuildJobId":"p:1","CodeBuildJobStatus":"SUCCEEDED"},"StatusCode":200}`, true},
		{"crossbuild's result, sent by the callback", `{"buildArn":"arn:aws:codebuild:eu-west-1:222222222222:build/p:1","status":"FAILED","completedBy":"event"}`, true},
		{"a poll answer, nested", `{"Payload":{"build":{"buildArn":"arn:aws:codebuild:eu-west-1:222222222222:build/p:1","status":"SUCCEEDED"},"done":true}}`, true},
		{"not JSON", `oops`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := closesTask(tt.output); got != tt.want {
				t.Errorf("closesTask(%s) = %v, want %v", tt.output, got, tt.want)
			}
		})
	}
}

func TestLine(t *testing.T) {
	a, b := line([]float64{2, 5, 31}, []float64{29, 56, 290})
	if math.Abs(b-9) > 1e-9 || math.Abs(a-11) > 1e-9 {
		t.Errorf("line = %v + %v x, want 11 + 9 x", a, b)
	}
	if a, b := line([]float64{3}, []float64{10}); a != 10 || b != 0 {
		t.Errorf("one point: %v + %v x, want 10 + 0 x", a, b)
	}
}

func TestCostPer1000(t *testing.T) {
	// 2 transitions, 14 invocations of 30 ms at 256 MB, 12 cross-account events, 3 writes
	// and 12 reads per build.
	c := CostPer1000(PerTargetFigures{Transitions: 2, Invocations: 14, GBSeconds: 14 * 0.030 * 0.25, CrossAccountEvents: 12, DDBWrites: 3, DDBReads: 12})
	want := Cost{StepFunctions: 0.05, Lambda: 0.0028 + 0.105*0.0133334, EventBridge: 0.012, DynamoDB: 3*3*0.000625 + 12*0.000125}
	for _, p := range []struct {
		name      string
		got, want float64
	}{{"Step Functions", c.StepFunctions, want.StepFunctions}, {"Lambda", c.Lambda, want.Lambda}, {"EventBridge", c.EventBridge, want.EventBridge}, {"DynamoDB", c.DynamoDB, want.DynamoDB}} {
		if math.Abs(p.got-p.want) > 1e-9 {
			t.Errorf("%s: $%v, want $%v", p.name, p.got, p.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3}
	for _, tt := range []struct{ p, want float64 }{{50, 3}, {99, 5}, {0, 1}} {
		if got := Percentile(xs, tt.p); got != tt.want {
			t.Errorf("p%v = %v, want %v", tt.p, got, tt.want)
		}
	}
	if !math.IsNaN(Percentile(nil, 50)) {
		t.Error("no values: want NaN")
	}
}

func TestOriginalDefinition(t *testing.T) {
	def := OriginalDefinition("arn:aws:lambda:eu-west-1:111111111111:function:original-proxy")
	for _, want := range []string{`"MaxConcurrency": 1`, `"Seconds": 20`, `"IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2`, `function:original-proxy`} {
		if !strings.Contains(def, want) {
			t.Errorf("the model lacks %s", want)
		}
	}
	if strings.Contains(def, "PROXY_FUNCTION") {
		t.Error("the proxy's ARN was not filled in")
	}
	if _, err := asl.Parse([]byte(def)); err != nil {
		t.Errorf("the model does not parse: %v", err)
	}
}

// TestDayLongPollCarriesEvents: a day-long poll-mode target still has its build's events
// forwarded (the target rule does not know the mode), so its cost includes them.
func TestDayLongPollCarriesEvents(t *testing.T) {
	r := Report{Matrix: Matrix{Lengths: []int{1, 10, 60}, Targets: []int{100}}}
	for i, l := range r.Matrix.Lengths {
		polls := []float64{2, 5, 9}[i]
		r.Cells = append(r.Cells, Cell{Mode: Poll, Length: l, Targets: 100,
			PollsPerTarget: Spread{Median: polls}, TransPerTarget: Spread{Median: 3 * polls}, EventsPerTarget: Spread{Median: 9 * polls},
			InvocationsPerTarget: Spread{Median: 13 + polls}, GBsPerTarget: Spread{Median: 0.1}, BuildEventsPT: Spread{Median: 12},
			WritesPT: Spread{Median: 4}, ReadsPT: Spread{Median: 13 + polls}})
	}
	d, ok := r.DayLongPoint(Poll)
	if !ok {
		t.Fatal("no 24-hour point for poll mode")
	}
	if d.Polls != 101 || math.Abs(d.Figures.CrossAccountEvents-12) > 1e-9 || math.Abs(d.Transitions-303) > 1e-9 {
		t.Errorf("24-hour poll point: %v polls, %v events forwarded, %v transitions; want 101, 12, 303", d.Polls, d.Figures.CrossAccountEvents, d.Transitions)
	}
	if c := CostPer1000(d.Figures); c.EventBridge <= 0 {
		t.Errorf("24-hour poll cost leaves out EventBridge: %+v", c)
	}
}
