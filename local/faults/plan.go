package faults

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Plan is the set of faults of one run. The zero Plan injects nothing. Each rule chooses
// the requests or deliveries it hits with a seeded draw (see Injector), so one Seed gives
// the same choices for the same requests whatever order they arrive in.
type Plan struct {
	Seed      int64
	Answers   []AnswerRule
	Throttles []ThrottleRule
	Events    []EventRule
	Kills     []KillRule
	Stalls    []StallRule
}

// Empty reports whether the plan injects nothing.
func (p Plan) Empty() bool {
	return len(p.Answers) == 0 && len(p.Throttles) == 0 && len(p.Events) == 0 && len(p.Kills) == 0 && len(p.Stalls) == 0
}

// Loss is how the answer to an applied DynamoDB write is lost.
type Loss int

const (
	// Answer500 replaces the answer with an InternalServerError, which the SDK retries.
	Answer500 Loss = iota + 1
	// DropConnection closes the connection without an answer, as a connection that dies
	// or times out on the way back: the SDK retries that too.
	DropConnection
)

func (l Loss) String() string {
	switch l {
	case Answer500:
		return "500"
	case DropConnection:
		return "connection dropped"
	}
	return fmt.Sprintf("Loss(%d)", int(l))
}

// Writes selects DynamoDB writes (PutItem, UpdateItem, DeleteItem) by the functions.
type Writes struct {
	// Function is the writing function's name (its role session name, as Lambda names
	// it): "crossbuild-callback". Empty: any function.
	Function string
	// Ops limits the operations; empty means every write.
	Ops []string
	// SetsState keeps only writes that set the item's state attribute to this value:
	// "CLAIMED" is a claim.
	SetsState string
	// KeyPrefix keeps only items whose key starts with it: "arn:" is a build's record,
	// as opposed to an intent.
	KeyPrefix string
}

// AnswerRule applies a fraction of the selected writes and loses their answers.
type AnswerRule struct {
	Name     string
	Writes   Writes
	Loss     Loss
	Fraction float64
}

// ThrottleRule answers a fraction of a service's operations with its throttling error
// instead of serving them: ThrottlingException from Step Functions and CodeBuild,
// Throttling from STS (query protocol).
type ThrottleRule struct {
	Name     string
	Service  string   // the SigV4 signing name: "states", "sts" or "codebuild"
	Ops      []string // operation names, e.g. "SendTaskSuccess"; at least one
	Fraction float64
}

// EventKind is what happens to an event on its way to a function.
type EventKind int

const (
	// Drop loses the event: EventBridge believes it delivered it.
	Drop EventKind = iota + 1
	// Duplicate delivers the event Copies times at once.
	Duplicate
	// Reorder holds the event until a later event of the same build has been delivered
	// (at most MaxDelay), so the later one overtakes it.
	Reorder
	// Delay holds the event for a seeded share of MaxDelay.
	Delay
)

func (k EventKind) String() string {
	switch k {
	case Drop:
		return "drop"
	case Duplicate:
		return "duplicate"
	case Reorder:
		return "reorder"
	case Delay:
		return "delay"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// EventRule acts on a fraction of the events EventBridge delivers to one function.
type EventRule struct {
	Name     string
	Function string // the receiving function's name, e.g. "crossbuild-callback"
	Kind     EventKind
	Fraction float64
	Copies   int           // Duplicate: deliveries in all; 0 means 3
	MaxDelay time.Duration // Delay and Reorder: the longest an event is held
}

// KillRule kills the function process that sends a selected write: before the write
// reaches the table (After false), or once it is applied and before its answer (After
// true). The invocation then fails as Lambda reports a runtime that exited.
type KillRule struct {
	Name     string
	Writes   Writes
	After    bool
	Fraction float64
	// PerItem bounds the kills per item key, so a retried invocation can get past the
	// same write; 0 means 1.
	PerItem int
}

// StallRule holds a fraction of the selected writes for Delay before they reach the
// table, as a slow network or a paused function would: a starter whose record write is
// held lets its build's terminal event arrive first.
type StallRule struct {
	Name     string
	Writes   Writes
	Delay    time.Duration
	Fraction float64
}

// services whose operations a ThrottleRule may name.
var throttled = []string{"states", "sts", "codebuild"}

// writeOps are the DynamoDB operations that change an item.
var writeOps = []string{"PutItem", "UpdateItem", "DeleteItem"}

// Validate checks the plan: every rule named once, fractions within [0, 1], known
// services, operations and kinds.
func (p Plan) Validate() error {
	var errs []error
	seen := map[string]bool{}
	name := func(n string) {
		switch {
		case n == "":
			errs = append(errs, errors.New("a rule has no name"))
		case seen[n]:
			errs = append(errs, fmt.Errorf("rule %q: named twice", n))
		}
		seen[n] = true
	}
	fraction := func(n string, f float64) {
		if f < 0 || f > 1 {
			errs = append(errs, fmt.Errorf("rule %q: fraction %v is not within [0, 1]", n, f))
		}
	}
	writes := func(n string, w Writes) {
		for _, op := range w.Ops {
			if !slices.Contains(writeOps, op) {
				errs = append(errs, fmt.Errorf("rule %q: %s is not a DynamoDB write (%v)", n, op, writeOps))
			}
		}
	}
	for _, r := range p.Answers {
		name(r.Name)
		fraction(r.Name, r.Fraction)
		writes(r.Name, r.Writes)
		if r.Loss != Answer500 && r.Loss != DropConnection {
			errs = append(errs, fmt.Errorf("rule %q: unknown loss %v", r.Name, r.Loss))
		}
	}
	for _, r := range p.Throttles {
		name(r.Name)
		fraction(r.Name, r.Fraction)
		if !slices.Contains(throttled, r.Service) {
			errs = append(errs, fmt.Errorf("rule %q: service %q cannot be throttled (%v)", r.Name, r.Service, throttled))
		}
		if len(r.Ops) == 0 {
			errs = append(errs, fmt.Errorf("rule %q: no operation named", r.Name))
		}
	}
	for _, r := range p.Events {
		name(r.Name)
		fraction(r.Name, r.Fraction)
		if r.Function == "" {
			errs = append(errs, fmt.Errorf("rule %q: no receiving function", r.Name))
		}
		switch r.Kind {
		case Drop, Duplicate:
		case Reorder, Delay:
			if r.MaxDelay <= 0 {
				errs = append(errs, fmt.Errorf("rule %q: %s needs a MaxDelay", r.Name, r.Kind))
			}
		default:
			errs = append(errs, fmt.Errorf("rule %q: unknown kind %v", r.Name, r.Kind))
		}
		if r.Copies < 0 || r.Copies == 1 {
			errs = append(errs, fmt.Errorf("rule %q: %d copies: a duplicate needs 2 or more", r.Name, r.Copies))
		}
	}
	for _, r := range p.Kills {
		name(r.Name)
		fraction(r.Name, r.Fraction)
		writes(r.Name, r.Writes)
		if r.Writes.Function == "" {
			errs = append(errs, fmt.Errorf("rule %q: a kill names the function it kills", r.Name))
		}
		if r.PerItem < 0 {
			errs = append(errs, fmt.Errorf("rule %q: negative PerItem", r.Name))
		}
	}
	for _, r := range p.Stalls {
		name(r.Name)
		fraction(r.Name, r.Fraction)
		writes(r.Name, r.Writes)
		if r.Delay <= 0 {
			errs = append(errs, fmt.Errorf("rule %q: a stall needs a Delay", r.Name))
		}
	}
	return errors.Join(errs...)
}
