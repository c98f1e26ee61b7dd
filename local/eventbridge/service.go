package eventbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/crossbuild/crossbuild/local/eventpattern"
	"github.com/crossbuild/crossbuild/local/localaws"
)

// maxDeadLetters bounds what one dead-letter queue keeps (the newest win).
const maxDeadLetters = 10000

// Service is the EventBridge stand-in for every account and Region.
type Service struct {
	api       *localaws.JSONProtocol
	opts      Options
	clock     Clock
	schedule  ScheduleClock
	log       *slog.Logger
	partition string

	mu       sync.RWMutex
	buses    map[busKey]*bus
	archives map[archiveKey]*archive
	replays  map[replayKey]*replay

	dlqMu sync.Mutex
	dlq   map[string][]DeadLetter

	// life guards closed and wg.Add so no delivery starts once Close waits.
	life    sync.Mutex
	closed  bool
	pending int
	idle    chan struct{} // closed while pending is 0
	wg      sync.WaitGroup
	stop    chan struct{}      // closed by Close: waits between retries end
	ctx     context.Context    // cancelled after the grace period of Close
	cancel  context.CancelFunc // cancels ctx
}

type bus struct {
	policy json.RawMessage
	rules  map[string]*rule
}

type rule struct {
	name     string
	arn      string
	bus      busKey
	pattern  *eventpattern.Pattern
	raw      json.RawMessage
	enabled  bool
	targets  []*target
	period   time.Duration // of a scheduled rule; zero for a pattern rule
	schedule string        // its ScheduleExpression
	stop     chan struct{} // closed when a scheduled rule is replaced
}

type targetKind int

const (
	lambdaTarget targetKind = iota
	busTarget
)

type target struct {
	Target
	kind    targetKind
	bus     busKey // for bus targets
	retries int
	maxAge  time.Duration
	input   json.RawMessage // compacted Input, if any
	path    inputPath       // InputPath, if any
	hasPath bool
}

// New returns a Service with no custom buses.
func New(opts Options) *Service {
	s := &Service{
		opts:      opts,
		clock:     opts.Clock,
		log:       opts.Logger,
		partition: opts.Partition,
		buses:     map[busKey]*bus{},
		archives:  map[archiveKey]*archive{},
		replays:   map[replayKey]*replay{},
		dlq:       map[string][]DeadLetter{},
		stop:      make(chan struct{}),
		idle:      make(chan struct{}),
	}
	close(s.idle)
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.schedule = opts.ScheduleClock; s.schedule == nil {
		s.schedule = wallClock{}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.partition == "" {
		s.partition = "aws"
	}
	if s.opts.RetryBackoff == nil {
		s.opts.RetryBackoff = defaultBackoff
	}
	if s.opts.AttemptTimeout <= 0 {
		s.opts.AttemptTimeout = 15 * time.Minute
	}
	if s.opts.CloseGrace <= 0 {
		s.opts.CloseGrace = 5 * time.Second
	}
	if s.opts.MaxPending <= 0 {
		s.opts.MaxPending = 10000
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.api = s.protocol()
	return s
}

// AddBus creates a custom bus, or sets the resource policy of a default bus.
func (s *Service) AddBus(b Bus) error {
	k := busKey{account: b.Account, region: b.Region, name: b.Name}
	if err := validateBusKey(k); err != nil {
		return &ConfigError{Resource: "event bus " + k.String(), Err: err}
	}
	arn := s.busARN(k)
	policy := bytes.TrimSpace(b.Policy)
	if string(policy) == "null" {
		policy = nil
	}
	if len(policy) > 0 && (policy[0] != '{' || !json.Valid(policy)) {
		return &ConfigError{Resource: arn, Field: "Policy", Err: errors.New("not a JSON object")}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	existing := s.buses[k]
	if existing != nil && k.name != DefaultBus {
		return &ConfigError{Resource: arn, Err: errors.New("event bus already exists")}
	}
	nb := s.busLocked(k)
	nb.policy = append(json.RawMessage(nil), policy...)
	return nil
}

// busLocked returns the bus for k, creating a default bus on first use.
// The caller holds s.mu for writing.
func (s *Service) busLocked(k busKey) *bus {
	if b := s.buses[k]; b != nil {
		return b
	}
	b := &bus{rules: map[string]*rule{}}
	s.buses[k] = b
	return b
}

// lookupBus reports whether a bus exists, with its policy. Default buses
// always exist.
func (s *Service) lookupBus(k busKey) (policy json.RawMessage, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if b := s.buses[k]; b != nil {
		return b.policy, true
	}
	return nil, k.name == DefaultBus
}

// AddRule adds or replaces a rule (as PutRule and PutTargets do). The pattern
// is compiled here, so an unsupported operator fails now, naming the rule.
func (s *Service) AddRule(r Rule) error {
	k, err := resolveBus(r.Bus, r.Account, r.Region)
	if err == nil {
		err = validateBusKey(k)
	}
	if err != nil {
		return &ConfigError{Resource: fmt.Sprintf("rule %q", r.Name), Field: "EventBusName", Err: err}
	}
	if k.account != r.Account || k.region != r.Region {
		return &ConfigError{Resource: fmt.Sprintf("rule %q", r.Name), Field: "EventBusName",
			Err: fmt.Errorf("bus %s is not in the rule's account and Region", s.busARN(k))}
	}
	arn := s.ruleARN(k, r.Name)
	compiled, err := s.compileRule(r, k, arn)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buses[k] == nil && k.name != DefaultBus {
		return &ConfigError{Resource: arn, Field: "EventBusName", Err: fmt.Errorf("event bus %s does not exist", s.busARN(k))}
	}
	rules := s.busLocked(k).rules
	if old := rules[r.Name]; old != nil && old.stop != nil {
		close(old.stop)
	}
	rules[r.Name] = compiled
	if compiled.period > 0 {
		compiled.stop = make(chan struct{})
		s.startSchedule(compiled, compiled.stop)
	}
	return nil
}

func (s *Service) compileRule(r Rule, k busKey, arn string) (*rule, error) {
	fail := func(field string, err error) error { return &ConfigError{Resource: arn, Field: field, Err: err} }
	if !ruleNameRE.MatchString(r.Name) {
		return nil, fail("Name", fmt.Errorf("%q is not a valid rule name", r.Name))
	}
	out := &rule{name: r.Name, arn: arn, bus: k, raw: append(json.RawMessage(nil), r.Pattern...)}
	switch r.State {
	case "", "ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS":
		out.enabled = true
	case "DISABLED":
	default:
		return nil, fail("State", fmt.Errorf("unknown state %q", r.State))
	}
	switch p := bytes.TrimSpace(r.Pattern); {
	case r.Schedule != "":
		period, err := compileSchedule(r, k)
		if err != nil {
			return nil, fail("ScheduleExpression", err)
		}
		out.period, out.schedule = period, r.Schedule
	case len(p) == 0 || string(p) == "null":
		return nil, fail("EventPattern", errors.New("required, or a ScheduleExpression"))
	default:
		compiled, err := eventpattern.Compile(r.Pattern)
		if err != nil {
			return nil, fail("EventPattern", err)
		}
		out.pattern = compiled
	}
	if len(r.Targets) > 5 {
		return nil, fail("Targets", fmt.Errorf("%d targets, at most 5 per rule", len(r.Targets)))
	}
	seen := map[string]bool{}
	for i, t := range r.Targets {
		field := fmt.Sprintf("Targets[%d]", i)
		if seen[t.ID] {
			return nil, fail(field+".Id", fmt.Errorf("duplicate target id %q", t.ID))
		}
		seen[t.ID] = true
		ct, err := s.compileTarget(t, k)
		if err != nil {
			var ce *fieldError
			if errors.As(err, &ce) {
				return nil, fail(field+"."+ce.field, ce.err)
			}
			return nil, fail(field, err)
		}
		out.targets = append(out.targets, ct)
	}
	return out, nil
}

type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }

func (s *Service) compileTarget(t Target, ruleBus busKey) (*target, error) {
	fail := func(field string, format string, args ...any) error {
		return &fieldError{field: field, err: fmt.Errorf(format, args...)}
	}
	if !targetIDRE.MatchString(t.ID) {
		return nil, fail("Id", "%q is not a valid target id", t.ID)
	}
	out := &target{Target: t}
	busKey, busErr := parseBusARN(t.ARN)
	switch {
	case isLambdaARN(t.ARN):
		out.kind = lambdaTarget
	case busErr == nil:
		out.kind, out.bus = busTarget, busKey
		if out.bus.account != ruleBus.account && (t.Input != "" || t.InputPath != "") {
			return nil, fail("Input", "Input and InputPath are not available for an event bus in another account")
		}
	default:
		return nil, fail("Arn", "%q is not a Lambda function or event bus ARN (other target types are not emulated)", t.ARN)
	}
	if t.RoleARN != "" {
		if _, err := roleAccount(t.RoleARN); err != nil {
			return nil, &fieldError{field: "RoleArn", err: err}
		}
	}
	switch {
	case t.MaxRetryAttempts == 0:
		out.retries = DefaultMaxRetryAttempts
	case t.MaxRetryAttempts == NoRetries:
		out.retries = 0
	case t.MaxRetryAttempts < 0 || t.MaxRetryAttempts > DefaultMaxRetryAttempts:
		return nil, fail("RetryPolicy.MaximumRetryAttempts", "%d is outside 0..%d", t.MaxRetryAttempts, DefaultMaxRetryAttempts)
	default:
		out.retries = t.MaxRetryAttempts
	}
	switch {
	case t.MaxEventAge == 0:
		out.maxAge = DefaultMaxEventAge
	case t.MaxEventAge < MinMaxEventAge || t.MaxEventAge > DefaultMaxEventAge:
		return nil, fail("RetryPolicy.MaximumEventAgeInSeconds", "%s is outside 60..86400 seconds", t.MaxEventAge)
	default:
		out.maxAge = t.MaxEventAge
	}
	if t.DeadLetterARN != "" {
		if a, err := parseARN(t.DeadLetterARN); err != nil || a.service != "sqs" {
			return nil, fail("DeadLetterConfig.Arn", "%q is not an SQS queue ARN", t.DeadLetterARN)
		}
	}
	if t.Input != "" && t.InputPath != "" {
		return nil, fail("Input", "Input and InputPath are mutually exclusive")
	}
	if t.Input != "" {
		if !json.Valid([]byte(t.Input)) {
			return nil, fail("Input", "not valid JSON")
		}
		out.input = compact([]byte(t.Input))
	}
	if t.InputPath != "" {
		p, err := parseInputPath(t.InputPath)
		if err != nil {
			return nil, &fieldError{field: "InputPath", err: err}
		}
		out.path, out.hasPath = p, true
	}
	return out, nil
}

// rulesOf returns the enabled event-pattern rules of a bus, sorted by name so that logs
// are stable.
func (s *Service) rulesOf(k busKey) []*rule {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := s.buses[k]
	if b == nil {
		return nil
	}
	out := make([]*rule, 0, len(b.rules))
	for _, r := range b.rules {
		if r.enabled && r.pattern != nil { // scheduled rules match no event
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// DeadLetters returns what reached the dead-letter queue with this ARN, oldest
// first.
func (s *Service) DeadLetters(arn string) []DeadLetter {
	s.dlqMu.Lock()
	defer s.dlqMu.Unlock()
	src := s.dlq[arn]
	out := make([]DeadLetter, len(src))
	for i, d := range src {
		attrs := make(map[string]string, len(d.Attributes))
		for k, v := range d.Attributes {
			attrs[k] = v
		}
		out[i] = DeadLetter{ID: d.ID, Body: append(json.RawMessage(nil), d.Body...), Attributes: attrs, SentAt: d.SentAt}
	}
	return out
}

// RemoveDeadLetter deletes a message from a dead-letter queue, as SQS's DeleteMessage
// does; it reports whether the message was there.
func (s *Service) RemoveDeadLetter(arn, id string) bool {
	s.dlqMu.Lock()
	defer s.dlqMu.Unlock()
	q := s.dlq[arn]
	for i, d := range q {
		if d.ID == id {
			s.dlq[arn] = append(q[:i:i], q[i+1:]...)
			return true
		}
	}
	return false
}

func (s *Service) addDeadLetter(arn string, d DeadLetter) {
	d.ID = newID()
	s.dlqMu.Lock()
	defer s.dlqMu.Unlock()
	q := append(s.dlq[arn], d)
	if len(q) > maxDeadLetters {
		q = q[len(q)-maxDeadLetters:]
	}
	s.dlq[arn] = q
}

// Close stops accepting events, ends waits between retries at once, lets
// running attempts finish for up to Options.CloseGrace, then cancels them.
// It returns an error if some delivery did not end even then.
func (s *Service) Close() error {
	s.life.Lock()
	if s.closed {
		s.life.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	s.life.Unlock()

	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	grace := time.NewTimer(s.opts.CloseGrace)
	defer grace.Stop()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-grace.C:
	}
	s.cancel()
	hard := time.NewTimer(time.Second)
	defer hard.Stop()
	select {
	case <-done:
		return nil
	case <-hard.C:
		s.life.Lock()
		n := s.pending
		s.life.Unlock()
		return fmt.Errorf("eventbridge: %d deliveries still running after close", n)
	}
}

// begin registers a delivery; it fails once closed or when too many are
// pending.
func (s *Service) begin() error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.pending >= s.opts.MaxPending {
		return fmt.Errorf("%d deliveries pending, the limit", s.pending)
	}
	if s.pending == 0 {
		s.idle = make(chan struct{})
	}
	s.pending++
	s.wg.Add(1)
	return nil
}

func (s *Service) end() {
	s.life.Lock()
	s.pending--
	if s.pending == 0 {
		close(s.idle)
	}
	s.life.Unlock()
	s.wg.Done()
}

// Idle waits until no delivery is in flight or waiting to retry, or ctx
// ends. A delivery to a bus starts the deliveries of that bus's rules
// before it ends, so Idle does not return between the hops of one event.
func (s *Service) Idle(ctx context.Context) error {
	s.life.Lock()
	ch := s.idle
	s.life.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("eventbridge: waiting for deliveries: %w", ctx.Err())
	}
}

func (s *Service) isClosed() bool {
	s.life.Lock()
	defer s.life.Unlock()
	return s.closed
}
