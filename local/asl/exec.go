package asl

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// errAborted ends a branch of work because its execution, Map iteration or
// Parallel branch was cancelled; it records nothing further.
var errAborted = errors.New("aborted")

// thread is one line of control: the execution itself, a Map iteration or a
// Parallel branch. It chains previousEventId and remembers the state it is
// in for the Runtime error text and for abort events.
type thread struct {
	x         *Execution
	prev      int64
	inState   *stateBase // entered and not yet left
	enteredID int64
	enteredAt time.Time
}

func (th *thread) child(prev int64) *thread { return &thread{x: th.x, prev: prev} }

// emit records an event chained to the thread's previous one.
func (th *thread) emit(ev HistoryEvent) int64 {
	id := th.x.record(th.prev, ev)
	if id != 0 {
		th.prev = id
	}
	return id
}

// runtimef builds a States.Runtime failure naming the current state the way
// Step Functions words it.
func (th *thread) runtimef(format string, args ...any) *stateError {
	return th.stateErrorf(ErrorRuntime, format, args...)
}

// stateErrorf builds a failure of the given name whose cause names the
// current state as runtimef does.
func (th *thread) stateErrorf(name, format string, args ...any) *stateError {
	msg := fmt.Sprintf(format, args...)
	if th.inState != nil {
		msg = fmt.Sprintf("An error occurred while executing the state '%s' (entered at the event id #%d). %s", th.inState.name, th.enteredID, msg)
	}
	return newStateError(name, msg)
}

// dataLimit builds a States.DataLimitExceeded failure.
func (th *thread) dataLimit(what string) *stateError {
	name := ""
	if th.inState != nil {
		name = th.inState.name
	}
	return newStateError(ErrorDataLimitExceeded, fmt.Sprintf("The %s of the state '%s' has a size exceeding the maximum number of bytes service limit (%d).", what, name, MaxPayloadBytes))
}

// runSet runs a state set from its StartAt until a state ends it.
func (x *Execution) runSet(ctx context.Context, th *thread, set *stateSet, input any) (any, error) {
	name := set.startAt
	// Each state records at least one event, so the history quota bounds
	// this loop even for definitions that loop forever.
	for {
		if ctx.Err() != nil {
			return nil, errAborted
		}
		if x.historyFull() {
			return nil, newStateError(ErrorRuntime, fmt.Sprintf("The execution reached the maximum number of history events (%d).", maxHistoryEvents))
		}
		st := set.states[name]
		out, next, err := x.runState(ctx, th, st, input)
		if err != nil {
			return nil, err
		}
		if next == "" {
			return out, nil
		}
		name, input = next, out
	}
}

// runState runs one state: it records the entered event, runs the type's
// logic and records the exited event. It returns the output and the next
// state, or "" when the state ends its set.
func (x *Execution) runState(ctx context.Context, th *thread, st state, input any) (any, string, error) {
	b := st.base()
	inputJSON := jsonString(input)
	th.enteredID = th.emit(HistoryEvent{Type: b.typ + "StateEntered", StateEnteredEventDetails: &StateEnteredEventDetails{
		Name: b.name, Input: inputJSON, InputDetails: untruncated(),
	}})
	th.enteredAt = x.engine.clock.Now()
	th.inState = b

	var (
		out  any
		next string
		err  error
	)
	switch s := st.(type) {
	case *passState:
		out, next, err = th.runPass(s, input)
	case *waitState:
		out, next, err = th.runWait(ctx, s, input)
	case *choiceState:
		out, next, err = th.runChoice(s, input)
	case *succeedState:
		out, err = th.inputOutput(b, input)
	case *failState:
		err = th.runFail(s, input)
	case *taskState:
		out, next, err = x.runTask(ctx, th, s, input)
	case *mapState:
		out, next, err = x.runMap(ctx, th, s, input)
	case *parallelState:
		out, next, err = x.runParallel(ctx, th, s, input)
	default:
		err = th.runtimef("unknown state type %s", b.typ)
	}
	if err == nil && len(jsonString(out)) > MaxPayloadBytes {
		err = th.dataLimit("output")
	}
	if err != nil {
		if errors.Is(err, errAborted) || ctx.Err() != nil {
			return nil, "", errAborted
		}
		th.inState = nil
		var se *stateError
		if !errors.As(err, &se) {
			se = th.runtimef("%v", err)
		}
		return nil, "", se
	}
	th.emit(HistoryEvent{Type: b.typ + "StateExited", StateExitedEventDetails: &StateExitedEventDetails{
		Name: b.name, Output: jsonString(out), OutputDetails: untruncated(),
	}})
	th.inState = nil
	return out, next, nil
}

// contextObject builds the $$ document for the current state.
func (th *thread) contextObject(retryCount int, token string, item *mapItem) map[string]any {
	x := th.x
	name := ""
	if th.inState != nil {
		name = th.inState.name
	}
	ctx := map[string]any{
		"Execution": map[string]any{
			"Id":           x.arn,
			"Input":        x.inputValue,
			"Name":         x.name,
			"RoleArn":      x.roleArn,
			"StartTime":    contextTime(x.startDate),
			"RedriveCount": intValue(0),
		},
		"StateMachine": map[string]any{
			"Id":   x.smArn,
			"Name": stateMachineName(x.smArn),
		},
		"State": map[string]any{
			"Name":        name,
			"EnteredTime": contextTime(th.enteredAt),
			"RetryCount":  intValue(int64(retryCount)),
		},
	}
	if token != "" {
		ctx["Task"] = map[string]any{"Token": token}
	}
	if item != nil {
		ctx["Map"] = map[string]any{"Item": map[string]any{"Index": intValue(int64(item.index)), "Value": item.value}}
	}
	return ctx
}

type mapItem struct {
	index int
	value any
}

// contextTime formats times as the context object does.
func contextTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// stateMachineName takes the name from a state machine ARN.
func stateMachineName(arn string) string {
	for i := len(arn) - 1; i >= 0; i-- {
		if arn[i] == ':' {
			return arn[i+1:]
		}
	}
	return arn
}

func (th *thread) env(data any, ctxObj map[string]any) *intrinsicEnv {
	return &intrinsicEnv{data: data, ctx: ctxObj, rand: th.x.engine.rand.Float64, uuid: th.x.engine.uuid}
}

// evalTemplate evaluates a payload template; every failure is States.Runtime.
func (th *thread) evalTemplate(t *template, data any, ctxObj map[string]any) (any, error) {
	v, err := t.eval(th.env(data, ctxObj))
	if err != nil {
		var pe *templatePathError
		if errors.As(err, &pe) {
			return nil, th.runtimef("%s '%s'", pe.Error(), jsonString(data))
		}
		return nil, th.runtimef("%v", err)
	}
	return v, nil
}

// applyInputPath selects the state's effective input.
func (th *thread) applyInputPath(b *stateBase, raw any) (any, error) {
	return th.selectPath(b.inputPath, raw)
}

// applyOutputPath selects the state's output.
func (th *thread) applyOutputPath(b *stateBase, v any) (any, error) {
	return th.selectPath(b.outputPath, v)
}

func (th *thread) selectPath(dp *dataPath, v any) (any, error) {
	switch {
	case dp == nil:
		return v, nil
	case dp.null:
		return map[string]any{}, nil
	}
	var ctxObj map[string]any
	if dp.p.context {
		ctxObj = th.contextObject(0, "", nil)
	}
	out, err := dp.p.eval(v, ctxObj)
	if err != nil {
		return nil, th.runtimef("Invalid path '%s' : No results for path: %s", dp.p.raw, dp.p.query.String())
	}
	return out, nil
}

// applyResultPath places result into the raw input as ResultPath says.
func (th *thread) applyResultPath(rp *resultPath, raw, result any) (any, error) {
	switch {
	case rp == nil:
		return result, nil
	case rp.discard:
		return raw, nil
	}
	out, err := rp.p.set(raw, result)
	if err != nil {
		return nil, th.runtimef("Invalid path '%s': %v", rp.p.raw, err)
	}
	return out, nil
}

// inputOutput applies InputPath then OutputPath, for states that produce no
// result of their own.
func (th *thread) inputOutput(b *stateBase, raw any) (any, error) {
	eff, err := th.applyInputPath(b, raw)
	if err != nil {
		return nil, err
	}
	return th.applyOutputPath(b, eff)
}

func (th *thread) runPass(s *passState, raw any) (any, string, error) {
	eff, err := th.applyInputPath(&s.stateBase, raw)
	if err != nil {
		return nil, "", err
	}
	result := eff
	if s.parameters != nil {
		if result, err = th.evalTemplate(s.parameters, eff, th.contextObject(0, "", nil)); err != nil {
			return nil, "", err
		}
	}
	if s.hasResult {
		result = deepCopy(s.result)
	}
	out, err := th.applyResultPath(s.resultPath, raw, result)
	if err != nil {
		return nil, "", err
	}
	out, err = th.applyOutputPath(&s.stateBase, out)
	return out, s.next, err
}

func (th *thread) runWait(ctx context.Context, s *waitState, raw any) (any, string, error) {
	eff, err := th.applyInputPath(&s.stateBase, raw)
	if err != nil {
		return nil, "", err
	}
	clock := th.x.engine.clock
	var d time.Duration
	switch {
	case s.hasSeconds:
		d = time.Duration(s.seconds) * time.Second
	case s.hasTimestamp:
		d = s.timestamp.Sub(clock.Now())
	case s.secondsPath != nil:
		v, err := s.secondsPath.lookup(eff, nil)
		n, ok := asInt(v)
		if err != nil || !ok || n < 0 || n > maxWaitSeconds {
			return nil, "", th.runtimef("The SecondsPath parameter does not reference a valid non-negative integer: %s", s.secondsPath.raw)
		}
		d = time.Duration(n) * time.Second
	case s.timestampPath != nil:
		v, err := s.timestampPath.lookup(eff, nil)
		str, ok := v.(string)
		var t time.Time
		if err == nil && ok {
			t, err = parseTimestamp(str)
		}
		if err != nil || !ok {
			return nil, "", th.runtimef("The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: %s == %s", s.timestampPath.raw, jsonString(v))
		}
		d = t.Sub(clock.Now())
	}
	if !sleep(ctx, clock, d) {
		return nil, "", errAborted
	}
	out, err := th.applyOutputPath(&s.stateBase, eff)
	return out, s.next, err
}

func (th *thread) runChoice(s *choiceState, raw any) (any, string, error) {
	eff, err := th.applyInputPath(&s.stateBase, raw)
	if err != nil {
		return nil, "", err
	}
	env := choiceEnv{data: eff, ctx: th.contextObject(0, "", nil)}
	next := ""
	for _, rule := range s.choices {
		ok, err := rule.eval(env)
		if err != nil {
			return nil, "", th.runtimef("%v", err)
		}
		if ok {
			next = rule.next
			break
		}
	}
	if next == "" {
		if s.defaultNext == "" {
			return nil, "", th.stateErrorf(ErrorNoChoiceMatched, "No choice rule matched the input and the state has no Default.")
		}
		next = s.defaultNext
	}
	out, err := th.applyOutputPath(&s.stateBase, eff)
	return out, next, err
}

func (th *thread) runFail(s *failState, raw any) error {
	name, cause := s.errorName, s.cause
	ctxObj := th.contextObject(0, "", nil)
	var err error
	if s.errorPath != nil {
		if name, err = th.dynamicString(s.errorPath, "ErrorPath", raw, ctxObj); err != nil {
			return err
		}
	}
	if s.causePath != nil {
		if cause, err = th.dynamicString(s.causePath, "CausePath", raw, ctxObj); err != nil {
			return err
		}
	}
	return newStateError(name, cause)
}

func (th *thread) dynamicString(d *dynamicString, field string, raw any, ctxObj map[string]any) (string, error) {
	var v any
	var err error
	if d.call != nil {
		v, err = d.call.eval(th.env(raw, ctxObj))
		if err != nil {
			return "", th.runtimef("%v", err)
		}
	} else {
		v, err = d.p.lookup(raw, ctxObj)
		if err != nil {
			return "", th.runtimef("The JSONPath '%s' specified for the field '%s' could not be found in the input '%s'", d.raw, field, jsonString(raw))
		}
	}
	s, ok := v.(string)
	if !ok {
		return "", th.runtimef("The value of the field '%s' must be a string, got %s", field, jsonType(v))
	}
	return s, nil
}

// recovery is a state's Retry and Catch.
type recovery struct {
	retry []*retrier
	catch []*catcher
}

// withRecovery runs attempt, retrying and catching failures as the state's
// Retry and Catch fields say. onFinalFailure runs once when a failure is
// neither retried nor (yet) caught, before the catchers are consulted.
// States.Runtime is never retried or caught.
func (th *thread) withRecovery(ctx context.Context, b *stateBase, rec recovery, raw any,
	attempt func(retryCount int) (any, error), onFinalFailure func()) (any, string, error) {
	counts := make([]int64, len(rec.retry))
	total := 0
	for {
		out, err := attempt(total)
		if err == nil {
			return out, b.next, nil
		}
		if errors.Is(err, errAborted) || ctx.Err() != nil {
			return nil, "", errAborted
		}
		var se *stateError
		if !errors.As(err, &se) {
			se = th.runtimef("%v", err)
		}
		if se.name != ErrorRuntime {
			if i := firstRetrier(rec.retry, se.name); i >= 0 && counts[i] < rec.retry[i].maxAttempts && !th.x.historyFull() {
				d := rec.retry[i].delay(counts[i], th.x.engine.rand.Float64)
				counts[i]++
				total++
				if !sleep(ctx, th.x.engine.clock, d) {
					return nil, "", errAborted
				}
				continue
			}
		}
		if onFinalFailure != nil {
			onFinalFailure()
		}
		if se.name == ErrorRuntime {
			return nil, "", se
		}
		for _, c := range rec.catch {
			if !c.matches(se.name) {
				continue
			}
			errObj := map[string]any{"Error": se.name, "Cause": se.cause}
			out, err := th.applyResultPath(c.resultPath, raw, errObj)
			if err != nil {
				return nil, "", err
			}
			return out, c.next, nil
		}
		return nil, "", se
	}
}

// firstRetrier returns the index of the first retrier matching name: only
// that retrier decides whether the failure is retried.
func firstRetrier(rs []*retrier, name string) int {
	for i, r := range rs {
		if r.matches(name) {
			return i
		}
	}
	return -1
}
