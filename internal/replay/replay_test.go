package replay

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

const busARN = "arn:aws:events:eu-west-1:111111111111:event-bus/crossbuild"

type fakeEB struct {
	archives []string
	started  *eventbridge.StartReplayInput
	states   []ebtypes.ReplayState // returned by DescribeReplay in turn
	err      error
}

func (f *fakeEB) ListArchives(_ context.Context, in *eventbridge.ListArchivesInput, _ ...func(*eventbridge.Options)) (*eventbridge.ListArchivesOutput, error) {
	if aws.ToString(in.EventSourceArn) != busARN {
		return nil, errors.New("wrong bus")
	}
	out := &eventbridge.ListArchivesOutput{}
	for _, a := range f.archives {
		out.Archives = append(out.Archives, ebtypes.Archive{ArchiveName: aws.String(a)})
	}
	return out, nil
}

func (f *fakeEB) StartReplay(_ context.Context, in *eventbridge.StartReplayInput, _ ...func(*eventbridge.Options)) (*eventbridge.StartReplayOutput, error) {
	f.started = in
	if f.err != nil {
		return nil, f.err
	}
	return &eventbridge.StartReplayOutput{State: ebtypes.ReplayStateStarting}, nil
}

func (f *fakeEB) DescribeReplay(context.Context, *eventbridge.DescribeReplayInput, ...func(*eventbridge.Options)) (*eventbridge.DescribeReplayOutput, error) {
	st := f.states[0]
	if len(f.states) > 1 {
		f.states = f.states[1:]
	}
	return &eventbridge.DescribeReplayOutput{State: st}, nil
}

var now = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func TestStart(t *testing.T) {
	from, to := now.Add(-2*time.Hour), now.Add(-time.Hour)
	for _, tt := range []struct {
		name        string
		eb          *fakeEB
		req         Request
		wantArchive string
		wantTo      time.Time
		wantErr     string
	}{
		{name: "the bus's archive", eb: &fakeEB{archives: []string{"crossbuild-archive"}}, req: Request{BusARN: busARN, From: from, To: to},
			wantArchive: "arn:aws:events:eu-west-1:111111111111:archive/crossbuild-archive", wantTo: to},
		{name: "a window into the future ends now", eb: &fakeEB{archives: []string{"a"}}, req: Request{BusARN: busARN, From: from, To: now.Add(time.Hour)},
			wantArchive: "arn:aws:events:eu-west-1:111111111111:archive/a", wantTo: now},
		{name: "an archive given", eb: &fakeEB{}, req: Request{BusARN: busARN, Archive: "arn:x:archive/mine", From: from, To: to},
			wantArchive: "arn:x:archive/mine", wantTo: to},
		{name: "no archive", eb: &fakeEB{}, req: Request{BusARN: busARN, From: from, To: to},
			wantErr: "no archive on " + busARN},
		{name: "two archives", eb: &fakeEB{archives: []string{"a", "b"}}, req: Request{BusARN: busARN, From: from, To: to},
			wantErr: "2 archives on " + busARN + " (a, b)"},
		{name: "an empty window", eb: &fakeEB{archives: []string{"a"}}, req: Request{BusARN: busARN, From: to, To: from},
			wantErr: "the window is empty"},
		{name: "a bad name", eb: &fakeEB{archives: []string{"a"}}, req: Request{BusARN: busARN, From: from, To: to, Name: "a name"},
			wantErr: `replay name "a name"`},
		{name: "a name of 64 characters", eb: &fakeEB{archives: []string{"a"}}, req: Request{BusARN: busARN, From: from, To: to, Name: strings.Repeat("n", 64)},
			wantArchive: "arn:aws:events:eu-west-1:111111111111:archive/a", wantTo: to},
		{name: "a name of 65 characters", eb: &fakeEB{archives: []string{"a"}}, req: Request{BusARN: busARN, From: from, To: to, Name: strings.Repeat("n", 65)},
			wantErr: `replay name "` + strings.Repeat("n", 65) + `"`},
		{name: "refused", eb: &fakeEB{archives: []string{"a"}, err: errors.New("LimitExceededException")}, req: Request{BusARN: busARN, From: from, To: to},
			wantErr: "start replay crossbuild-1795687200 from arn:aws:events:eu-west-1:111111111111:archive/a: LimitExceededException"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Start(t.Context(), tt.eb, tt.req, now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				if fx, ok := err.(interface{ Fix() string }); ok && fx.Fix() == "" {
					t.Error("no fix")
				}
				return
			}
			if err != nil || r.ArchiveARN != tt.wantArchive || r.State != "STARTING" {
				t.Fatalf("Start = %+v, %v", r, err)
			}
			in := tt.eb.started
			if aws.ToString(in.EventSourceArn) != tt.wantArchive || aws.ToString(in.Destination.Arn) != busARN ||
				!aws.ToTime(in.EventStartTime).Equal(from) || !aws.ToTime(in.EventEndTime).Equal(tt.wantTo) {
				t.Errorf("StartReplay %+v", in)
			}
		})
	}
}

func TestWait(t *testing.T) {
	eb := &fakeEB{states: []ebtypes.ReplayState{ebtypes.ReplayStateStarting, ebtypes.ReplayStateRunning, ebtypes.ReplayStateCompleted}}
	r, err := Wait(t.Context(), eb, Replay{Name: "r"}, time.Millisecond)
	if err != nil || r.State != "COMPLETED" {
		t.Fatalf("Wait = %+v, %v", r, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Wait(ctx, &fakeEB{states: []ebtypes.ReplayState{ebtypes.ReplayStateRunning}}, Replay{Name: "r"}, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled wait: %v", err)
	}
}

func TestParseTime(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "now", want: now},
		{in: "2h", want: now.Add(-2 * time.Hour)},
		{in: "2026-11-26T08:00:00Z", want: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)},
		{in: "yesterday", bad: true},
		{in: "-2h", bad: true},
	} {
		got, err := ParseTime(tt.in, now)
		if (err != nil) != tt.bad || (!tt.bad && !got.Equal(tt.want)) {
			t.Errorf("ParseTime(%q) = %v, %v", tt.in, got, err)
		}
	}
}
