package eventbridge

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/crossbuild/crossbuild/local/localaws"
)

// Exhausted retry conditions, the values of EXHAUSTED_RETRY_CONDITION.
const (
	exhaustedAttempts = "MaximumRetryAttempts"
	exhaustedAge      = "MaximumEventAgeInSeconds"
)

// ingest records an event that arrived on its bus in the bus's archives and routes it.
func (s *Service) ingest(ev *event) {
	s.archiveEvent(ev)
	s.route(ev, nil)
}

// route starts a delivery for each target of each enabled rule of the event's bus that
// matches it; only the rules in only, when it is not nil (a replay's FilterArns).
func (s *Service) route(ev *event, only map[string]bool) {
	for _, r := range s.rulesOf(ev.bus) {
		if only != nil && !only[r.arn] {
			continue
		}
		ok, err := r.pattern.MatchValue(ev.doc)
		if err != nil {
			s.log.Warn("eventbridge: event cannot be matched", "rule", r.arn, "eventId", ev.id, "error", err)
			continue
		}
		if !ok {
			continue
		}
		for _, t := range r.targets {
			if err := s.begin(); err != nil {
				s.log.Warn("eventbridge: delivery not started, event lost", "rule", r.arn, "target", t.ARN, "eventId", ev.id, "error", err)
				continue
			}
			go s.deliver(r, t, ev)
		}
	}
}

// deliver sends one event to one target under the target's retry policy,
// then to its dead-letter queue if it still failed.
func (s *Service) deliver(r *rule, t *target, ev *event) {
	defer s.end()
	if s.opts.Drop != nil && s.opts.Drop(slices.Clone(ev.raw)) {
		s.log.Info("eventbridge: event dropped on the way (test hook)", "rule", r.arn, "target", t.ARN, "eventId", ev.id)
		return
	}
	for retries := 0; ; retries++ {
		err := s.attempt(r, t, ev)
		if err == nil {
			s.log.Debug("eventbridge: delivered", "rule", r.arn, "target", t.ARN, "eventId", ev.id, "retries", retries)
			return
		}
		if s.ctx.Err() != nil {
			s.log.Warn("eventbridge: delivery abandoned at close", "rule", r.arn, "target", t.ARN, "eventId", ev.id, "error", err)
			return
		}
		var te *TargetError
		if !errors.As(err, &te) {
			te = &TargetError{Code: CodeErrorFromTarget, Retryable: true, Err: err}
		}
		switch {
		case !te.Retryable:
			s.fail(r, t, ev, te, retries, "")
			return
		case retries >= t.retries:
			s.fail(r, t, ev, te, retries, exhaustedAttempts)
			return
		}
		s.log.Info("eventbridge: delivery failed, will retry", "rule", r.arn, "target", t.ARN, "eventId", ev.id, "code", te.Code, "error", te.Err, "retry", retries+1)
		if !s.wait(retries + 1) {
			s.log.Warn("eventbridge: delivery abandoned at close", "rule", r.arn, "target", t.ARN, "eventId", ev.id)
			return
		}
		if s.clock.Now().Sub(ev.arrived) >= t.maxAge {
			s.fail(r, t, ev, te, retries, exhaustedAge)
			return
		}
	}
}

// wait sleeps before retry n; it returns false when Close interrupts it.
func (s *Service) wait(n int) bool {
	d := s.opts.RetryBackoff(n)
	if d <= 0 {
		select {
		case <-s.stop:
			return false
		default:
			return true
		}
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-s.stop:
		return false
	}
}

// defaultBackoff is exponential from 1 s, capped at 3 minutes, with jitter
// over the upper half of each step, in the manner of EventBridge (whose exact
// schedule is not published).
func defaultBackoff(n int) time.Duration {
	const (
		base    = time.Second
		ceiling = 3 * time.Minute
	)
	d := ceiling
	if n < 16 {
		d = min(base<<max(n-1, 0), ceiling)
	}
	half := d / 2
	return half + rand.N(half+1)
}

func (s *Service) attempt(r *rule, t *target, ev *event) error {
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.AttemptTimeout)
	defer cancel()
	if t.kind == busTarget {
		return s.forward(r, t, ev)
	}
	return s.invoke(ctx, t, ev)
}

// invoke sends the event (or the target's Input or InputPath selection) to
// a Lambda function.
func (s *Service) invoke(ctx context.Context, t *target, ev *event) error {
	if s.opts.Lambda == nil {
		return targetErrorf(CodeNoResource, false, "function %s: no Lambda runtime is configured", t.ARN)
	}
	var payload []byte // a copy: the invoker may keep or change it
	switch {
	case t.input != nil:
		payload = slices.Clone(t.input)
	case !t.hasPath:
		payload = slices.Clone(ev.raw)
	default:
		v, err := t.path.apply(ev.doc)
		if err != nil {
			return targetErrorf(CodeInvalidParameter, false, "InputPath %s: %w", t.InputPath, err)
		}
		if payload, err = marshalNoEscape(v); err != nil {
			return targetErrorf(CodeInvalidParameter, false, "InputPath %s: %w", t.InputPath, err)
		}
	}
	err := s.opts.Lambda.InvokeAsync(ctx, t.ARN, payload)
	if err == nil {
		return nil
	}
	var te *TargetError
	if errors.As(err, &te) {
		return err
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && s.ctx.Err() == nil {
		return &TargetError{Code: CodeTimeout, Retryable: true, Err: fmt.Errorf("invoke %s: %w", t.ARN, err)}
	}
	return &TargetError{Code: CodeErrorFromTarget, Retryable: true, Err: fmt.Errorf("invoke %s: %w", t.ARN, err)}
}

// forward puts the event on a target bus. Like EventBridge it refuses a
// second bus-to-bus hop, and a bus in another account must admit the sender
// through its resource policy.
func (s *Service) forward(r *rule, t *target, ev *event) error {
	dest := s.busARN(t.bus)
	if ev.forwarded {
		code := CodeThirdAccountHop
		if t.bus.region != ev.bus.region {
			code = CodeThirdRegionHop
		}
		return targetErrorf(code, false, "the event reached %s from another event bus and cannot be sent on to %s", s.busARN(ev.bus), dest)
	}
	policy, ok := s.lookupBus(t.bus)
	if !ok {
		return targetErrorf(CodeNoResource, false, "event bus %s does not exist", dest)
	}
	if t.bus.account != r.bus.account {
		p := s.sender(r, t)
		if allowed, reason := s.authorize(policy, p, dest, ev.source, ev.detailType, true); !allowed {
			return targetErrorf(CodeNoPermissions, false, "%s is not authorized to perform %s on %s: %s", p.ARN, putEventsAction, dest, reason)
		}
	}
	s.ingest(ev.onBus(t.bus, s.clock.Now()))
	return nil
}

// sender is the principal that puts a rule's events on a bus in another
// account: the target's role if it has one, else the rule's account. Only a
// role carries the Organization (aws:PrincipalOrgID), which is why AWS
// requires one when the receiving bus admits an Organization.
func (s *Service) sender(r *rule, t *target) localaws.Principal {
	if t.RoleARN == "" {
		root := fmt.Sprintf("arn:%s:iam::%s:root", s.partition, r.bus.account)
		return localaws.Principal{Account: r.bus.account, ARN: root, RoleARN: root}
	}
	account, _ := roleAccount(t.RoleARN) // validated by AddRule
	p := localaws.Principal{
		Account: account,
		ARN:     fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/eventbridge", s.partition, account, roleName(t.RoleARN)),
		RoleARN: t.RoleARN,
	}
	if s.opts.OrgID != nil {
		p.OrgID = s.opts.OrgID(account)
	}
	return p
}

// fail sends a failed delivery to the target's dead-letter queue, or drops it.
func (s *Service) fail(r *rule, t *target, ev *event, te *TargetError, retries int, exhausted string) {
	msg := te.Code
	if te.Err != nil {
		msg = te.Err.Error()
	}
	logArgs := []any{"rule", r.arn, "target", t.ARN, "eventId", ev.id, "code", te.Code, "error", msg, "retries", retries}
	if exhausted != "" {
		logArgs = append(logArgs, "exhausted", exhausted)
	}
	if t.DeadLetterARN == "" {
		s.log.Warn("eventbridge: delivery failed, event dropped (no dead-letter queue)", logArgs...)
		return
	}
	s.log.Warn("eventbridge: delivery failed, event sent to the dead-letter queue", append(logArgs, "deadLetterQueue", t.DeadLetterARN)...)
	attrs := map[string]string{
		"ERROR_CODE":     te.Code,
		"ERROR_MESSAGE":  msg,
		"RULE_ARN":       r.arn,
		"TARGET_ARN":     t.ARN,
		"RETRY_ATTEMPTS": strconv.Itoa(retries),
	}
	if exhausted != "" {
		attrs["EXHAUSTED_RETRY_CONDITION"] = exhausted
	}
	s.addDeadLetter(t.DeadLetterARN, DeadLetter{Body: slices.Clone(ev.raw), Attributes: attrs, SentAt: s.clock.Now()})
}
