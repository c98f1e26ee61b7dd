package faults

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/crossbuild/crossbuild/local/eventbridge"
)

// Events wraps the invoker EventBridge delivers events to functions through: the events
// the plan's event rules choose are dropped, duplicated, reordered or delayed on the way to
// their function. Each rule looks only at deliveries to its own function.
func (in *Injector) Events(next eventbridge.LambdaInvoker) eventbridge.LambdaInvoker {
	return &eventFaults{in: in, next: next}
}

type eventFaults struct {
	in   *Injector
	next eventbridge.LambdaInvoker
}

// delivered is what the rules read of an event.
type delivered struct {
	ID     string `json:"id"`
	Detail struct {
		BuildID string `json:"build-id"`
	} `json:"detail"`
}

func (e *eventFaults) InvokeAsync(ctx context.Context, functionARN string, payload []byte) error {
	fn := functionARN[strings.LastIndexByte(functionARN, ':')+1:]
	var ev delivered
	_ = json.Unmarshal(payload, &ev) // an event that does not decode is delivered untouched
	// The first rule for the function that draws a hit acts; a delivery EventBridge
	// retries is the same event again and draws anew.
	var rule *EventRule
	var extra float64
	for _, r := range e.in.Plan().Events {
		if r.Function != fn || ev.ID == "" {
			continue
		}
		if hit, x := e.in.draw(r.Name, ev.ID, r.Fraction); hit {
			rule, extra = &r, x
			break
		}
	}
	if rule == nil {
		return e.deliver(ctx, functionARN, payload, ev.Detail.BuildID)
	}
	args := []any{"function", fn, "eventId", ev.ID, "build", ev.Detail.BuildID}
	switch rule.Kind {
	case Drop:
		e.in.injected(rule.Name, args...)
		return nil
	case Duplicate:
		return e.duplicate(ctx, *rule, functionARN, payload, ev, args)
	case Delay:
		d := time.Duration(extra * float64(rule.MaxDelay))
		e.in.injected(rule.Name, append(args, "delay", d.String())...)
		if !sleep(ctx, d) {
			return ctx.Err()
		}
	case Reorder:
		if e.hold(ctx, *rule, ev.Detail.BuildID) {
			e.in.injected(rule.Name, args...)
		} else {
			e.in.missed(rule.Name, append(args, "reason", "no later event of the build before MaxDelay")...)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return e.deliver(ctx, functionARN, payload, ev.Detail.BuildID)
}

// deliver invokes the function; once it has, events of the same build held for reordering
// follow it.
func (e *eventFaults) deliver(ctx context.Context, functionARN string, payload []byte, build string) error {
	err := e.next.InvokeAsync(ctx, functionARN, payload)
	if build != "" {
		e.in.release(build)
	}
	return err
}

// duplicate delivers the event rule.Copies times at once, as an at-least-once delivery
// may; EventBridge sees the first copy's result.
func (e *eventFaults) duplicate(ctx context.Context, rule EventRule, functionARN string, payload []byte, ev delivered, args []any) error {
	copies := rule.Copies
	if copies == 0 {
		copies = 3
	}
	e.in.injected(rule.Name, append(args, "copies", copies)...)
	errs := make([]error, copies)
	var wg sync.WaitGroup
	for i := range copies {
		wg.Go(func() {
			// Each copy gets its own payload: an invoker may keep or change it.
			errs[i] = e.deliver(ctx, functionARN, append([]byte(nil), payload...), ev.Detail.BuildID)
		})
	}
	wg.Wait()
	return errs[0]
}

// hold waits until a later event of the build has been delivered, MaxDelay passes or ctx
// ends; true when a later event overtook this one.
func (e *eventFaults) hold(ctx context.Context, rule EventRule, build string) bool {
	if build == "" {
		return false
	}
	ch := make(chan struct{})
	e.in.mu.Lock()
	e.in.held[build] = append(e.in.held[build], ch)
	e.in.mu.Unlock()
	timer := time.NewTimer(rule.MaxDelay)
	defer timer.Stop()
	select {
	case <-ch:
		return true
	case <-timer.C:
	case <-ctx.Done():
	}
	e.in.mu.Lock()
	defer e.in.mu.Unlock()
	waiting := e.in.held[build]
	for i, c := range waiting {
		if c == ch {
			e.in.held[build] = append(waiting[:i:i], waiting[i+1:]...)
			return false
		}
	}
	return true // released meanwhile
}

// release lets every event held for the build go.
func (in *Injector) release(build string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, ch := range in.held[build] {
		close(ch)
	}
	delete(in.held, build)
}

// sleep waits d; false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
