package asl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// MapRunStatus is a Map Run's status as DescribeMapRun reports it.
type MapRunStatus string

// Map Run statuses.
const (
	MapRunRunning   MapRunStatus = "RUNNING"
	MapRunSucceeded MapRunStatus = "SUCCEEDED"
	MapRunFailed    MapRunStatus = "FAILED"
	MapRunAborted   MapRunStatus = "ABORTED"
)

// MapRun is one run of a distributed Map state: the child executions it
// started and the settings that control them. Each attempt of the state
// (a retry included) is a new Map Run.
type MapRun struct {
	id              string // the last part of the ARN; names the result folder
	arn             string
	executionArn    string // the execution whose Map state started the run
	stateMachineArn string // <state machine>/<label>: what the children run
	childPrefix     string // child execution ARNs are childPrefix + name
	startDate       time.Time
	clock           Clock
	settings        mapRunSettings

	mu             sync.Mutex
	status         MapRunStatus
	stopDate       time.Time
	total          int
	children       []*Execution // in start order, which is item order
	resultsWritten int
}

// MapRunCounts counts a Map Run's items or child executions by status.
type MapRunCounts struct {
	Pending        int64
	Running        int64
	Succeeded      int64
	Failed         int64
	TimedOut       int64
	Aborted        int64
	Total          int64
	ResultsWritten int64
}

// MapRunInfo is what DescribeMapRun reports.
type MapRunInfo struct {
	MapRunArn                  string
	ExecutionArn               string
	StateMachineArn            string
	Status                     MapRunStatus
	StartDate                  time.Time
	StopDate                   time.Time // zero while running
	MaxConcurrency             int64     // as the state asked; 0 means the maximum
	ToleratedFailureCount      int64
	ToleratedFailurePercentage float64
	// Each item runs in a child execution of its own, so both counts
	// agree.
	ItemCounts      MapRunCounts
	ExecutionCounts MapRunCounts
}

// Arn returns the Map Run ARN.
func (r *MapRun) Arn() string { return r.arn }

// ExecutionArn returns the ARN of the execution that started the Map Run.
func (r *MapRun) ExecutionArn() string { return r.executionArn }

// StateMachineArn returns the ARN the child executions report as their
// state machine: the parent's state machine ARN, a slash and the label.
func (r *MapRun) StateMachineArn() string { return r.stateMachineArn }

// StartDate returns when the Map Run started.
func (r *MapRun) StartDate() time.Time { return r.startDate }

// Executions returns the child executions started so far, in item order.
func (r *MapRun) Executions() []*Execution {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Execution(nil), r.children...)
}

// Describe returns the Map Run's current state.
func (r *MapRun) Describe() MapRunInfo {
	r.mu.Lock()
	info := MapRunInfo{
		MapRunArn: r.arn, ExecutionArn: r.executionArn, StateMachineArn: r.stateMachineArn,
		Status: r.status, StartDate: r.startDate, StopDate: r.stopDate,
		MaxConcurrency: r.settings.maxConcurrency,
		// The service reports 0 for a tolerance the state does not set.
		ToleratedFailureCount:      r.settings.count,
		ToleratedFailurePercentage: r.settings.pct,
	}
	children := append([]*Execution(nil), r.children...)
	counts := MapRunCounts{Total: int64(r.total), ResultsWritten: int64(r.resultsWritten)}
	r.mu.Unlock()
	counts.Pending = counts.Total - int64(len(children))
	for _, c := range children {
		switch c.Describe().Status {
		case StatusRunning:
			counts.Running++
		case StatusSucceeded:
			counts.Succeeded++
		case StatusFailed:
			counts.Failed++
		case StatusTimedOut:
			counts.TimedOut++
		case StatusAborted:
			counts.Aborted++
		}
	}
	info.ItemCounts, info.ExecutionCounts = counts, counts
	return info
}

// MapRun returns the Map Run with the given ARN.
func (e *Engine) MapRun(arn string) (*MapRun, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.mapRuns[arn]
	return r, ok
}

// MapRuns returns the Map Runs the execution's distributed Map states
// started, oldest first.
func (x *Execution) MapRuns() []*MapRun {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]*MapRun(nil), x.mapRuns...)
}

// MapRun returns the Map Run that started a child execution, or nil.
func (x *Execution) MapRun() *MapRun { return x.mapRun }

func (r *MapRun) setTotal(n int) {
	r.mu.Lock()
	r.total = n
	r.mu.Unlock()
}

func (r *MapRun) finish(status MapRunStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status == MapRunRunning {
		r.status, r.stopDate = status, r.clock.Now()
	}
}

// tolerates reports whether failed failures of total items stay within the
// tolerated count and percentage; exceeding either fails the Map Run, and
// with neither set any failure does.
func (s mapRunSettings) tolerates(failed, total int) bool {
	if !s.hasCount && !s.hasPct {
		return failed == 0
	}
	if s.hasCount && int64(failed) > s.count {
		return false
	}
	if s.hasPct && float64(failed)*100 > s.pct*float64(total) {
		return false
	}
	return true
}

// limit is the number of child executions allowed to run at once.
func (s mapRunSettings) limit(n int) int {
	l := int(s.maxConcurrency)
	if l <= 0 || l > maxDistributedConcurrency {
		l = maxDistributedConcurrency
	}
	return min(l, n)
}

// mapRunSettings are a Map Run's settings resolved from the state input.
type mapRunSettings struct {
	maxConcurrency int64 // 0: as many as allowed
	maxItems       int64 // 0: no limit; negative from MaxItemsPath: refused by the reader
	count          int64
	hasCount       bool
	pct            float64
	hasPct         bool
}

// pathValue renders a value in a path error as the service does: strings
// without their JSON quotes.
func pathValue(v any) string {
	if s, ok := v.(string); ok {
		return `"` + s + `"`
	}
	return `"` + jsonString(v) + `"`
}

// mapRunSettings resolves MaxConcurrencyPath, the tolerated failure paths
// and MaxItemsPath; a value of the wrong type is States.Runtime.
func (th *thread) mapRunSettings(s *mapState, eff any) (mapRunSettings, error) {
	d := s.dist
	st := mapRunSettings{maxConcurrency: s.maxConcurrency, count: d.toleratedCount, hasCount: d.hasToleratedCount,
		pct: d.toleratedPct, hasPct: d.hasToleratedPct}
	if p := s.maxConcurrencyPath; p != nil {
		v, err := p.lookup(eff, nil)
		n, ok := asInt(v)
		if err != nil || !ok || n < 0 {
			return st, th.runtimef("The MaxConcurrencyPath field refers to value %s which is not a valid integer: %s", pathValue(v), p.raw)
		}
		st.maxConcurrency = n
	}
	if p := d.toleratedCountPath; p != nil {
		v, err := p.lookup(eff, nil)
		n, ok := asInt(v)
		if err != nil || !ok {
			return st, th.runtimef("The ToleratedFailureCountPath field refers to value %s which is not a valid integer: %s", pathValue(v), p.raw)
		}
		if n < 0 {
			return st, th.runtimef("ToleratedFailureCount cannot be negative.")
		}
		st.count, st.hasCount = n, true
	}
	if p := d.toleratedPctPath; p != nil {
		v, err := p.lookup(eff, nil)
		f, ok := asFloat(v)
		if err != nil || !ok {
			return st, th.runtimef("The ToleratedFailurePercentagePath field refers to value %s which is not a valid float: %s", pathValue(v), p.raw)
		}
		if f < 0 || f > toleratedPercentageMax {
			return st, th.runtimef("ToleratedFailurePercentage must be between 0 and 100.")
		}
		st.pct, st.hasPct = f, true
	}
	if ir := d.reader; ir != nil {
		st.maxItems = ir.maxItems
		if p := ir.maxItemsPath; p != nil {
			v, err := p.lookup(eff, nil)
			n, ok := asInt(v)
			if err != nil || !ok {
				return st, th.runtimef("The MaxItemsPath field refers to value %s which is not a valid integer: %s", pathValue(v), p.raw)
			}
			st.maxItems = n
		}
	}
	return st, nil
}

// newMapRun creates and registers a Map Run of x. Its ARN is the state
// machine's with mapRun for stateMachine, then /<label>:<id>; without a
// Label the label is a UUID as well.
func (e *Engine) newMapRun(x *Execution, d *distributedMap, st mapRunSettings) *MapRun {
	id := e.uuid()
	label := d.label
	if label == "" {
		label = e.uuid()
	}
	r := &MapRun{
		id:              id,
		arn:             strings.Replace(x.smArn, ":stateMachine:", ":mapRun:", 1) + "/" + label + ":" + id,
		executionArn:    x.arn,
		stateMachineArn: x.smArn + "/" + label,
		childPrefix:     strings.Replace(x.smArn, ":stateMachine:", ":execution:", 1) + "/" + label + ":",
		startDate:       e.clock.Now(),
		clock:           e.clock,
		settings:        st,
		status:          MapRunRunning,
	}
	e.mu.Lock()
	e.mapRuns[r.arn] = r
	e.mu.Unlock()
	x.mu.Lock()
	x.mapRuns = append(x.mapRuns, r)
	x.mu.Unlock()
	return r
}

// startChild starts the child execution of one item. Its name is a UUID,
// it runs as the parent's role, and its history, payload limits and task
// tokens are its own. An input over the payload quota fails the child at
// once with States.DataLimitExceeded, which fails the item.
func (e *Engine) startChild(parent *Execution, r *MapRun, def *Definition, input any) *Execution {
	name := e.uuid()
	text := jsonString(input)
	tooLarge := len(text) > MaxPayloadBytes
	if tooLarge {
		text = ""
	}
	x := e.newExecution(r.childPrefix+name, name, r.stateMachineArn, def, text, input, parent.roleArn)
	x.mapRun = r
	e.mu.Lock()
	e.executions[x.arn] = x
	e.mu.Unlock()
	r.mu.Lock()
	r.children = append(r.children, x)
	r.mu.Unlock()
	if !tooLarge {
		e.launch(x)
		return x
	}
	x.record(0, HistoryEvent{Type: "ExecutionStarted", ExecutionStartedEventDetails: &ExecutionStartedEventDetails{
		InputDetails: &DataDetails{Truncated: true}, RoleArn: x.roleArn,
	}})
	x.finish(0, StatusFailed, nil, ErrorDataLimitExceeded,
		fmt.Sprintf("The input of the child execution has a size exceeding the maximum number of bytes service limit (%d).", MaxPayloadBytes))
	return x
}

// runDistributedMap runs a distributed Map state with its Retry and Catch.
// The parent's history records MapStateStarted, MapRunStarted and
// MapRunSucceeded or MapRunFailed; the items' work is recorded in the
// children's histories.
func (x *Execution) runDistributedMap(ctx context.Context, th *thread, s *mapState, raw any) (any, string, error) {
	eff, err := th.applyInputPath(&s.stateBase, raw)
	if err != nil {
		return nil, "", err
	}
	runStarted := false
	return th.withRecovery(ctx, &s.stateBase, recovery{s.retry, s.catch}, raw, func(retryCount int) (any, error) {
		runStarted = false
		var items []any
		if s.dist.reader == nil {
			itemsValue := eff
			if s.itemsPath != nil {
				if itemsValue, err = s.itemsPath.lookup(eff, nil); err != nil {
					return nil, th.runtimef("Invalid path '%s' : No results for path: %s", s.itemsPath.raw, s.itemsPath.query.String())
				}
			}
			var ok bool
			if items, ok = itemsValue.([]any); !ok {
				return nil, th.runtimef("Map state input must be an array but was: %s", jsonString(itemsValue))
			}
		}
		// With an ItemReader the items are not known yet: the service
		// reports length 0.
		th.emit(HistoryEvent{Type: "MapStateStarted", MapStateStartedEventDetails: &MapStateStartedEventDetails{Length: len(items)}})
		st, err := th.mapRunSettings(s, eff)
		if err != nil {
			return nil, err
		}
		run := x.engine.newMapRun(x, s.dist, st)
		runStarted = true
		th.emit(HistoryEvent{Type: "MapRunStarted", MapRunStartedEventDetails: &MapRunStartedEventDetails{MapRunArn: run.arn}})
		result, err := x.runMapRun(ctx, th, s, run, eff, items, retryCount)
		if err != nil {
			if errors.Is(err, errAborted) || ctx.Err() != nil {
				run.finish(MapRunAborted)
				return nil, errAborted
			}
			run.finish(MapRunFailed)
			var se *stateError
			if !errors.As(err, &se) {
				se = th.runtimef("%v", err)
			}
			th.emit(HistoryEvent{Type: "MapRunFailed", MapRunFailedEventDetails: &ErrorEventDetails{Error: se.name, Cause: se.cause}})
			return nil, se
		}
		run.finish(MapRunSucceeded)
		succeeded := th.emit(HistoryEvent{Type: "MapRunSucceeded"})
		th.emit(HistoryEvent{Type: "MapStateSucceeded"})
		// The service links MapStateExited to MapRunSucceeded too.
		if succeeded != 0 {
			th.prev = succeeded
		}
		return th.finishResult(&s.stateBase, s.resultSelector, s.resultPath, raw, result, retryCount)
	}, func() {
		if runStarted {
			th.emit(HistoryEvent{Type: "MapStateFailed"})
		}
	})
}

// runMapRun reads the items, runs a child execution for each and returns the
// state's result: the children's outputs in item order, or where the
// ResultWriter put them.
func (x *Execution) runMapRun(ctx context.Context, th *thread, s *mapState, run *MapRun, eff any, items []any, retryCount int) (any, error) {
	d := s.dist
	var target *resultTarget
	if d.writer != nil {
		var err error
		if target, err = th.resultTarget(d.writer, eff, retryCount); err != nil {
			return nil, err
		}
	}
	if d.reader != nil {
		var err error
		if items, err = x.readItems(ctx, th, d.reader, eff, run.settings.maxItems, retryCount); err != nil {
			return nil, err
		}
	}
	run.setTotal(len(items))
	children, exceeded, err := x.runChildren(ctx, th, s, run, eff, items, retryCount)
	if err != nil {
		return nil, err
	}
	// Results are exported also when the failures exceed the tolerance, so
	// the ones that ended are not lost.
	var manifestKey string
	if target != nil {
		if manifestKey, err = x.writeResults(ctx, th, s, run, target, eff, items, children, retryCount); err != nil {
			return nil, err
		}
	}
	if exceeded {
		return nil, newStateError(ErrorExceedToleratedFailureThreshold, causeExceedToleratedFailureThreshold)
	}
	if target != nil {
		return map[string]any{
			"MapRunArn":           run.arn,
			"ResultWriterDetails": map[string]any{"Bucket": target.bucket, "Key": manifestKey},
		}, nil
	}
	results := make([]any, len(children))
	for i, c := range children {
		results[i] = childResult(c)
	}
	return results, nil
}

// childResult is an item's entry in the state's result: the child's output
// when it succeeded and, as the service returns a failed child's result
// unchanged, its execution result otherwise.
func childResult(c *Execution) any {
	info := c.Describe()
	if info.Status == StatusSucceeded {
		if v, err := decodeValue([]byte(info.Output)); err == nil {
			return v
		}
	}
	return executionResult(info)
}

// itemInput builds an item's child input: the ItemSelector evaluated in the
// parent's context, with $$.Map.Item set, or the item itself.
func (th *thread) itemInput(s *mapState, eff any, items []any, i, retryCount int) (any, error) {
	if s.itemSelector == nil {
		return deepCopy(items[i]), nil
	}
	return th.evalTemplate(s.itemSelector, eff, th.contextObject(retryCount, "", &mapItem{index: i, value: items[i]}))
}

// runChildren starts a child execution per item, at most the Map Run's
// concurrency at once, and waits for them. When the failures exceed the
// tolerance it starts no more, aborts the running ones and reports
// exceeded. When the parent ends it aborts the children and returns
// errAborted. children[i] is nil for an item that never started.
func (x *Execution) runChildren(ctx context.Context, th *thread, s *mapState, run *MapRun, eff any, items []any, retryCount int) ([]*Execution, bool, error) {
	n := len(items)
	children := make([]*Execution, n)
	if n == 0 {
		return children, false, nil
	}
	limit := run.settings.limit(n)
	// Every started child sends once; at most limit are outstanding, so
	// the sends never block, even after an early return.
	ended := make(chan int, limit)
	running, next, failed := 0, 0, 0
	exceeded := false
	abortStarted := func() {
		for _, c := range children[:next] {
			c.stop("", "", "")
		}
	}
	for running > 0 || (!exceeded && next < n) {
		if !exceeded && next < n && running < limit {
			if ctx.Err() != nil {
				abortStarted()
				return children, false, errAborted
			}
			input, err := th.itemInput(s, eff, items, next, retryCount)
			if err != nil {
				abortStarted()
				return children, false, err
			}
			c := x.engine.startChild(x, run, s.dist.processorDef, input)
			children[next] = c
			i := next
			next++
			running++
			go func() {
				<-c.Done()
				ended <- i
			}()
			continue
		}
		select {
		case i := <-ended:
			running--
			if exceeded || children[i].Describe().Status == StatusSucceeded {
				continue
			}
			failed++
			if !run.settings.tolerates(failed, n) {
				exceeded = true
				abortStarted()
			}
		case <-ctx.Done():
			abortStarted()
			return children, false, errAborted
		}
	}
	return children, exceeded, nil
}
