package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// runTask runs a Task state with its Retry and Catch.
func (x *Execution) runTask(ctx context.Context, th *thread, s *taskState, raw any) (any, string, error) {
	eff, err := th.applyInputPath(&s.stateBase, raw)
	if err != nil {
		return nil, "", err
	}
	return th.withRecovery(ctx, &s.stateBase, recovery{s.retry, s.catch}, raw, func(retryCount int) (any, error) {
		result, err := x.taskAttempt(ctx, th, s, eff, retryCount)
		if err != nil {
			return nil, err
		}
		if s.resultSelector != nil {
			if result, err = th.evalTemplate(s.resultSelector, result, th.contextObject(retryCount, "", nil)); err != nil {
				return nil, err
			}
		}
		out, err := th.applyResultPath(s.resultPath, raw, result)
		if err != nil {
			return nil, err
		}
		return th.applyOutputPath(&s.stateBase, out)
	}, nil)
}

type invokeResult struct {
	out json.RawMessage
	err error
}

// taskAttempt schedules, runs and (for callbacks) waits for one attempt of
// a task, recording its events. It returns the task's result.
func (x *Execution) taskAttempt(ctx context.Context, th *thread, s *taskState, eff any, retryCount int) (any, error) {
	spec := s.resource
	var token string
	var pending *pendingTask
	if spec.callback {
		token, pending = x.engine.newToken(x)
		defer x.engine.closeToken(x, token)
	}
	ctxObj := th.contextObject(retryCount, token, nil)
	params := eff
	if s.parameters != nil {
		var err error
		if params, err = th.evalTemplate(s.parameters, eff, ctxObj); err != nil {
			return nil, err
		}
	}
	timeout, heartbeat, err := th.taskTimeouts(s, eff)
	if err != nil {
		return nil, err
	}
	paramsJSON := jsonString(params)
	if len(paramsJSON) > MaxPayloadBytes {
		return nil, th.dataLimit("input")
	}
	req := TaskRequest{
		Resource:        spec.raw,
		ResourceType:    spec.resourceType,
		Action:          spec.resource,
		Parameters:      json.RawMessage(paramsJSON),
		TaskToken:       token,
		ExecutionArn:    x.arn,
		StateMachineArn: x.smArn,
		StateName:       s.name,
		RetryCount:      retryCount,
	}
	if err := th.lambdaRequest(spec, params, &req); err != nil {
		return nil, err
	}

	region := spec.region
	if region == "" {
		region = x.engine.region
	}
	if spec.lambdaARN {
		th.emit(HistoryEvent{Type: "LambdaFunctionScheduled", LambdaFunctionScheduledEventDetails: &LambdaScheduledEventDetails{
			Resource: spec.raw, Input: paramsJSON, InputDetails: untruncated(), TimeoutInSeconds: optionalSeconds(timeout),
		}})
		th.emit(HistoryEvent{Type: "LambdaFunctionStarted"})
	} else {
		th.emit(HistoryEvent{Type: "TaskScheduled", TaskScheduledEventDetails: &TaskScheduledEventDetails{
			ResourceType: spec.resourceType, Resource: spec.resource, Region: region, Parameters: paramsJSON,
			TimeoutInSeconds: optionalSeconds(timeout), HeartbeatInSeconds: optionalSeconds(heartbeat),
		}})
		th.emit(HistoryEvent{Type: "TaskStarted", TaskStartedEventDetails: &TaskResourceEventDetails{
			ResourceType: spec.resourceType, Resource: spec.resource,
		}})
	}

	clock := x.engine.clock
	var deadline <-chan time.Time
	if timeout > 0 {
		t := clock.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C()
	}
	var hbTimer Timer
	var hbC <-chan time.Time
	resetHeartbeat := func() {
		if heartbeat <= 0 {
			return
		}
		if hbTimer != nil {
			hbTimer.Stop()
		}
		hbTimer = clock.NewTimer(heartbeat)
		hbC = hbTimer.C()
	}
	if spec.callback {
		resetHeartbeat()
		defer func() {
			if hbTimer != nil {
				hbTimer.Stop()
			}
		}()
	}

	result, err := x.invoke(ctx, req, spec, deadline)
	switch {
	case errors.Is(err, errAborted):
		return nil, err
	case errors.Is(err, errTaskTimeout):
		return nil, th.taskTimedOut(spec, ErrorTimeout)
	case err != nil:
		return nil, th.taskFailed(spec, x.invokeFailure(err))
	}
	if len(jsonString(result)) > MaxPayloadBytes {
		se := th.dataLimit("result")
		th.recordFailure(spec, se)
		return nil, se
	}
	if !spec.callback {
		th.taskSucceeded(spec, result)
		return result, nil
	}
	th.emit(HistoryEvent{Type: "TaskSubmitted", TaskSubmittedEventDetails: &TaskOutputEventDetails{
		ResourceType: spec.resourceType, Resource: spec.resource, Output: jsonString(result), OutputDetails: untruncated(),
	}})
	// Wait for SendTaskSuccess or SendTaskFailure. Heartbeats only reset the
	// heartbeat timer; the timers and ctx end the wait otherwise.
	for {
		select {
		case o := <-pending.outcome:
			if o.failure != nil {
				return nil, th.taskFailed(spec, o.failure)
			}
			th.taskSucceeded(spec, o.output)
			return o.output, nil
		case <-pending.heartbeat:
			resetHeartbeat()
		case <-hbC:
			return nil, th.taskTimedOut(spec, ErrorHeartbeatTimeout)
		case <-deadline:
			return nil, th.taskTimedOut(spec, ErrorTimeout)
		case <-ctx.Done():
			return nil, errAborted
		}
	}
}

var errTaskTimeout = errors.New("task timed out")

// invoke calls the invoker on its own goroutine so the task's timeout and
// the execution's cancellation can end the wait; the invoker's context is
// cancelled then.
func (x *Execution) invoke(ctx context.Context, req TaskRequest, spec resourceSpec, deadline <-chan time.Time) (any, error) {
	if x.engine.invoker == nil {
		return nil, &TaskError{Name: ErrorTaskFailed, Cause: "no task invoker is configured for resource " + spec.raw}
	}
	if spec.lambdaInvoke && req.InvocationType == "DryRun" {
		return x.lambdaEnvelope(nil, http.StatusNoContent), nil
	}
	if spec.lambdaInvoke && req.InvocationType == "Event" {
		// Asynchronous invocation: Lambda accepts the event and the task
		// goes on; the function's outcome is not the task's.
		go func() {
			_, _ = safeInvoke(x.ctx, x.engine.invoker, req)
		}()
		return x.lambdaEnvelope(nil, http.StatusAccepted), nil
	}
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan invokeResult, 1)
	go func() {
		out, err := safeInvoke(ictx, x.engine.invoker, req)
		ch <- invokeResult{out, err}
	}()
	var res invokeResult
	select {
	case res = <-ch:
	case <-deadline:
		return nil, errTaskTimeout
	case <-ctx.Done():
		return nil, errAborted
	}
	if res.err != nil {
		if ctx.Err() != nil {
			return nil, errAborted
		}
		return nil, res.err
	}
	if spec.lambdaInvoke {
		return x.lambdaEnvelope(res.out, http.StatusOK), nil
	}
	return decodeResult(res.out), nil
}

// safeInvoke calls the invoker, turning a panic into a task failure so a
// faulty resource cannot take the engine down.
func safeInvoke(ctx context.Context, inv TaskInvoker, req TaskRequest) (out json.RawMessage, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, &TaskError{Name: ErrorTaskFailed, Cause: fmt.Sprintf("the task resource %s panicked: %v", req.Resource, v)}
		}
	}()
	return inv.Invoke(ctx, req)
}

// decodeResult reads a resource's output; output that is not JSON is kept
// as a string.
func decodeResult(out json.RawMessage) any {
	if len(out) == 0 {
		return nil
	}
	v, err := decodeValue(out)
	if err != nil {
		return string(out)
	}
	return v
}

// invokeFailure turns an invoker error into the task's failure.
func (x *Execution) invokeFailure(err error) *stateError {
	var te *TaskError
	if errors.As(err, &te) {
		return newStateError(te.Name, te.Cause)
	}
	var fe *FunctionError
	if errors.As(err, &fe) {
		name := fe.Type
		if name == "" {
			name = "Lambda.Unknown"
		}
		return newStateError(name, fe.document())
	}
	var se *stateError
	if errors.As(err, &se) {
		return se
	}
	return newStateError(ErrorTaskFailed, err.Error())
}

// lambdaRequest fills the Lambda fields of req and checks the Parameters of
// a lambda:invoke task.
func (th *thread) lambdaRequest(spec resourceSpec, params any, req *TaskRequest) error {
	switch {
	case spec.lambdaARN:
		req.FunctionName = spec.raw
		req.Payload = req.Parameters
		req.InvocationType = "RequestResponse"
	case spec.lambdaInvoke:
		obj, ok := params.(map[string]any)
		if !ok {
			return th.runtimef("The Parameters of a %s task must be an object with FunctionName", spec.raw)
		}
		name, ok := obj["FunctionName"].(string)
		if !ok || name == "" {
			return th.runtimef("The Parameters of a %s task must include FunctionName as a string", spec.raw)
		}
		req.FunctionName = name
		req.Payload = json.RawMessage("{}")
		if p, ok := obj["Payload"]; ok {
			req.Payload = json.RawMessage(jsonString(p))
		}
		req.InvocationType = "RequestResponse"
		if it, ok := obj["InvocationType"].(string); ok && it != "" {
			req.InvocationType = it
		}
	}
	return nil
}

// lambdaEnvelope builds the result of arn:aws:states:::lambda:invoke: the
// Lambda Invoke response with its HTTP metadata, as Step Functions returns.
func (x *Execution) lambdaEnvelope(payload json.RawMessage, status int) any {
	requestID := x.engine.uuid()
	date := x.engine.clock.Now().UTC().Format(http.TimeFormat)
	headers := map[string]string{
		"Connection":                     "keep-alive",
		"Content-Length":                 strconv.Itoa(len(payload)),
		"Content-Type":                   "application/json",
		"Date":                           date,
		"x-amzn-RequestId":               requestID,
		"X-Amzn-Trace-Id":                traceID(x.engine.clock.Now(), requestID),
		"x-amzn-Remapped-Content-Length": "0",
	}
	env := map[string]any{"StatusCode": intValue(int64(status))}
	if status == http.StatusOK {
		headers["X-Amz-Executed-Version"] = "$LATEST"
		env["ExecutedVersion"] = "$LATEST"
		env["Payload"] = decodeResult(payload)
	} else {
		env["Payload"] = ""
	}
	httpHeaders := map[string]any{}
	allHeaders := map[string]any{}
	for k, v := range headers {
		httpHeaders[k] = v
		allHeaders[k] = []any{v}
	}
	env["SdkHttpMetadata"] = map[string]any{
		"AllHttpHeaders": allHeaders,
		"HttpHeaders":    httpHeaders,
		"HttpStatusCode": intValue(int64(status)),
	}
	env["SdkResponseMetadata"] = map[string]any{"RequestId": requestID}
	return env
}

// traceID builds an X-Ray trace header value from a time and an id.
func traceID(now time.Time, id string) string {
	hex := make([]byte, 0, 24)
	for i := 0; i < len(id) && len(hex) < 24; i++ {
		if c := id[i]; (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') {
			hex = append(hex, c)
		}
	}
	for len(hex) < 24 {
		hex = append(hex, '0')
	}
	return "Root=1-" + strconv.FormatInt(now.Unix(), 16) + "-" + string(hex)
}

// taskTimeouts resolves TimeoutSeconds(Path) and HeartbeatSeconds(Path).
func (th *thread) taskTimeouts(s *taskState, eff any) (time.Duration, time.Duration, error) {
	timeout, heartbeat := s.timeoutSeconds, s.heartbeatSeconds
	read := func(p *path, field string) (int64, error) {
		v, err := p.lookup(eff, nil)
		n, ok := asInt(v)
		if err != nil || !ok || n <= 0 || n > maxTimeoutSeconds {
			return 0, th.runtimef("The %s field refers to value %s which is not a valid positive integer: %s", field, strconv.Quote(jsonString(v)), p.raw)
		}
		return n, nil
	}
	var err error
	if s.timeoutPath != nil {
		if timeout, err = read(s.timeoutPath, "TimeoutSecondsPath"); err != nil {
			return 0, 0, err
		}
	}
	if s.heartbeatPath != nil {
		if heartbeat, err = read(s.heartbeatPath, "HeartbeatSecondsPath"); err != nil {
			return 0, 0, err
		}
	}
	return time.Duration(timeout) * time.Second, time.Duration(heartbeat) * time.Second, nil
}

func optionalSeconds(d time.Duration) *int64 {
	if d <= 0 {
		return nil
	}
	n := int64(d / time.Second)
	return &n
}

func (th *thread) taskSucceeded(spec resourceSpec, result any) {
	out := jsonString(result)
	if spec.lambdaARN {
		th.emit(HistoryEvent{Type: "LambdaFunctionSucceeded", LambdaFunctionSucceededEventDetails: &OutputEventDetails{
			Output: out, OutputDetails: untruncated(),
		}})
		return
	}
	th.emit(HistoryEvent{Type: "TaskSucceeded", TaskSucceededEventDetails: &TaskOutputEventDetails{
		ResourceType: spec.resourceType, Resource: spec.resource, Output: out, OutputDetails: untruncated(),
	}})
}

// taskFailed records the failure and returns it.
func (th *thread) taskFailed(spec resourceSpec, se *stateError) *stateError {
	th.recordFailure(spec, se)
	return se
}

func (th *thread) recordFailure(spec resourceSpec, se *stateError) {
	if spec.lambdaARN {
		th.emit(HistoryEvent{Type: "LambdaFunctionFailed", LambdaFunctionFailedEventDetails: &ErrorEventDetails{
			Error: se.name, Cause: se.cause,
		}})
		return
	}
	th.emit(HistoryEvent{Type: "TaskFailed", TaskFailedEventDetails: &TaskErrorEventDetails{
		ResourceType: spec.resourceType, Resource: spec.resource, Error: se.name, Cause: se.cause,
	}})
}

// taskTimedOut records a timeout and returns the failure, named
// States.Timeout or States.HeartbeatTimeout.
func (th *thread) taskTimedOut(spec resourceSpec, name string) *stateError {
	if spec.lambdaARN {
		th.emit(HistoryEvent{Type: "LambdaFunctionTimedOut", LambdaFunctionTimedOutEventDetails: &ErrorEventDetails{Error: name}})
	} else {
		th.emit(HistoryEvent{Type: "TaskTimedOut", TaskTimedOutEventDetails: &TaskErrorEventDetails{
			ResourceType: spec.resourceType, Resource: spec.resource, Error: name,
		}})
	}
	return newStateError(name, "")
}
