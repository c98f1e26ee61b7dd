package faults

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Injector holds the plan of the current run, draws its choices and counts what it did.
// One Injector serves a whole world; Set switches plans between runs.
type Injector struct {
	log *slog.Logger

	mu     sync.Mutex
	plan   Plan
	seen   map[string]int    // occurrences by rule and key: a retried request draws anew
	perKey map[string]int    // kills by rule and item key
	counts map[string]*Count // by rule name
	sends  map[string]*TaskSends
	held   map[string][]chan struct{} // Reorder: events waiting for a later one, by build
}

// Count is what one rule did in the current run.
type Count struct {
	Rule string
	// Eligible requests or deliveries the rule looked at, Injected the faults it caused.
	Eligible, Injected int
	// Missed faults were chosen and could not happen: a process to kill was not found, or a
	// held event saw no later event of its build before MaxDelay.
	Missed int
}

// TaskSends is what Step Functions answered to the completions sent for one task token.
type TaskSends struct {
	Accepted   int            // SendTaskSuccess or SendTaskFailure answered 200
	Refused    map[string]int // by error code (TaskTimedOut, ThrottlingException, ...)
	Heartbeats int            // SendTaskHeartbeat answered 200
	FirstClose time.Time      // when the first accepted completion was answered
}

// Options configure an Injector.
type Options struct {
	Logger *slog.Logger // every fault injected is logged; nil discards
}

// New returns an Injector with the empty plan.
func New(opts Options) *Injector {
	in := &Injector{log: opts.Logger}
	if in.log == nil {
		in.log = slog.New(slog.DiscardHandler)
	}
	in.reset(Plan{})
	return in
}

// Set installs the plan of the next run and clears the counts, the draws and the
// completions seen. Events still held by the previous plan are released.
func (in *Injector) Set(p Plan) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("fault plan: %w", err)
	}
	in.reset(p)
	return nil
}

func (in *Injector) reset(p Plan) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, waiting := range in.held {
		for _, ch := range waiting {
			close(ch)
		}
	}
	in.plan = p
	in.seen = map[string]int{}
	in.perKey = map[string]int{}
	in.counts = map[string]*Count{}
	in.sends = map[string]*TaskSends{}
	in.held = map[string][]chan struct{}{}
}

// Plan returns the installed plan.
func (in *Injector) Plan() Plan {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.plan
}

// Counts returns what each rule of the plan did, in the plan's order.
func (in *Injector) Counts() []Count {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []Count
	for _, name := range in.plan.ruleNames() {
		c := Count{Rule: name}
		if got := in.counts[name]; got != nil {
			c = *got
		}
		out = append(out, c)
	}
	return out
}

// Injected is the number of faults injected by every rule of the plan.
func (in *Injector) Injected() int {
	n := 0
	for _, c := range in.Counts() {
		n += c.Injected
	}
	return n
}

// TaskSends returns the completions Step Functions answered, by task token.
func (in *Injector) TaskSends() map[string]TaskSends {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make(map[string]TaskSends, len(in.sends))
	for tok, s := range in.sends {
		c := *s
		c.Refused = make(map[string]int, len(s.Refused))
		for k, v := range s.Refused {
			c.Refused[k] = v
		}
		out[tok] = c
	}
	return out
}

func (p Plan) ruleNames() []string {
	var names []string
	for _, r := range p.Answers {
		names = append(names, r.Name)
	}
	for _, r := range p.Throttles {
		names = append(names, r.Name)
	}
	for _, r := range p.Events {
		names = append(names, r.Name)
	}
	for _, r := range p.Kills {
		names = append(names, r.Name)
	}
	for _, r := range p.Stalls {
		names = append(names, r.Name)
	}
	return names
}

// draw decides whether rule hits the request or delivery identified by key: the n-th
// occurrence of one key draws its own number, from the seed, the rule, the key and n
// alone, so the choices do not depend on the order requests arrive in. It counts the
// occurrence as eligible. The second result is a further seeded number in [0, 1) for the
// rule's own use (how long to delay).
func (in *Injector) draw(rule, key string, fraction float64) (hit bool, extra float64) {
	// A digest keeps the occurrence table small whatever the requests' bodies.
	sum := sha256.Sum256([]byte(key))
	id := rule + "\x00" + string(sum[:16])
	in.mu.Lock()
	defer in.mu.Unlock()
	in.seen[id]++
	in.count(rule).Eligible++
	n := in.seen[id]
	return uniform(in.plan.Seed, id, n, 0) < fraction, uniform(in.plan.Seed, id, n, 1)
}

// uniform maps (seed, id, n, salt) to a number in [0, 1).
func uniform(seed int64, id string, n, salt int) float64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(seed))
	_, _ = h.Write(b[:])
	_, _ = h.Write([]byte(id))
	binary.LittleEndian.PutUint64(b[:], uint64(n)<<8|uint64(salt))
	_, _ = h.Write(b[:])
	// A final mix: FNV's high bits change little with the last bytes written.
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return float64(x>>11) / (1 << 53)
}

// count returns the rule's counter; in.mu is held.
func (in *Injector) count(rule string) *Count {
	c := in.counts[rule]
	if c == nil {
		c = &Count{Rule: rule}
		in.counts[rule] = c
	}
	return c
}

func (in *Injector) injected(rule string, args ...any) {
	in.mu.Lock()
	in.count(rule).Injected++
	in.mu.Unlock()
	in.log.Info("fault injected", append([]any{"rule", rule}, args...)...)
}

// retract takes back a fault counted as injected that did not happen.
func (in *Injector) retract(rule string) {
	in.mu.Lock()
	in.count(rule).Injected--
	in.mu.Unlock()
}

func (in *Injector) missed(rule string, args ...any) {
	in.mu.Lock()
	in.count(rule).Missed++
	in.mu.Unlock()
	in.log.Warn("fault chosen but not injected", append([]any{"rule", rule}, args...)...)
}

// claimKill takes one of a kill rule's kills for an item; false when the item had its share.
func (in *Injector) claimKill(r KillRule, item string) bool {
	limit := r.PerItem
	if limit == 0 {
		limit = 1
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	id := r.Name + "\x00" + item
	if in.perKey[id] >= limit {
		return false
	}
	in.perKey[id]++
	return true
}

// recordSend notes Step Functions' answer to a completion or heartbeat for a token.
func (in *Injector) recordSend(op, token string, status int, code string, at time.Time) {
	if token == "" {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	s := in.sends[token]
	if s == nil {
		s = &TaskSends{Refused: map[string]int{}}
		in.sends[token] = s
	}
	switch {
	case status == 200 && op == "SendTaskHeartbeat":
		s.Heartbeats++
	case status == 200:
		if s.Accepted == 0 {
			s.FirstClose = at
		}
		s.Accepted++
	default:
		if code == "" {
			code = fmt.Sprintf("HTTP %d", status)
		}
		s.Refused[code]++
	}
}

// Report renders the counts of the current run, one line per rule.
func (in *Injector) Report() string {
	var b strings.Builder
	for _, c := range in.Counts() {
		fmt.Fprintf(&b, "%-40s eligible %5d  injected %4d", c.Rule, c.Eligible, c.Injected)
		if c.Missed > 0 {
			fmt.Fprintf(&b, "  missed %d", c.Missed)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// matchWrite reports whether a write matches a selection.
func (w Writes) match(function, op, key, state string) bool {
	return (w.Function == "" || w.Function == function) &&
		(len(w.Ops) == 0 || slices.Contains(w.Ops, op)) &&
		(w.SetsState == "" || w.SetsState == state) &&
		strings.HasPrefix(key, w.KeyPrefix)
}
