// Package polling is the schedule of the polling branch (completion "poll" and the fallback
// after a missed heartbeat): the interval doubles after every poll that finds the build still
// running, up to a cap. A fixed 20-second interval costs 9 history events per poll, so one
// 24-hour build would need 38,880 events — more than an execution's 25,000; doubling to a
// 15-minute cap needs about a hundred polls for the same build.
package polling

// Bounds of a target's pollIntervalSeconds and of the cap (seconds).
const (
	MinIntervalSeconds = 5
	MaxIntervalSeconds = 3600
	// DefaultCapSeconds keeps a 24-hour build's child history under 1,000 events
	// (docs/architecture.md) while a build of a few minutes is still seen within a minute
	// or two of its end.
	DefaultCapSeconds = 900
)

// Next returns how long to wait before the next poll, after a wait of current seconds found
// the build running: twice as long, but never more than capSeconds, and never less than
// current (a target may ask for an interval above the cap).
func Next(current, capSeconds int) int {
	if current < MinIntervalSeconds {
		current = MinIntervalSeconds
	}
	next := current * 2
	if next > capSeconds {
		next = capSeconds
	}
	return max(next, current)
}

// Schedule returns the times (seconds after the branch starts) of the polls that see a build
// ending at buildSeconds, as the state machine runs them: the first poll at start (the
// interval for completion "poll", which waits first; 0 for the fallback, which polls at once),
// each later one Next(previous interval) after the one before, the last one the first at or
// after the build's end. At most maxPolls times are returned.
func Schedule(buildSeconds, first, capSeconds, start, maxPolls int) []int {
	var at []int
	t, interval := start, first
	for len(at) < maxPolls {
		at = append(at, t)
		if t >= buildSeconds {
			break
		}
		interval = Next(interval, capSeconds)
		t += interval
	}
	return at
}
