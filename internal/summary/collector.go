package summary

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/crossbuild/crossbuild/internal/plan"
)

// maxEntries bounds the child executions read for one Map Run: twice the most it can have,
// so a redriven run that lists a child again still fits.
const maxEntries = 2 * plan.MaxTargets

// Collector condenses a Map Run's result files, one child execution at a time, keeping
// only counts and bounded lists.
type Collector struct {
	plan plan.Plan

	entries, succeeded, failed, pending int
	byStatus, byError                   counter

	listing     bool // every result is still kept for the output
	listed      []listedResult
	listedBytes int

	first []rankedFailure // the first failures by mapIndex, at most MaxFailedTargets
	seq   int
}

// rank orders results by mapIndex; those without one come last, in reading order.
type rank struct{ index, seq int }

func (a rank) less(b rank) bool {
	if a.index != b.index {
		return a.index < b.index
	}
	return a.seq < b.seq
}

type listedResult struct {
	rank rank
	raw  json.RawMessage
}

type rankedFailure struct {
	rank rank
	r    FailureResult
}

// NewCollector starts collecting the results of p's Map Run.
func NewCollector(p plan.Plan) *Collector {
	return &Collector{
		plan:     p,
		listing:  p.Count <= MaxListedTargets,
		byStatus: counter{max: MaxStatusNames, m: map[string]int{}},
		byError:  counter{max: MaxErrorNames, m: map[string]int{}},
	}
}

// Read streams one result file of the given kind: a JSON array of child executions (or
// JSON Lines), decoded one entry at a time.
func (c *Collector) Read(r io.Reader, kind string) error {
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := firstNonSpace(br)
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	dec := json.NewDecoder(br)
	array := first == '['
	if array {
		if _, err := dec.Token(); err != nil {
			return err
		}
	}
	for n := 0; dec.More(); n++ {
		if c.entries >= maxEntries {
			return fmt.Errorf("more than %d child executions", maxEntries)
		}
		var e Entry
		if err := dec.Decode(&e); err != nil {
			return fmt.Errorf("entry %d: %w", n, err)
		}
		c.Add(kind, e)
	}
	if array {
		if _, err := dec.Token(); err != nil {
			return err
		}
	}
	return nil
}

// Add counts one child execution found in a result file of the given kind.
func (c *Collector) Add(kind string, e Entry) {
	c.entries++
	c.seq++
	status := e.Status
	if status == "" {
		status = kind
	}
	in := parseChildInput(e.Input)
	rk := rank{index: math.MaxInt, seq: c.seq}
	if in.mapIndex != nil {
		rk.index = *in.mapIndex
	}
	switch {
	case kind == KindPending || status == KindPending:
		c.pending++
	case status == KindSucceeded:
		c.succeeded++
		c.byStatus.add(status)
		if c.listing {
			c.list(rk, successResult(e))
		}
	default:
		c.failed++
		c.byStatus.add(status)
		fr := failureResult(e, in, status)
		c.byError.add(fr.Error)
		c.keepFirst(rk, fr)
		if c.listing {
			raw, _ := json.Marshal(fr)
			c.list(rk, raw)
		}
	}
}

func (c *Collector) list(rk rank, raw json.RawMessage) {
	c.listed = append(c.listed, listedResult{rank: rk, raw: raw})
	c.listedBytes += len(raw) + 1
	if len(c.listed) > MaxListedTargets || c.listedBytes > MaxListedBytes {
		c.listing, c.listed = false, nil
	}
}

func (c *Collector) keepFirst(rk rank, fr FailureResult) {
	i := sort.Search(len(c.first), func(i int) bool { return rk.less(c.first[i].rank) })
	if i >= MaxFailedTargets {
		return
	}
	c.first = append(c.first, rankedFailure{})
	copy(c.first[i+1:], c.first[i:])
	c.first[i] = rankedFailure{rank: rk, r: fr}
	if len(c.first) > MaxFailedTargets {
		c.first = c.first[:MaxFailedTargets]
	}
}

// Finish returns the summariser's response. loc.Manifest is nil when the Map Run wrote no
// results; mapRunErr is the error the Map state was caught with, if any.
func (c *Collector) Finish(loc Location, mapRunErr *MapRunError) Response {
	total := max(c.plan.Count, c.succeeded+c.failed+c.pending)
	notRun := total - c.succeeded - c.failed
	exceeded := c.failed > c.plan.ToleratedFailureCount ||
		(total > 0 && float64(c.failed)*100/float64(total) > c.plan.ToleratedFailurePercentage)

	first := make([]FailureResult, len(c.first))
	for i, f := range c.first {
		first[i] = f.r
	}
	out := Output{
		Summary: Summary{
			Total: total, Succeeded: c.succeeded, Failed: c.failed, NotRun: notRun,
			ByStatus: c.byStatus.m, ByError: c.byError.m,
			ToleratedFailureCount:      c.plan.ToleratedFailureCount,
			ToleratedFailurePercentage: c.plan.ToleratedFailurePercentage,
		},
		FailedTargets:   first,
		ResultsLocation: loc,
	}
	if c.listing && total <= MaxListedTargets && len(c.listed) > 0 {
		sort.SliceStable(c.listed, func(i, j int) bool { return c.listed[i].rank.less(c.listed[j].rank) })
		out.Results = make([]json.RawMessage, len(c.listed))
		for i, l := range c.listed {
			out.Results[i] = l.raw
		}
	}
	resp := Response{Output: fit(out), Failed: mapRunErr != nil || exceeded || notRun > 0}
	if resp.Failed {
		resp.Cause = c.cause(total, notRun, loc, mapRunErr, first)
	}
	return resp
}

// fit keeps the output within MaxOutputBytes: the full results list goes first, then
// failed targets from the end. The bounds above make this a safety net.
func fit(out Output) Output {
	for range MaxFailedTargets + 2 {
		b, err := json.Marshal(out)
		if err == nil && len(b) <= MaxOutputBytes {
			break
		}
		switch {
		case out.Results != nil:
			out.Results = nil
		case len(out.FailedTargets) > 0:
			out.FailedTargets = out.FailedTargets[:len(out.FailedTargets)-1]
		}
	}
	return out
}

// cause explains a failed run in at most MaxCauseBytes: counts, tolerance, the Map Run's
// error, where the results are, and as many of the first failures as fit.
func (c *Collector) cause(total, notRun int, loc Location, mapRunErr *MapRunError, first []FailureResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d targets failed", c.failed, total)
	if notRun > 0 {
		fmt.Fprintf(&b, ", %d not run", notRun)
	}
	fmt.Fprintf(&b, " (tolerated: %s, %s%%)", targets(c.plan.ToleratedFailureCount), strconv.FormatFloat(c.plan.ToleratedFailurePercentage, 'f', -1, 64))
	if mapRunErr != nil {
		fmt.Fprintf(&b, "; map run: %s: %s", cut(mapRunErr.Error, 256, byteCost), cut(mapRunErr.Cause, 1024, byteCost))
	}
	where := "s3://" + loc.Bucket + "/" + loc.Prefix
	if loc.Manifest == nil {
		fmt.Fprintf(&b, "; results: none written under %s", where)
	} else {
		fmt.Fprintf(&b, "; results: %s", where)
	}
	b.WriteString("; first failures: [")

	const tailRoom = len("] (and 10000 more)")
	budget := MaxCauseBytes - b.Len() - tailRoom
	shown := 0
	for _, f := range first {
		enc := shortJSON(f)
		sep := 0
		if shown > 0 {
			sep = 1
		}
		if sep+len(enc) > budget {
			break
		}
		if sep > 0 {
			b.WriteByte(',')
		}
		b.WriteString(enc)
		budget -= sep + len(enc)
		shown++
	}
	b.WriteByte(']')
	if c.failed > shown {
		fmt.Fprintf(&b, " (and %d more)", c.failed-shown)
	}
	return cut(b.String(), MaxCauseBytes, byteCost)
}

func targets(n int) string {
	if n == 1 {
		return "1 target"
	}
	return strconv.Itoa(n) + " targets"
}

// shortJSON renders a failure for the cause, its long fields cut shorter than in the output.
func shortJSON(f FailureResult) string {
	short := func(p *string, n int) *string {
		if p == nil {
			return nil
		}
		s := cut(*p, n, byteCost)
		return &s
	}
	f.RoleARN, f.Region, f.Project = short(f.RoleARN, 256), short(f.Region, 32), short(f.Project, 128)
	f.Error, f.Cause = cut(f.Error, 128, byteCost), cut(f.Cause, 256, byteCost)
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // readable in the console; the length is what Step Functions counts
	if err := enc.Encode(f); err != nil {
		return "{}"
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// counter counts names, at most max of them by name and the rest under Other.
type counter struct {
	max int
	m   map[string]int
}

func (c counter) add(name string) {
	name = cut(name, maxName, jsonCost)
	if name == "" {
		name = "unknown"
	}
	if _, ok := c.m[name]; ok || len(c.m) < c.max {
		c.m[name]++
		return
	}
	c.m[Other]++
}

// childInput is what the summary needs from a child execution's input (the item with its
// mapIndex, docs/reference.md "Item").
type childInput struct {
	mapIndex             *int
	arn, region, project json.RawMessage
}

func parseChildInput(s *string) childInput {
	var ci childInput
	if s == nil {
		return ci
	}
	// Only what is needed is kept; the target, which may be large, is skipped.
	var fields struct {
		MapIndex json.RawMessage `json:"mapIndex"`
		Settings json.RawMessage `json:"settings"`
	}
	if json.Unmarshal([]byte(*s), &fields) != nil {
		return ci
	}
	ci.mapIndex = mapIndex(fields.MapIndex)
	var settings map[string]json.RawMessage
	if json.Unmarshal(fields.Settings, &settings) == nil {
		ci.arn, ci.region, ci.project = settings["arn"], settings["region"], settings["codeBuildProject"]
	}
	return ci
}

func mapIndex(raw json.RawMessage) *int {
	var n int
	if len(raw) == 0 || json.Unmarshal(raw, &n) != nil || n < 0 || n > 10*plan.MaxTargets {
		return nil
	}
	return &n
}

// successResult is a succeeded child's output, the target's result object, encoded as the
// Lambda runtime will encode it so its size is known.
func successResult(e Entry) json.RawMessage {
	var v any
	if e.Output != nil {
		v = *e.Output
		if json.Valid([]byte(*e.Output)) {
			v = json.RawMessage(*e.Output)
		}
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return raw
}

// failureResult is the failure result of a child that did not succeed. The child's Fail
// state put it in the Cause as JSON; a child that was aborted, timed out or failed with a
// States.* error has none, and it is rebuilt from the entry and the child's input.
func failureResult(e Entry, in childInput, status string) FailureResult {
	if e.Cause != nil {
		var f map[string]json.RawMessage
		if json.Unmarshal([]byte(*e.Cause), &f) == nil && f["status"] != nil && f["error"] != nil {
			fr := FailureResult{
				MapIndex: mapIndex(f["mapIndex"]),
				RoleARN:  text(f["roleArn"], maxRoleARN),
				Region:   text(f["region"], maxRegion),
				Project:  text(f["project"], maxProject),
				Status:   orDefault(text(f["status"], maxStatus), status),
				Error:    orDefault(text(f["error"], maxError), status),
				Cause:    orDefault(text(f["cause"], maxCause), ""),
			}
			if fr.MapIndex == nil {
				fr.MapIndex = in.mapIndex
			}
			return fr
		}
	}
	errName, cause := status, "child execution ended "+status
	if e.Error != nil && *e.Error != "" {
		errName = *e.Error
	}
	if e.Cause != nil && *e.Cause != "" {
		cause = *e.Cause
	}
	return FailureResult{
		MapIndex: in.mapIndex,
		RoleARN:  text(in.arn, maxRoleARN),
		Region:   text(in.region, maxRegion),
		Project:  text(in.project, maxProject),
		Status:   cut(status, maxStatus, jsonCost),
		Error:    cut(errName, maxError, jsonCost),
		Cause:    cut(cause, maxCause, jsonCost),
	}
}

func orDefault(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

// firstNonSpace skips leading JSON whitespace and returns the next byte without consuming it.
func firstNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b, br.UnreadByte()
	}
}
