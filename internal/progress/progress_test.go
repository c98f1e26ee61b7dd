package progress

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

const (
	parentARN = "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:release-42"
	mapRunARN = "arn:aws:states:eu-west-1:111111111111:mapRun:crossbuild/targets:5e7d"
	childARN  = "arn:aws:states:eu-west-1:111111111111:execution:crossbuild/targets:"
)

var t0 = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

// fakeSFN answers from its fields and counts the calls.
type fakeSFN struct {
	mu       sync.Mutex
	status   sfntypes.ExecutionStatus
	errName  string
	mapRun   bool
	counts   sfntypes.MapRunItemCounts
	children []child0
	calls    map[string]int
	fail     error // calls fail with it
	failures int   // this many times (0: always)
}

type child0 struct {
	id             string
	index          int
	status         sfntypes.ExecutionStatus
	output         string
	errName, cause string
	role, region   string
}

func (f *fakeSFN) count(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[op]++
	if f.fail == nil {
		return nil
	}
	if f.failures > 0 {
		f.failures--
		if f.failures == 0 {
			defer func() { f.fail = nil }()
		}
	}
	return f.fail
}

func (f *fakeSFN) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	arn := aws.ToString(in.ExecutionArn)
	if arn == parentARN {
		if err := f.count("DescribeExecution"); err != nil {
			return nil, err
		}
		out := &sfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Name: aws.String("release-42"), Status: f.status, StartDate: aws.Time(t0)}
		if f.status != sfntypes.ExecutionStatusRunning {
			out.StopDate = aws.Time(t0.Add(90 * time.Second))
			if f.errName != "" {
				out.Error = aws.String(f.errName)
			}
		}
		return out, nil
	}
	if err := f.count("DescribeChild"); err != nil {
		return nil, err
	}
	for _, c := range f.children {
		if childARN+c.id != arn {
			continue
		}
		input := `{"target":{},"settings":{"arn":"` + c.role + `","region":"` + c.region + `","codeBuildProject":"p"},"mapIndex":` + string(rune('0'+c.index)) + `}`
		out := &sfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Status: c.status, Input: aws.String(input), StartDate: aws.Time(t0.Add(time.Second))}
		if c.status != sfntypes.ExecutionStatusRunning {
			out.StopDate = aws.Time(t0.Add(61 * time.Second))
			if c.output != "" {
				out.Output = aws.String(c.output)
			}
			if c.errName != "" {
				out.Error, out.Cause = aws.String(c.errName), aws.String(c.cause)
			}
		}
		return out, nil
	}
	return nil, errors.New("no such child " + arn)
}

func (f *fakeSFN) ListMapRuns(context.Context, *sfn.ListMapRunsInput, ...func(*sfn.Options)) (*sfn.ListMapRunsOutput, error) {
	if err := f.count("ListMapRuns"); err != nil {
		return nil, err
	}
	out := &sfn.ListMapRunsOutput{}
	if f.mapRun {
		out.MapRuns = []sfntypes.MapRunListItem{{MapRunArn: aws.String(mapRunARN), StartDate: aws.Time(t0)}}
	}
	return out, nil
}

func (f *fakeSFN) DescribeMapRun(context.Context, *sfn.DescribeMapRunInput, ...func(*sfn.Options)) (*sfn.DescribeMapRunOutput, error) {
	if err := f.count("DescribeMapRun"); err != nil {
		return nil, err
	}
	c := f.counts
	return &sfn.DescribeMapRunOutput{MapRunArn: aws.String(mapRunARN), ItemCounts: &c}, nil
}

func (f *fakeSFN) ListExecutions(context.Context, *sfn.ListExecutionsInput, ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error) {
	if err := f.count("ListExecutions"); err != nil {
		return nil, err
	}
	out := &sfn.ListExecutionsOutput{}
	for _, c := range f.children {
		item := sfntypes.ExecutionListItem{ExecutionArn: aws.String(childARN + c.id), Status: c.status, StartDate: aws.Time(t0.Add(time.Second))}
		if c.status != sfntypes.ExecutionStatusRunning {
			item.StopDate = aws.Time(t0.Add(61 * time.Second))
		}
		out.Executions = append(out.Executions, item)
	}
	return out, nil
}

type fakeRecords struct {
	recs    []tokenstore.Record
	intents []tokenstore.Intent
	err     error
}

func (f *fakeRecords) ListExecution(context.Context, string) ([]tokenstore.Record, []tokenstore.Intent, error) {
	return f.recs, f.intents, f.err
}

type fakeItems struct{ body string }

func (f *fakeItems) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if aws.ToString(in.Key) != "runs/release-42/items.json" || f.body == "" {
		return nil, errors.New("NoSuchKey")
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(strings.NewReader(f.body))}, nil
}

const items = `[
{"target":{},"settings":{"arn":"arn:aws:iam::222222222222:role/r","region":"eu-west-1","codeBuildProject":"p"},"problem":null},
{"target":{},"settings":{"arn":"arn:aws:iam::333333333333:role/r","region":"us-east-1","codeBuildProject":"p"},"problem":null},
{"target":{},"settings":{"arn":"arn:aws:iam::444444444444:role/r","region":"eu-west-2","codeBuildProject":"q"},"problem":null}
]`

const succeededOutput = `{"account":"333333333333","region":"us-east-1","project":"p","buildId":"p:2","status":"SUCCEEDED","completedBy":"event"}`

func counts(total, pending, running, succeeded, failed int) sfntypes.MapRunItemCounts {
	return sfntypes.MapRunItemCounts{Total: int64(total), Pending: int64(pending), Running: int64(running),
		Succeeded: int64(succeeded), Failed: int64(failed)}
}

func TestObserve(t *testing.T) {
	running := func(id string, index int, role, region string) child0 {
		return child0{id: id, index: index, status: sfntypes.ExecutionStatusRunning, role: role, region: region}
	}
	for _, tt := range []struct {
		name    string
		sfn     *fakeSFN
		records *fakeRecords
		items   string
		detail  int
		want    []string // Line of each target
		note    string
		calls   map[string]int // after two looks
	}{
		{
			name: "planning: no Map Run yet",
			sfn:  &fakeSFN{status: sfntypes.ExecutionStatusRunning}, detail: 10,
			calls: map[string]int{"DescribeExecution": 2, "ListMapRuns": 2},
		},
		{
			name: "a small run half way: phases from the records, names from the items, results from the children",
			sfn: &fakeSFN{status: sfntypes.ExecutionStatusRunning, mapRun: true, counts: counts(3, 1, 1, 1, 0), children: []child0{
				running("a", 0, "arn:aws:iam::222222222222:role/r", "eu-west-1"),
				{id: "b", index: 1, status: sfntypes.ExecutionStatusSucceeded, output: succeededOutput, role: "arn:aws:iam::333333333333:role/r", region: "us-east-1"},
			}},
			records: &fakeRecords{recs: []tokenstore.Record{
				{BuildID: "p:1", MapIndex: 0, Account: "222222222222", Region: "eu-west-1", Project: "p", State: tokenstore.Waiting, Completion: "event", CreatedAt: t0},
				{BuildID: "p:2", MapIndex: 1, Account: "333333333333", Region: "us-east-1", Project: "p", State: tokenstore.Completed, CompletedBy: "event", CreatedAt: t0},
			}},
			items: items, detail: 10,
			want: []string{
				"#0 222222222222 eu-west-1 p: RUNNING building",
				"#1 333333333333 us-east-1 p: SUCCEEDED done after 1m0s, completed by event",
				"#2 444444444444 eu-west-2 q: PENDING waiting",
			},
			// Each child is described once: the running one is not described again.
			calls: map[string]int{"DescribeExecution": 2, "ListMapRuns": 1, "DescribeMapRun": 2, "ListExecutions": 2, "DescribeChild": 2},
		},
		{
			name: "every phase of a running target",
			sfn: &fakeSFN{status: sfntypes.ExecutionStatusRunning, mapRun: true, counts: counts(5, 0, 5, 0, 0), children: []child0{
				running("a", 0, "", ""), running("b", 1, "", ""), running("c", 2, "", ""), running("d", 3, "", ""), running("e", 4, "", ""),
			}},
			records: &fakeRecords{
				recs: []tokenstore.Record{
					{MapIndex: 1, Account: "1", State: tokenstore.Waiting, Completion: "poll"},
					{MapIndex: 2, Account: "2", State: tokenstore.Claimed},
					{MapIndex: 3, Account: "3", State: tokenstore.Stopped},
				},
				intents: []tokenstore.Intent{{MapIndex: 4, CancelledAt: t0}},
			},
			detail: 10,
			want:   []string{"#0 -: RUNNING starting", "#1 1: RUNNING polling", "#2 2: RUNNING completing", "#3 3: RUNNING stopped", "#4 -: RUNNING cancelled"},
			note:   "targets named once they start",
		},
		{
			name: "a failed target and one that never ran",
			sfn: &fakeSFN{status: sfntypes.ExecutionStatusFailed, errName: "TargetsFailed", mapRun: true, counts: counts(2, 1, 0, 0, 1), children: []child0{
				{id: "a", index: 0, status: sfntypes.ExecutionStatusFailed, errName: "CodeBuild.FAILED",
					cause: `{"mapIndex":0,"roleArn":"arn:aws:iam::222222222222:role/r","region":"eu-west-1","project":"p","status":"FAILED","error":"CodeBuild.FAILED","cause":"{}"}`},
			}},
			records: &fakeRecords{err: errors.New("AccessDeniedException")},
			items:   items, detail: 10,
			want: []string{"#0 222222222222 eu-west-1 p: FAILED done (CodeBuild.FAILED) after 1m0s", "#1 333333333333 us-east-1 p: NOT_RUN not run"},
			note: "phases unknown (token table: AccessDeniedException)",
		},
		{
			name: "a large run is counted, not listed",
			sfn:  &fakeSFN{status: sfntypes.ExecutionStatusRunning, mapRun: true, counts: counts(50, 40, 10, 0, 0)}, detail: 10,
			calls: map[string]int{"DescribeExecution": 2, "ListMapRuns": 1, "DescribeMapRun": 2},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := &Observer{SFN: tt.sfn, ExecutionARN: parentARN, Detail: tt.detail, Bucket: "b", Items: &fakeItems{body: tt.items}}
			if tt.records != nil {
				o.Records = tt.records
			}
			var s Snapshot
			var err error
			for range 2 {
				if s, err = o.Observe(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for _, tg := range s.Targets {
				got = append(got, Line(tg, t0.Add(time.Hour)))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("targets:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if !strings.Contains(s.Note, tt.note) || (tt.note == "" && s.Note != "") {
				t.Errorf("note %q, want %q", s.Note, tt.note)
			}
			for op, n := range tt.calls {
				if tt.sfn.calls[op] != n {
					t.Errorf("%s called %d times, want %d (%v)", op, tt.sfn.calls[op], n, tt.sfn.calls)
				}
			}
		})
	}
}

func TestRender(t *testing.T) {
	now := t0.Add(2 * time.Minute)
	small := Snapshot{Name: "release-42", Status: "RUNNING", Start: t0, MapRunARN: mapRunARN, Counts: Counts{Total: 2, Running: 1, Succeeded: 1},
		Targets: []Target{
			{Index: 0, Account: "222222222222", Region: "eu-west-1", Project: "sample-codebuild-project", Status: "RUNNING", Phase: PhaseBuilding, Start: t0},
			{Index: 1, Account: "333333333333", Region: "us-east-1", Project: "p", Status: "SUCCEEDED", Phase: PhaseDone, Start: t0, End: t0.Add(70 * time.Second), CompletedBy: "event"},
		}}
	large := Snapshot{Name: "big", Status: "RUNNING", Start: t0, MapRunARN: mapRunARN, Counts: Counts{Total: 400, Pending: 290, Running: 10, Succeeded: 99, Failed: 1}}
	for _, tt := range []struct {
		name  string
		s     Snapshot
		width int
		want  []string
	}{
		{"planning", Snapshot{Name: "x", Status: "RUNNING", Start: t0}, 0,
			[]string{"execution x  RUNNING  2m0s", "planning: the planner checks the input and writes the targets"}},
		{"failed before the targets", Snapshot{Name: "x", Status: "FAILED", Start: t0, Stop: t0.Add(time.Second), Error: "InvalidInput"}, 0,
			[]string{"execution x  FAILED  1s  InvalidInput", "no target ran"}},
		{"a small run as a table", small, 0, []string{
			"execution release-42  RUNNING  2m0s",
			"2 targets: running 1, succeeded 1",
			"#  TARGET                                           STATUS     PHASE     ELAPSED  COMPLETED BY",
			"0  222222222222 eu-west-1 sample-codebuild-project  RUNNING    building  2m0s     -",
			"1  333333333333 us-east-1 p                         SUCCEEDED  done      1m10s    event",
		}},
		{"a large run as a bar and counts", large, 0, []string{
			"execution big  RUNNING  2m0s",
			"[#######.......................]  25% 100/400",
			"400 targets: pending 290, running 10, succeeded 99, failed 1",
		}},
		{"lines cut to the width", large, 20, []string{"execution big  RUNN…", "[#######...........…", "400 targets: pendin…"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Render(tt.s, tt.width, now)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	if b := Bar(Counts{Total: 10, Succeeded: 5, Failed: 1}); b != "[##################............]  60% 6/10" {
		t.Errorf("Bar = %q", b)
	}
}

func TestWatch(t *testing.T) {
	for _, tt := range []struct {
		name     string
		live     bool
		fail     error
		failures int
		want     []string
		wantErr  string
	}{
		{name: "lines: each change once", want: []string{
			"watching " + parentARN,
			"#0 222222222222 eu-west-1 p: RUNNING building",
			"1 target: running 1",
			"#0 222222222222 eu-west-1 p: SUCCEEDED done after 1m0s, completed by event",
			"1 target: succeeded 1",
			"execution release-42 SUCCEEDED after 1m30s",
		}},
		{name: "live: frames drawn over each other", live: true, want: []string{
			"execution release-42  RUNNING", "\x1b[K\n", "\x1b[4A\r", "SUCCEEDED  done", "\x1b[J",
		}},
		{name: "a look that cannot succeed ends the watch", fail: errors.New("ExecutionDoesNotExist"), wantErr: "describe execution"},
		{name: "a throttled look is retried", fail: &smithy.GenericAPIError{Code: "ThrottlingException"}, failures: 2,
			want: []string{"watching " + parentARN, "retrying: describe execution", "execution release-42 SUCCEEDED"}},
		{name: "three throttled looks end it", fail: &smithy.GenericAPIError{Code: "ThrottlingException"}, wantErr: "ThrottlingException"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSFN{status: sfntypes.ExecutionStatusRunning, mapRun: true, counts: counts(1, 0, 1, 0, 0),
				children: []child0{{id: "a", index: 0, status: sfntypes.ExecutionStatusRunning, role: "arn:aws:iam::222222222222:role/r", region: "eu-west-1"}}}
			f.fail, f.failures = tt.fail, tt.failures
			recs := &fakeRecords{recs: []tokenstore.Record{{MapIndex: 0, Account: "222222222222", Region: "eu-west-1", Project: "p", State: tokenstore.Waiting}}}
			looks := 0
			o := &Observer{SFN: f, Records: recs, ExecutionARN: parentARN, Detail: 10}
			var out bytes.Buffer
			w := &Watcher{Observer: o, Out: &out, Live: tt.live, Interval: time.Millisecond, Now: func() time.Time {
				// The execution ends after the second look.
				looks++
				if looks == 2 {
					f.status = sfntypes.ExecutionStatusSucceeded
					f.counts = counts(1, 0, 0, 1, 0)
					f.children[0] = child0{id: "a", index: 0, status: sfntypes.ExecutionStatusSucceeded, output: succeededOutput,
						role: "arn:aws:iam::222222222222:role/r", region: "eu-west-1"}
				}
				return t0.Add(time.Minute)
			}}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			s, err := w.Watch(ctx)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || s.Status != "SUCCEEDED" {
				t.Fatalf("Watch = %s, %v", s.Status, err)
			}
			for _, want := range tt.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("no %q in\n%q", want, out.String())
				}
			}
			if !tt.live {
				// The final success is shown once, not at every look.
				if n := strings.Count(out.String(), "SUCCEEDED done"); n != 1 {
					t.Errorf("%d lines for the same change:\n%s", n, out.String())
				}
			}
		})
	}
	t.Run("a cancelled watch returns at once", func(t *testing.T) {
		f := &fakeSFN{status: sfntypes.ExecutionStatusRunning}
		ctx, cancel := context.WithCancel(t.Context())
		w := &Watcher{Observer: &Observer{SFN: f, ExecutionARN: parentARN}, Out: io.Discard, Interval: time.Hour,
			Now: func() time.Time { cancel(); return t0 }}
		if _, err := w.Watch(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Watch = %v", err)
		}
	})
}
