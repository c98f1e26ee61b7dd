package e2e

import (
	"strconv"
	"testing"
	"time"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/crossbuild/crossbuild/local/world"
)

// A day-long build in little real time: the state machine's clock runs dayScale times
// faster than the build, which sleeps dayBuild of real time.
const (
	dayScale = 3000
	dayBuild = 30 * time.Second // 90,000 s, 25 hours, on the state machine's clock
)

// TestDayLongPolledBuild: a target polled from its start (the worst case: the same holds
// after a heartbeat fallback, which starts polling later) whose build runs more than 24 hours
// on the state machine's clock. The doubling poll interval keeps the child's history far
// below Step Functions' 25,000 events and under 1,000, where a fixed 20-second interval
// would need 4,500 polls (40,000 events).
func TestDayLongPolledBuild(t *testing.T) {
	tw := startWorld(t, world.Options{
		TimeScale: dayScale, PhaseDelay: phaseDelay,
		EventRetryBackoff: func(int) time.Duration { return 20 * time.Millisecond },
		Mutate:            addBuildHooks,
	})
	tg := defaultTargets(t)[0]
	tg["completion"] = "poll"
	tg["pollIntervalSeconds"] = 20
	tg[varSleep] = strconv.Itoa(int(dayBuild / time.Second))
	x := tw.run(t, "day-long-build", input([]target{tg}, nil))
	x.wantStatus(t, sfntypes.ExecutionStatusSucceeded)

	h := x.child(t, 0).history
	span := h[len(h)-1].Timestamp.Sub(*h[0].Timestamp)
	if span < 24*time.Hour {
		t.Fatalf("the child ran %s on the state machine's clock, want more than 24 hours", span)
	}
	polls := scheduled(t, h, tw.pollerARN)
	if want := childPoll + polls*pollRound; len(h) != want {
		t.Errorf("child history: %d events, want %d for %d polls:%s", len(h), want, polls, typesOf(h))
	}
	if len(h) >= maxChildEvents {
		t.Errorf("a %s build polled from its start: %d child events, want fewer than %d", span.Round(time.Hour), len(h), maxChildEvents)
	}
	// Doubling from 20 s to the 900 s cap: one poll per 15 minutes once capped, so a day
	// needs about a hundred polls; the waits the history records grow and stop at the cap.
	if polls > 110 {
		t.Errorf("%d polls for %s", polls, span.Round(time.Minute))
	}
	var waits []time.Duration
	var entered *time.Time
	for _, e := range h {
		switch e.Type {
		case sfntypes.HistoryEventTypeWaitStateEntered:
			entered = e.Timestamp
		case sfntypes.HistoryEventTypeWaitStateExited:
			if entered != nil {
				waits = append(waits, e.Timestamp.Sub(*entered))
			}
		}
	}
	if len(waits) < 8 {
		t.Fatalf("%d waits", len(waits))
	}
	if waits[0] < 20*time.Second || waits[1] < 40*time.Second || waits[len(waits)-1] < 900*time.Second {
		t.Errorf("waits %v: want 20 s, 40 s, ... doubling up to the 900 s cap", waits[:8])
	}
	for i, w := range waits {
		// A Wait of the history lasts what it asked for, plus scheduling noise at the scale.
		if w > 900*time.Second+10*time.Minute {
			t.Errorf("wait %d lasted %s, beyond the 900 s cap", i, w)
		}
	}
	t.Logf("a %s build: %d polls, %d child events", span.Round(time.Minute), polls, len(h))
}
