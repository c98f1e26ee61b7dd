package asl

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"sync"

	"golang.org/x/sync/errgroup"
)

// runMap runs a Map state with its Retry and Catch.
func (x *Execution) runMap(ctx context.Context, th *thread, s *mapState, raw any) (any, string, error) {
	if s.dist != nil {
		return x.runDistributedMap(ctx, th, s, raw)
	}
	eff, err := th.applyInputPath(&s.stateBase, raw)
	if err != nil {
		return nil, "", err
	}
	started := false
	return th.withRecovery(ctx, &s.stateBase, recovery{s.retry, s.catch}, raw, func(retryCount int) (any, error) {
		started = false
		itemsValue := eff
		if s.itemsPath != nil {
			if itemsValue, err = s.itemsPath.lookup(eff, nil); err != nil {
				return nil, th.runtimef("Invalid path '%s' : No results for path: %s", s.itemsPath.raw, s.itemsPath.query.String())
			}
		}
		items, ok := itemsValue.([]any)
		if !ok {
			return nil, th.runtimef("Map state input must be an array but was: %s", jsonString(itemsValue))
		}
		limit := s.maxConcurrency
		if s.maxConcurrencyPath != nil {
			v, err := s.maxConcurrencyPath.lookup(eff, nil)
			n, ok := asInt(v)
			if err != nil || !ok || n < 0 {
				return nil, th.runtimef("The MaxConcurrencyPath field refers to value %s which is not a valid integer: %s", strconv.Quote(jsonString(v)), s.maxConcurrencyPath.raw)
			}
			limit = n
		}
		// Inline Map runs at most 40 iterations at once; 0 means "as many
		// as allowed".
		if limit == 0 || limit > maxMapConcurrency {
			limit = maxMapConcurrency
		}
		started = true
		startedID := th.emit(HistoryEvent{Type: "MapStateStarted", MapStateStartedEventDetails: &MapStateStartedEventDetails{Length: len(items)}})
		units := func(i int) (*stateSet, any, error) {
			input := deepCopy(items[i])
			if s.itemSelector != nil {
				ctxObj := th.contextObject(retryCount, "", &mapItem{index: i, value: items[i]})
				v, err := th.evalTemplate(s.itemSelector, eff, ctxObj)
				if err != nil {
					return nil, nil, err
				}
				input = v
			}
			return s.processor, input, nil
		}
		results, err := x.fanOut(ctx, th, fanOutSpec{mapName: s.name, n: len(items), limit: int(limit), units: units, startedID: startedID})
		if err != nil {
			return nil, err
		}
		th.emit(HistoryEvent{Type: "MapStateSucceeded"})
		return th.finishResult(&s.stateBase, s.resultSelector, s.resultPath, raw, results, retryCount)
	}, func() {
		if started {
			th.emit(HistoryEvent{Type: "MapStateFailed"})
		}
	})
}

// runParallel runs a Parallel state with its Retry and Catch.
func (x *Execution) runParallel(ctx context.Context, th *thread, s *parallelState, raw any) (any, string, error) {
	eff, err := th.applyInputPath(&s.stateBase, raw)
	if err != nil {
		return nil, "", err
	}
	started := false
	return th.withRecovery(ctx, &s.stateBase, recovery{s.retry, s.catch}, raw, func(retryCount int) (any, error) {
		started = false
		input := eff
		if s.parameters != nil {
			if input, err = th.evalTemplate(s.parameters, eff, th.contextObject(retryCount, "", nil)); err != nil {
				return nil, err
			}
		}
		started = true
		startedID := th.emit(HistoryEvent{Type: "ParallelStateStarted"})
		units := func(i int) (*stateSet, any, error) { return s.branches[i], deepCopy(input), nil }
		results, err := x.fanOut(ctx, th, fanOutSpec{n: len(s.branches), units: units, startedID: startedID})
		if err != nil {
			return nil, err
		}
		th.emit(HistoryEvent{Type: "ParallelStateSucceeded"})
		return th.finishResult(&s.stateBase, s.resultSelector, s.resultPath, raw, results, retryCount)
	}, func() {
		if started {
			th.emit(HistoryEvent{Type: "ParallelStateFailed"})
		}
	})
}

// finishResult applies ResultSelector, ResultPath and OutputPath.
func (th *thread) finishResult(b *stateBase, selector *template, rp *resultPath, raw, result any, retryCount int) (any, error) {
	var err error
	if selector != nil {
		if result, err = th.evalTemplate(selector, result, th.contextObject(retryCount, "", nil)); err != nil {
			return nil, err
		}
	}
	out, err := th.applyResultPath(rp, raw, result)
	if err != nil {
		return nil, err
	}
	return th.applyOutputPath(b, out)
}

// fanOutSpec describes concurrent sub-runs: Map iterations (mapName set) or
// Parallel branches.
type fanOutSpec struct {
	mapName   string
	n         int
	limit     int // 0: all at once
	units     func(i int) (*stateSet, any, error)
	startedID int64
}

type abortedRun struct {
	index int
	th    *thread
}

// abortable lists the state types that have a <Type>StateAborted event.
var abortable = map[string]bool{TypeTask: true, TypeWait: true, TypeMap: true, TypeParallel: true}

// fanOut runs spec.n sub-runs with at most spec.limit in flight and returns
// their outputs in order. The first failure cancels the others, which are
// recorded as aborted, and is returned.
//
// A sub-run's input (spec.units) is evaluated once it holds a slot, in index
// order, and a failure leaves the sub-runs not started yet unstarted, as if
// the dispatch had stopped there.
func (x *Execution) fanOut(ctx context.Context, th *thread, spec fanOutSpec) ([]any, error) {
	limit := spec.limit
	if limit <= 0 || limit > spec.n {
		limit = spec.n
	}
	results := make([]any, spec.n)
	if spec.n == 0 {
		return results, nil
	}
	g, rctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	var (
		mu       sync.Mutex
		firstErr error
		failPrev int64
		lastID   = spec.startedID
		aborted  []abortedRun
	)
	iterEvent := func(ith *thread, typ string, i int) int64 {
		if spec.mapName == "" {
			return 0
		}
		d := &MapIterationEventDetails{Name: spec.mapName, Index: i}
		ev := HistoryEvent{Type: typ}
		switch typ {
		case "MapIterationStarted":
			ev.MapIterationStartedEventDetails = d
		case "MapIterationSucceeded":
			ev.MapIterationSucceededEventDetails = d
		case "MapIterationFailed":
			ev.MapIterationFailedEventDetails = d
		case "MapIterationAborted":
			ev.MapIterationAbortedEventDetails = d
		}
		return ith.emit(ev)
	}
	// fail keeps the first failure with the event it follows; returning it to
	// the group cancels the other sub-runs. Called with mu held.
	fail := func(err error, prev int64) error {
		if firstErr == nil {
			firstErr, failPrev = err, prev
		}
		return err
	}
	// unitsDone[i] closes once sub-run i has evaluated its input (or will
	// never), so that inputs are evaluated in index order.
	unitsDone := make([]chan struct{}, spec.n)
	for i := range unitsDone {
		unitsDone[i] = make(chan struct{})
	}
	for i := 0; i < spec.n && rctx.Err() == nil; i++ {
		g.Go(func() error {
			if i > 0 {
				<-unitsDone[i-1]
			}
			if rctx.Err() != nil { // a failure while waiting for a slot: never started
				close(unitsDone[i])
				return nil
			}
			set, input, err := spec.units(i)
			close(unitsDone[i])
			if err != nil {
				mu.Lock()
				defer mu.Unlock()
				return fail(err, th.prev)
			}
			ith := th.child(spec.startedID)
			iterEvent(ith, "MapIterationStarted", i)
			out, err := x.runSet(rctx, ith, set, input)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				results[i] = out
				if id := iterEvent(ith, "MapIterationSucceeded", i); id != 0 {
					lastID = id
				} else {
					lastID = max(lastID, ith.prev)
				}
			case errors.Is(err, errAborted):
				aborted = append(aborted, abortedRun{index: i, th: ith})
			default:
				prev := ith.prev
				iterEvent(ith, "MapIterationFailed", i)
				return fail(err, prev)
			}
			return nil
		})
	}
	_ = g.Wait() // firstErr is the failure that came first
	if firstErr != nil {
		sort.Slice(aborted, func(a, b int) bool { return aborted[a].index < aborted[b].index })
		for _, a := range aborted {
			if a.th.inState != nil && abortable[a.th.inState.typ] {
				a.th.emit(HistoryEvent{Type: a.th.inState.typ + "StateAborted"})
			}
			iterEvent(a.th, "MapIterationAborted", a.index)
		}
		th.prev = failPrev
		return nil, firstErr
	}
	if ctx.Err() != nil {
		return nil, errAborted
	}
	th.prev = lastID
	return results, nil
}
