package eventbridge

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/crossbuild/crossbuild/local/localaws"
)

// Replays, as "Archiving and replaying events in Amazon EventBridge" and "Replaying archived
// Amazon EventBridge events" (EventBridge User Guide) describe them: the events of an
// archive whose time falls in [EventStartTime, EventEndTime) go back to the bus the archive
// belongs to (the only destination allowed), to all its rules or to the rules FilterArns
// names, each with a "replay-name" field naming the replay. Archives leave replayed events
// out, as the rule AWS adds for each archive excludes events that have a replay-name.
// StartReplay and DescribeReplay serve the JSON 1.1 protocol.

// maxActiveReplays is EventBridge's quota of replays running at once per account and Region.
const maxActiveReplays = 10

var replayNameRE = regexp.MustCompile(`^[.\-_A-Za-z0-9]{1,64}$`)

// Replay states.
const (
	replayStarting  = "STARTING"
	replayRunning   = "RUNNING"
	replayCompleted = "COMPLETED"
)

type replayKey struct{ account, region, name string }

type replay struct {
	key          replayKey
	arn          string
	description  string
	archive      string // ARN
	dest         busKey
	filter       map[string]bool // rule ARNs; nil: every rule
	filterARNs   []string
	start, end   time.Time
	state        string
	reason       string
	started      time.Time
	ended        time.Time
	lastReplayed time.Time
}

type wireStartReplayInput struct {
	ReplayName     string
	Description    string
	EventSourceArn string
	EventStartTime *wireTime
	EventEndTime   *wireTime
	Destination    *struct {
		Arn        string
		FilterArns []string
	}
}

// epoch renders a time as AWS JSON protocols do: seconds, fractional.
func epoch(t time.Time) *float64 {
	if t.IsZero() {
		return nil
	}
	f := float64(t.UnixNano()) / 1e9
	return &f
}

func (s *Service) serveStartReplay(_ *http.Request, caller localaws.Caller, in wireStartReplayInput) (any, error) {
	bad := func(code, msg string) error { return localaws.BadRequest(code, "%s", msg) }
	if !replayNameRE.MatchString(in.ReplayName) {
		return nil, bad(errValidationException, "ReplayName must be 1 to 64 of . - _ A-Z a-z 0-9")
	}
	if in.EventStartTime == nil || in.EventEndTime == nil || in.Destination == nil || in.Destination.Arn == "" || in.EventSourceArn == "" {
		return nil, bad(errValidationException, "ReplayName, EventSourceArn, EventStartTime, EventEndTime and Destination.Arn are required")
	}
	if !in.EventStartTime.Before(in.EventEndTime.Time) {
		return nil, bad(errValidationException, "EventStartTime must be before EventEndTime")
	}
	a, err := parseARN(in.EventSourceArn)
	name, ok := strings.CutPrefix(a.resource, "archive/")
	if err != nil || a.service != "events" || !ok {
		return nil, bad(errValidationException, fmt.Sprintf("EventSourceArn %q is not an archive ARN", in.EventSourceArn))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	arc := s.archives[archiveKey{account: a.account, region: a.region, name: name}]
	if arc == nil || a.account != caller.Account || a.region != caller.Region {
		return nil, bad(errResourceNotFound, fmt.Sprintf("Archive %s does not exist.", name))
	}
	dest, err := parseBusARN(in.Destination.Arn)
	if err != nil || dest != arc.bus {
		return nil, bad(errValidationException, fmt.Sprintf("Destination %s must be the archive's event source %s", in.Destination.Arn, s.busARN(arc.bus)))
	}
	var filter map[string]bool
	if len(in.Destination.FilterArns) > 0 {
		filter = map[string]bool{}
		b := s.buses[dest]
		for _, f := range in.Destination.FilterArns {
			known := false
			if b != nil {
				for _, r := range b.rules {
					known = known || r.arn == f
				}
			}
			if !known {
				return nil, bad(errValidationException, fmt.Sprintf("FilterArns: %s is not a rule of %s", f, s.busARN(dest)))
			}
			filter[f] = true
		}
	}
	k := replayKey{account: caller.Account, region: caller.Region, name: in.ReplayName}
	if s.replays[k] != nil {
		return nil, localaws.BadRequest("ResourceAlreadyExistsException", "Replay %s already exists.", in.ReplayName)
	}
	active := 0
	for rk, r := range s.replays {
		if rk.account == k.account && rk.region == k.region && r.state != replayCompleted {
			active++
		}
	}
	if active >= maxActiveReplays {
		return nil, localaws.BadRequest("LimitExceededException", "at most %d replays may run at once", maxActiveReplays)
	}
	if err := s.begin(); err != nil {
		return nil, localaws.Errorf(http.StatusServiceUnavailable, errServiceUnavailable, "%s", err.Error())
	}
	r := &replay{key: k, arn: fmt.Sprintf("arn:%s:events:%s:%s:replay/%s", s.partition, k.region, k.account, k.name),
		description: in.Description, archive: in.EventSourceArn, dest: dest, filter: filter, filterARNs: in.Destination.FilterArns,
		start: in.EventStartTime.Time, end: in.EventEndTime.Time, state: replayStarting, started: s.clock.Now()}
	s.replays[k] = r
	go s.runReplay(r, arc)
	return struct {
		ReplayArn       string
		State           string
		ReplayStartTime *float64
	}{r.arn, r.state, epoch(r.started)}, nil
}

// runReplay sends the archived events of the window back to the bus, oldest first.
func (s *Service) runReplay(r *replay, arc *archive) {
	defer s.end()
	s.setReplay(r, func() { r.state = replayRunning })
	type timed struct {
		at  time.Time
		raw json.RawMessage
	}
	var events []timed
	arc.mu.Lock()
	for _, raw := range arc.events {
		var env struct {
			Time string `json:"time"`
		}
		if json.Unmarshal(raw, &env) != nil {
			continue
		}
		at, err := time.Parse(time.RFC3339, env.Time)
		if err != nil || at.Before(r.start) || !at.Before(r.end) {
			continue
		}
		events = append(events, timed{at, raw})
	}
	arc.mu.Unlock()
	sort.SliceStable(events, func(i, j int) bool { return events[i].at.Before(events[j].at) })
	for _, e := range events {
		if s.isClosed() {
			return
		}
		raw, err := withReplayName(e.raw, r.key.name)
		if err == nil {
			var ev *event
			if ev, err = decodeEvent(raw, r.dest, s.clock.Now()); err == nil {
				s.route(ev, r.filter)
			}
		}
		if err != nil {
			s.log.Warn("eventbridge: archived event not replayed", "replay", r.arn, "error", err)
		}
		s.setReplay(r, func() { r.lastReplayed = e.at })
	}
	s.setReplay(r, func() { r.state, r.ended = replayCompleted, s.clock.Now() })
	s.log.Info("eventbridge: replay completed", "replay", r.arn, "events", len(events))
}

func (s *Service) setReplay(r *replay, f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

// withReplayName adds the replay-name field to an event's envelope.
func withReplayName(raw json.RawMessage, name string) (json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	n, _ := json.Marshal(name)
	fields["replay-name"] = n
	return marshalNoEscape(fields)
}

func (s *Service) serveDescribeReplay(_ *http.Request, caller localaws.Caller, in struct{ ReplayName string }) (any, error) {
	name := in.ReplayName
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.replays[replayKey{account: caller.Account, region: caller.Region, name: name}]
	if r == nil {
		return nil, localaws.BadRequest(errResourceNotFound, "Replay %s does not exist.", name)
	}
	type destination struct {
		Arn        string
		FilterArns []string `json:",omitempty"`
	}
	return struct {
		ReplayName            string
		ReplayArn             string
		Description           string `json:",omitempty"`
		State                 string
		StateReason           string `json:",omitempty"`
		EventSourceArn        string
		Destination           destination
		EventStartTime        *float64
		EventEndTime          *float64
		EventLastReplayedTime *float64 `json:",omitempty"`
		ReplayStartTime       *float64
		ReplayEndTime         *float64 `json:",omitempty"`
	}{r.key.name, r.arn, r.description, r.state, r.reason, r.archive, destination{s.busARN(r.dest), r.filterARNs},
		epoch(r.start), epoch(r.end), epoch(r.lastReplayed), epoch(r.started), epoch(r.ended)}, nil
}
