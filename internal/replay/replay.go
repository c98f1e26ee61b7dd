// Package replay sends a window of the source bus's archived events back to the bus
// (EventBridge StartReplay), so that the callback sees the terminal events of builds whose
// completion was lost. Duplicates are harmless: a task is completed once.
//
// A replay can only go to the bus the archive belongs to, and replays events by the time
// in the event ("Replaying archived Amazon EventBridge events",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-replay-archived-event.html).
package replay

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// EventBridge finds the archive and runs the replay.
type EventBridge interface {
	ListArchives(ctx context.Context, in *eventbridge.ListArchivesInput, optFns ...func(*eventbridge.Options)) (*eventbridge.ListArchivesOutput, error)
	StartReplay(ctx context.Context, in *eventbridge.StartReplayInput, optFns ...func(*eventbridge.Options)) (*eventbridge.StartReplayOutput, error)
	DescribeReplay(ctx context.Context, in *eventbridge.DescribeReplayInput, optFns ...func(*eventbridge.Options)) (*eventbridge.DescribeReplayOutput, error)
}

// nameRE is the pattern of a replay's name (StartReplay, ReplayName).
var nameRE = regexp.MustCompile(`^[.\-_A-Za-z0-9]+$`) // at most 64 characters, checked apart

// Request is one replay.
type Request struct {
	BusARN   string
	Archive  string // ARN; found on the bus when empty
	From, To time.Time
	Name     string // default crossbuild-<unix time>
}

// Replay is a started replay.
type Replay struct {
	Name, ArchiveARN, BusARN string
	State, Reason            string
	LastReplayed             time.Time
}

// UsageError: the request is wrong before anything is sent.
type UsageError struct{ Reason, Hint string }

func (e *UsageError) Error() string { return e.Reason }

// Fix says what to do about it.
func (e *UsageError) Fix() string { return e.Hint }

// Start checks the request, finds the archive and starts the replay.
func Start(ctx context.Context, eb EventBridge, req Request, now time.Time) (Replay, error) {
	if req.Name == "" {
		req.Name = fmt.Sprintf("crossbuild-%d", now.Unix())
	}
	switch {
	case len(req.Name) > 64 || !nameRE.MatchString(req.Name):
		return Replay{}, &UsageError{Reason: fmt.Sprintf("replay name %q", req.Name), Hint: "use 1 to 64 of A-Z a-z 0-9 . _ -"}
	case req.From.IsZero() || req.To.IsZero() || !req.From.Before(req.To):
		return Replay{}, &UsageError{Reason: "the window is empty", Hint: "give --from before --to (RFC 3339 times, or durations ago such as 2h)"}
	case req.To.After(now):
		// Nothing later than now is archived: the window ends now.
		req.To = now
	}
	archive := req.Archive
	if archive == "" {
		var err error
		if archive, err = findArchive(ctx, eb, req.BusARN); err != nil {
			return Replay{}, err
		}
	}
	out, err := eb.StartReplay(ctx, &eventbridge.StartReplayInput{
		ReplayName: aws.String(req.Name), EventSourceArn: aws.String(archive),
		EventStartTime: aws.Time(req.From), EventEndTime: aws.Time(req.To),
		Destination: &ebtypes.ReplayDestination{Arn: aws.String(req.BusARN)},
		Description: aws.String("crossbuild replay"),
	})
	if err != nil {
		return Replay{}, fmt.Errorf("start replay %s from %s: %w", req.Name, archive, err)
	}
	return Replay{Name: req.Name, ArchiveARN: archive, BusARN: req.BusARN, State: string(out.State), Reason: aws.ToString(out.StateReason)}, nil
}

// NoArchiveError: the bus has no archive (or several, and none was chosen).
type NoArchiveError struct {
	Bus   string
	Names []string
}

func (e *NoArchiveError) Error() string {
	if len(e.Names) == 0 {
		return "no archive on " + e.Bus
	}
	return fmt.Sprintf("%d archives on %s (%s)", len(e.Names), e.Bus, strings.Join(e.Names, ", "))
}

// Fix says what to do about it.
func (e *NoArchiveError) Fix() string {
	if len(e.Names) == 0 {
		return "the source stack creates one: redeploy it (make deploy-source), or pass --archive"
	}
	return "choose one with --archive <archive ARN>"
}

// findArchive returns the ARN of the one archive of the bus.
func findArchive(ctx context.Context, eb EventBridge, busARN string) (string, error) {
	out, err := eb.ListArchives(ctx, &eventbridge.ListArchivesInput{EventSourceArn: aws.String(busARN)})
	if err != nil {
		return "", fmt.Errorf("list the archives of %s: %w", busARN, err)
	}
	var names []string
	for _, a := range out.Archives {
		names = append(names, aws.ToString(a.ArchiveName))
	}
	if len(names) != 1 {
		return "", &NoArchiveError{Bus: busARN, Names: names}
	}
	prefix, _, ok := strings.Cut(busARN, ":event-bus/")
	if !ok {
		return "", fmt.Errorf("bus ARN %q: want arn:<partition>:events:<region>:<account>:event-bus/<name>", busARN)
	}
	return prefix + ":archive/" + names[0], nil
}

// Wait reads the replay every interval until it ends (COMPLETED, CANCELLED or FAILED) or
// ctx does.
func Wait(ctx context.Context, eb EventBridge, r Replay, interval time.Duration) (Replay, error) {
	for {
		out, err := eb.DescribeReplay(ctx, &eventbridge.DescribeReplayInput{ReplayName: aws.String(r.Name)})
		if err != nil {
			return r, fmt.Errorf("describe replay %s: %w", r.Name, err)
		}
		r.State, r.Reason, r.LastReplayed = string(out.State), aws.ToString(out.StateReason), aws.ToTime(out.EventLastReplayedTime)
		switch out.State {
		case ebtypes.ReplayStateCompleted, ebtypes.ReplayStateCancelled, ebtypes.ReplayStateFailed:
			return r, nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return r, ctx.Err()
		case <-t.C:
		}
	}
}

// ParseTime reads a time as the operator gives it: RFC 3339, "now", or a duration ago
// ("90m", "2h").
func ParseTime(s string, now time.Time) (time.Time, error) {
	if s == "now" {
		return now, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, &UsageError{Reason: fmt.Sprintf("time %q", s), Hint: "give an RFC 3339 time (2026-11-26T08:00:00Z), now, or a duration ago (2h)"}
	}
	return t, nil
}
