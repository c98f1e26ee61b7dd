package eventbridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Scheduled rules. A rule with a ScheduleExpression instead of an event pattern sends
// EventBridge's "Scheduled Event" to its targets every period, counted from when the rule
// was added, on the service's ScheduleClock. Only rate expressions are emulated; cron
// expressions are refused when the rule is added.

// ScheduledEventType and ScheduledEventSource are what a scheduled event carries
// (EventBridge user guide, "Creating a rule that runs on a schedule").
const (
	ScheduledEventType   = "Scheduled Event"
	ScheduledEventSource = "aws.events"
)

// Timer is a one-shot timer of a ScheduleClock.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// ScheduleClock drives scheduled rules: a test world runs it faster than the wall clock,
// as it runs the state machine's. Now gives the scheduled events' time.
type ScheduleClock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

type wallClock struct{}

func (wallClock) Now() time.Time                 { return time.Now() }
func (wallClock) NewTimer(d time.Duration) Timer { return wallTimer{time.NewTimer(d)} }

type wallTimer struct{ t *time.Timer }

func (t wallTimer) C() <-chan time.Time { return t.t.C }
func (t wallTimer) Stop() bool          { return t.t.Stop() }

// rateRE is EventBridge's rate expression: a positive whole number and a unit, singular
// for 1 and plural otherwise.
var rateRE = regexp.MustCompile(`^rate\(([1-9][0-9]*) (minute|minutes|hour|hours|day|days)\)$`)

// parseRate returns the period of a rate expression.
func parseRate(expr string) (time.Duration, error) {
	m := rateRE.FindStringSubmatch(expr)
	if m == nil {
		return 0, fmt.Errorf("%q is not a rate expression such as rate(5 minutes) (cron expressions are not emulated)", expr)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n > 1_000_000 {
		return 0, fmt.Errorf("%q: value out of range", expr)
	}
	unit := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}[trimPlural(m[2])]
	if (n == 1) != (m[2] == trimPlural(m[2])) {
		return 0, fmt.Errorf("%q: the unit is singular for 1 and plural otherwise", expr)
	}
	return time.Duration(n) * unit, nil
}

func trimPlural(unit string) string {
	if len(unit) > 1 && unit[len(unit)-1] == 's' {
		return unit[:len(unit)-1]
	}
	return unit
}

// compileSchedule checks a scheduled rule: a rate expression and no pattern, on the default
// bus, as EventBridge requires.
func compileSchedule(r Rule, k busKey) (time.Duration, error) {
	if len(r.Pattern) > 0 && string(r.Pattern) != "null" {
		return 0, errors.New("a rule has an event pattern or a schedule expression, not both, in this stand-in")
	}
	if k.name != DefaultBus {
		return 0, fmt.Errorf("scheduled rules run on the default event bus only, not on %q", k.name)
	}
	return parseRate(r.Schedule)
}

// startSchedule fires r every period until stop is closed or the service closes.
func (s *Service) startSchedule(r *rule, stop <-chan struct{}) {
	go func() {
		for {
			select { // a timer that fired together with the stop starts no further one
			case <-stop:
				return
			case <-s.stop:
				return
			default:
			}
			t := s.schedule.NewTimer(r.period)
			select {
			case <-t.C():
			case <-stop:
				t.Stop()
				return
			case <-s.stop:
				t.Stop()
				return
			}
			s.fire(r)
		}
	}()
}

// fire sends one scheduled event to every target of r.
func (s *Service) fire(r *rule) {
	s.mu.RLock()
	current := s.buses[r.bus] != nil && s.buses[r.bus].rules[r.name] == r
	s.mu.RUnlock()
	if !current || !r.enabled {
		return
	}
	now := s.schedule.Now()
	detail := json.RawMessage(`{}`)
	ev, err := newEvent(envelope{
		Version: "0", ID: newID(), DetailType: ScheduledEventType, Source: ScheduledEventSource,
		Account: r.bus.account, Time: now.UTC().Format(timeLayout), Region: r.bus.region,
		Resources: []string{r.arn}, Detail: detail,
	}, r.bus, s.clock.Now())
	if err != nil {
		s.log.Warn("eventbridge: scheduled event not built", "rule", r.arn, "error", err)
		return
	}
	for _, t := range r.targets {
		if err := s.begin(); err != nil {
			s.log.Warn("eventbridge: scheduled delivery not started", "rule", r.arn, "target", t.ARN, "error", err)
			continue
		}
		go s.deliver(r, t, ev)
	}
	s.log.Debug("eventbridge: schedule fired", "rule", r.arn, "eventId", ev.id)
}
