package eventbridge_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ebsdk "github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"
)

// TestReplayWire: StartReplay through the real SDK sends the archived events of the window,
// and only those, back to the archive's bus with a replay-name; replayed events are not
// archived again; DescribeReplay follows the replay to COMPLETED. Requests AWS refuses are
// refused with its codes.
func TestReplayWire(t *testing.T) {
	const (
		callback = "arn:aws:lambda:eu-west-1:111111111111:function:crossbuild-callback"
		bus      = "arn:aws:events:eu-west-1:111111111111:event-bus/crossbuild"
		archive  = "arn:aws:events:eu-west-1:111111111111:archive/crossbuild-archive"
		rule     = "arn:aws:events:eu-west-1:111111111111:rule/crossbuild/crossbuild-callback"
	)
	lambda := newFakeLambda(nil)
	s, _, source := wireWorld(t, lambda)
	if err := s.AddArchive("111111111111", "eu-west-1", "crossbuild", "crossbuild-archive", nil); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	var entries []types.PutEventsRequestEntry
	for _, hm := range []string{"08:00", "08:30", "09:30"} {
		at, _ := time.Parse("15:04", hm)
		entries = append(entries, types.PutEventsRequestEntry{Source: aws.String("com.example.crossbuild"), DetailType: aws.String("x"),
			Detail: aws.String(`{"at":"` + hm + `"}`), EventBusName: aws.String("crossbuild"),
			Time: aws.Time(day.Add(time.Duration(at.Hour())*time.Hour + time.Duration(at.Minute())*time.Minute))})
	}
	if out, err := source.PutEvents(ctx, &ebsdk.PutEventsInput{Entries: entries}); err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("PutEvents: %v %+v", err, out)
	}
	idle(t, s)
	if n := len(s.ArchivedEvents("111111111111", "eu-west-1", "crossbuild-archive")); n != 3 {
		t.Fatalf("%d archived", n)
	}

	start := func(name, dest string, from, to time.Time, filter ...string) error {
		_, err := source.StartReplay(ctx, &ebsdk.StartReplayInput{ReplayName: aws.String(name), EventSourceArn: aws.String(archive),
			EventStartTime: aws.Time(from), EventEndTime: aws.Time(to), Destination: &types.ReplayDestination{Arn: aws.String(dest), FilterArns: filter}})
		return err
	}
	from, to := day.Add(8*time.Hour), day.Add(9*time.Hour)
	if err := start("r1", bus, from, to); err != nil {
		t.Fatal(err)
	}
	var d *ebsdk.DescribeReplayOutput
	for range 200 {
		var err error
		if d, err = source.DescribeReplay(ctx, &ebsdk.DescribeReplayInput{ReplayName: aws.String("r1")}); err != nil {
			t.Fatal(err)
		}
		if d.State == types.ReplayStateCompleted {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d.State != types.ReplayStateCompleted || aws.ToString(d.EventSourceArn) != archive || aws.ToString(d.Destination.Arn) != bus ||
		!aws.ToTime(d.EventLastReplayedTime).Equal(day.Add(8*time.Hour+30*time.Minute)) {
		t.Fatalf("DescribeReplay = %+v", d)
	}
	idle(t, s)
	_, payloads := lambda.snapshot()
	var replayed []string
	for _, p := range payloads[callback] {
		if strings.Contains(string(p), `"replay-name":"r1"`) {
			replayed = append(replayed, string(p))
		}
	}
	if len(payloads[callback]) != 5 || len(replayed) != 2 || strings.Contains(strings.Join(replayed, ""), "09:30") {
		t.Fatalf("deliveries %d, replayed %q", len(payloads[callback]), replayed)
	}
	if n := len(s.ArchivedEvents("111111111111", "eu-west-1", "crossbuild-archive")); n != 3 {
		t.Errorf("replayed events were archived again: %d", n)
	}

	for _, tt := range []struct {
		name, replay, dest string
		from, to           time.Time
		filter             []string
		code               string
	}{
		{"the name again", "r1", bus, from, to, nil, "ResourceAlreadyExistsException"},
		{"another bus", "r2", "arn:aws:events:eu-west-1:111111111111:event-bus/default", from, to, nil, "ValidationException"},
		{"an empty window", "r3", bus, to, from, nil, "ValidationException"},
		{"a rule of no bus", "r4", bus, from, to, []string{"arn:aws:events:eu-west-1:111111111111:rule/crossbuild/nope"}, "ValidationException"},
		{"a bad name", "r 5", bus, from, to, nil, "ValidationException"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var api smithy.APIError
			if err := start(tt.replay, tt.dest, tt.from, tt.to, tt.filter...); !errors.As(err, &api) || api.ErrorCode() != tt.code {
				t.Fatalf("StartReplay = %v, want %s", err, tt.code)
			}
		})
	}
	t.Run("an archive of another account", func(t *testing.T) {
		_, err := source.StartReplay(ctx, &ebsdk.StartReplayInput{ReplayName: aws.String("r6"),
			EventSourceArn: aws.String("arn:aws:events:eu-west-1:222222222222:archive/crossbuild-archive"),
			EventStartTime: aws.Time(from), EventEndTime: aws.Time(to), Destination: &types.ReplayDestination{Arn: aws.String(bus)}})
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Fatalf("StartReplay = %v", err)
		}
	})
	t.Run("filtered to the rule", func(t *testing.T) {
		if err := start("r7", bus, from, to, rule); err != nil {
			t.Fatal(err)
		}
		for range 200 {
			d, err := source.DescribeReplay(ctx, &ebsdk.DescribeReplayInput{ReplayName: aws.String("r7")})
			if err != nil || d.State == types.ReplayStateCompleted {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		idle(t, s)
		if _, payloads := lambda.snapshot(); len(payloads[callback]) != 7 {
			t.Fatalf("%d deliveries", len(payloads[callback]))
		}
	})
	if _, err := source.DescribeReplay(ctx, &ebsdk.DescribeReplayInput{ReplayName: aws.String("nope")}); err == nil {
		t.Error("DescribeReplay of no replay succeeded")
	}
}
