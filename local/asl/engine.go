package asl

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// TaskInvoker runs the resource of a Task state. The embedder implements it.
//
// For Lambda resources (arn:aws:states:::lambda:invoke, its
// .waitForTaskToken variant and bare function ARNs) Invoke returns the
// function's response payload; the engine wraps it in the Lambda Invoke
// response Step Functions produces. A function that fails returns a
// *FunctionError; a failure with a chosen error name returns a *TaskError;
// any other error fails the task as States.TaskFailed. For other resources
// the returned JSON is the task's result as it is.
type TaskInvoker interface {
	Invoke(ctx context.Context, req TaskRequest) (json.RawMessage, error)
}

// TaskInvokerFunc adapts a function to TaskInvoker.
type TaskInvokerFunc func(ctx context.Context, req TaskRequest) (json.RawMessage, error)

// Invoke calls f.
func (f TaskInvokerFunc) Invoke(ctx context.Context, req TaskRequest) (json.RawMessage, error) {
	return f(ctx, req)
}

// TaskRequest describes one invocation of a Task state's resource.
type TaskRequest struct {
	// Resource is the Resource field as written in the definition.
	Resource string
	// ResourceType and Action split the resource as history events do, e.g.
	// "lambda" and "invoke.waitForTaskToken".
	ResourceType string
	Action       string
	// Parameters is the effective input of the task: the evaluated
	// Parameters, or the state's input after InputPath when there are none.
	Parameters json.RawMessage
	// FunctionName and Payload are set for Lambda resources: the function to
	// run and the event to pass it. InvocationType is RequestResponse or
	// Event (the engine answers DryRun itself).
	FunctionName   string
	Payload        json.RawMessage
	InvocationType string
	// TaskToken is set for .waitForTaskToken tasks; the task completes when
	// it is passed to SendTaskSuccess or SendTaskFailure.
	TaskToken string

	ExecutionArn    string
	StateMachineArn string
	StateName       string
	RetryCount      int
}

// Options configures an Engine. The zero value runs in real time with no
// task resources.
type Options struct {
	Invoker TaskInvoker
	// Clock defaults to the wall clock.
	Clock Clock
	// TimeScale > 1 makes time pass that many times faster (see ScaledClock).
	TimeScale float64
	// Rand returns numbers in [0, 1); it drives FULL jitter and
	// States.MathRandom. Defaults to a non-deterministic source.
	Rand func() float64
	// NewUUID returns a version 4 UUID string; it names executions and
	// serves States.UUID. Defaults to crypto/rand.
	NewUUID func() string
	// Region is reported in TaskScheduled events when the resource ARN has
	// none. Defaults to us-east-1.
	Region string
	// Objects serves the ItemReader and ResultWriter of distributed Map
	// states. Without it they fail with States.ItemReaderFailed and
	// States.ResultWriterFailed.
	Objects ObjectStore
}

// Engine runs executions of parsed definitions and routes task tokens to
// the tasks waiting for them. It is safe for concurrent use.
type Engine struct {
	invoker TaskInvoker
	clock   Clock
	rand    *lockedRand
	uuid    func() string
	region  string
	objects ObjectStore
	// resultFileMaxBytes splits ResultWriter files; tests lower it.
	resultFileMaxBytes int64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	executions map[string]*Execution
	tokens     map[string]*pendingTask
	mapRuns    map[string]*MapRun
	onEnd      []func(ExecutionInfo)
}

// OnExecutionEnd registers f to be told of every execution's end, child executions
// included, once its final status is recorded. f runs on the goroutine that ended the
// execution (its own, or StopExecution's), so it must not block for long.
func (e *Engine) OnExecutionEnd(f func(ExecutionInfo)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onEnd = append(e.onEnd, f)
}

func (e *Engine) ended(x *Execution) {
	e.mu.Lock()
	fs := slices.Clone(e.onEnd)
	e.mu.Unlock()
	if len(fs) == 0 {
		return
	}
	info := x.Describe()
	for _, f := range fs {
		f(info)
	}
}

// New returns an Engine.
func New(opts Options) *Engine {
	clock := opts.Clock
	if clock == nil {
		clock = RealClock{}
	}
	clock = ScaledClock(clock, opts.TimeScale)
	r := opts.Rand
	if r == nil {
		r = mrand.Float64
	}
	uuid := opts.NewUUID
	if uuid == nil {
		uuid = NewUUID
	}
	region := opts.Region
	if region == "" {
		region = "us-east-1"
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Engine{
		invoker:            opts.Invoker,
		clock:              clock,
		rand:               &lockedRand{f: r},
		uuid:               uuid,
		region:             region,
		objects:            opts.Objects,
		resultFileMaxBytes: defaultResultFileMaxBytes,
		ctx:                ctx,
		cancel:             cancel,
		executions:         map[string]*Execution{},
		tokens:             map[string]*pendingTask{},
		mapRuns:            map[string]*MapRun{},
	}
}

// Clock returns the clock the engine runs on.
func (e *Engine) Clock() Clock { return e.clock }

// Close aborts every running execution and waits for their goroutines.
func (e *Engine) Close() {
	e.mu.Lock()
	running := make([]*Execution, 0, len(e.executions))
	for _, x := range e.executions {
		running = append(running, x)
	}
	e.mu.Unlock()
	for _, x := range running {
		x.stop("", "", "the engine was closed")
	}
	e.cancel()
	e.wg.Wait()
}

// NewUUID returns a random version 4 UUID.
func NewUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms; fall back to
		// math/rand rather than returning a broken identifier.
		for i := range b {
			b[i] = byte(mrand.Uint32())
		}
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// StartInput describes a new execution.
type StartInput struct {
	Definition      *Definition
	StateMachineArn string
	// ExecutionArn is required and must be unique within the engine.
	ExecutionArn string
	Name         string
	Input        string // JSON; empty means {}
	RoleArn      string
}

// Status is an execution's status as DescribeExecution reports it.
type Status string

// Execution statuses.
const (
	StatusRunning   Status = "RUNNING"
	StatusSucceeded Status = "SUCCEEDED"
	StatusFailed    Status = "FAILED"
	StatusTimedOut  Status = "TIMED_OUT"
	StatusAborted   Status = "ABORTED"
)

// InvalidExecutionInputError reports an execution input that is not JSON
// or is too large.
type InvalidExecutionInputError struct{ Reason string }

func (e *InvalidExecutionInputError) Error() string {
	return "InvalidExecutionInput: " + e.Reason
}

// ExecutionAlreadyExistsError reports a second start with the same ARN.
type ExecutionAlreadyExistsError struct{ Arn string }

func (e *ExecutionAlreadyExistsError) Error() string {
	return fmt.Sprintf("ExecutionAlreadyExists: Execution Already Exists: '%s'", e.Arn)
}

// Start begins an execution and returns at once; the execution runs on its
// own goroutines until it ends or is stopped.
func (e *Engine) Start(in StartInput) (*Execution, error) {
	if in.Definition == nil || in.Definition.machine == nil {
		return nil, errors.New("start execution: a parsed definition is required")
	}
	if in.ExecutionArn == "" {
		return nil, errors.New("start execution: an execution ARN is required")
	}
	input := strings.TrimSpace(in.Input)
	if input == "" {
		input = "{}"
	}
	if len(input) > MaxPayloadBytes {
		return nil, &InvalidExecutionInputError{Reason: fmt.Sprintf("the input is larger than %d bytes", MaxPayloadBytes)}
	}
	value, err := decodeValue([]byte(input))
	if err != nil {
		return nil, &InvalidExecutionInputError{Reason: "Invalid State Machine Execution Input: " + err.Error()}
	}
	x := e.newExecution(in.ExecutionArn, in.Name, in.StateMachineArn, in.Definition, input, value, in.RoleArn)
	e.mu.Lock()
	if _, dup := e.executions[x.arn]; dup {
		e.mu.Unlock()
		x.cancel()
		return nil, &ExecutionAlreadyExistsError{Arn: x.arn}
	}
	e.executions[x.arn] = x
	e.mu.Unlock()
	e.launch(x)
	return x, nil
}

// newExecution builds an execution that has not started yet.
func (e *Engine) newExecution(arn, name, smArn string, def *Definition, input string, value any, roleArn string) *Execution {
	ctx, cancel := context.WithCancel(e.ctx)
	return &Execution{
		engine:       e,
		arn:          arn,
		name:         name,
		smArn:        smArn,
		def:          def,
		input:        input,
		inputValue:   value,
		roleArn:      roleArn,
		startDate:    e.clock.Now(),
		ctx:          ctx,
		cancel:       cancel,
		status:       StatusRunning,
		done:         make(chan struct{}),
		pendingToken: map[string]bool{},
	}
}

// launch records ExecutionStarted and runs the execution on its own
// goroutines.
func (e *Engine) launch(x *Execution) {
	x.record(0, HistoryEvent{Type: "ExecutionStarted", ExecutionStartedEventDetails: &ExecutionStartedEventDetails{
		Input: x.input, InputDetails: untruncated(), RoleArn: x.roleArn,
	}})
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		x.run()
	}()
	if x.def.TimeoutSeconds > 0 {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			x.watchTimeout(time.Duration(x.def.TimeoutSeconds) * time.Second)
		}()
	}
}

// Execution returns the execution with the given ARN.
func (e *Engine) Execution(arn string) (*Execution, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.executions[arn]
	return x, ok
}

// StopExecution aborts a running execution: its tasks are cancelled, its
// task tokens closed and ExecutionAborted recorded. Stopping an execution
// that already ended changes nothing.
func (e *Engine) StopExecution(arn, errName, cause string) (*Execution, error) {
	x, ok := e.Execution(arn)
	if !ok {
		return nil, &ExecutionDoesNotExistError{Arn: arn}
	}
	x.stop(errName, cause, "")
	return x, nil
}

// Task tokens.

const (
	tokenMagic0 = 0xA5
	tokenMagic1 = 0x1C
	tokenBytes  = 96
)

type taskOutcome struct {
	output  any
	failure *stateError
}

// pendingTask is a .waitForTaskToken task waiting for its token.
type pendingTask struct {
	exec      *Execution
	outcome   chan taskOutcome // capacity 1: exactly one outcome is ever sent
	heartbeat chan struct{}    // capacity 1: heartbeats coalesce
	closed    bool
}

func (e *Engine) newToken(x *Execution) (string, *pendingTask) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		for i := range b {
			b[i] = byte(mrand.Uint32())
		}
	}
	b[0], b[1] = tokenMagic0, tokenMagic1
	token := base64.StdEncoding.EncodeToString(b)
	p := &pendingTask{exec: x, outcome: make(chan taskOutcome, 1), heartbeat: make(chan struct{}, 1)}
	e.mu.Lock()
	e.tokens[token] = p
	e.mu.Unlock()
	x.mu.Lock()
	x.pendingToken[token] = true
	x.mu.Unlock()
	return token, p
}

// closeToken marks the task closed; later SendTask* calls get TaskTimedOut.
func (e *Engine) closeToken(x *Execution, token string) {
	e.mu.Lock()
	if p, ok := e.tokens[token]; ok {
		p.closed = true
	}
	e.mu.Unlock()
	x.mu.Lock()
	delete(x.pendingToken, token)
	x.mu.Unlock()
}

// claimToken finds the open task for token and, when close is set, closes
// it so no second outcome can be delivered.
func (e *Engine) claimToken(token string, close bool) (*pendingTask, error) {
	b, err := base64.StdEncoding.DecodeString(token)
	if err != nil || len(b) != tokenBytes || b[0] != tokenMagic0 || b[1] != tokenMagic1 {
		return nil, &InvalidTokenError{Message: "Invalid Token: 'Invalid token'"}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.tokens[token]
	if !ok {
		return nil, &TaskDoesNotExistError{Message: "Task Does Not Exist: 'Provided task does not exist'"}
	}
	if p.closed {
		return nil, &TaskTimedOutError{Message: "Task Timed Out: 'Provided task does not exist anymore'"}
	}
	if close {
		p.closed = true
	}
	return p, nil
}

// InvalidOutputError reports SendTaskSuccess output that is not JSON.
type InvalidOutputError struct{ Reason string }

func (e *InvalidOutputError) Error() string { return "InvalidOutput: " + e.Reason }

// SendTaskSuccess completes the task waiting for token with output.
func (e *Engine) SendTaskSuccess(token string, output string) error {
	v, err := decodeValue([]byte(output))
	if err != nil {
		return &InvalidOutputError{Reason: "Invalid Output: " + err.Error()}
	}
	if len(output) > MaxPayloadBytes {
		return &InvalidOutputError{Reason: fmt.Sprintf("the output is larger than %d bytes", MaxPayloadBytes)}
	}
	p, err := e.claimToken(token, true)
	if err != nil {
		return err
	}
	p.outcome <- taskOutcome{output: v}
	return nil
}

// SendTaskFailure fails the task waiting for token.
func (e *Engine) SendTaskFailure(token, errName, cause string) error {
	p, err := e.claimToken(token, true)
	if err != nil {
		return err
	}
	p.outcome <- taskOutcome{failure: newStateError(errName, cause)}
	return nil
}

// SendTaskHeartbeat resets the heartbeat timer of the task waiting for token.
func (e *Engine) SendTaskHeartbeat(token string) error {
	p, err := e.claimToken(token, false)
	if err != nil {
		return err
	}
	select {
	case p.heartbeat <- struct{}{}:
	default:
	}
	return nil
}

// Execution is one run of a definition.
type Execution struct {
	engine     *Engine
	arn        string
	name       string
	smArn      string
	def        *Definition
	input      string
	inputValue any
	roleArn    string
	startDate  time.Time
	ctx        context.Context
	cancel     context.CancelFunc
	done       chan struct{}

	mu           sync.Mutex
	status       Status
	stopDate     time.Time
	output       string
	hasOutput    bool
	errName      string
	cause        string
	events       []HistoryEvent
	pendingToken map[string]bool
	mapRuns      []*MapRun // started by this execution's distributed Map states

	// mapRun is the Map Run that started this execution, for a child
	// execution of a distributed Map state; set before it starts.
	mapRun *MapRun
}

// ExecutionInfo is what DescribeExecution reports.
type ExecutionInfo struct {
	ExecutionArn    string
	StateMachineArn string
	Name            string
	Status          Status
	StartDate       time.Time
	StopDate        time.Time // zero while running
	Input           string
	Output          string
	HasOutput       bool
	Error           string
	Cause           string
	// MapRunArn is set for a child execution of a distributed Map state:
	// the Map Run that started it.
	MapRunArn string
}

// Arn returns the execution ARN.
func (x *Execution) Arn() string { return x.arn }

// Done is closed when the execution has ended.
func (x *Execution) Done() <-chan struct{} { return x.done }

// Wait blocks until the execution ends or ctx is done, and returns its
// description.
func (x *Execution) Wait(ctx context.Context) (ExecutionInfo, error) {
	select {
	case <-x.done:
		return x.Describe(), nil
	case <-ctx.Done():
		return x.Describe(), ctx.Err()
	}
}

// Describe returns the execution's current state.
func (x *Execution) Describe() ExecutionInfo {
	mapRunArn := ""
	if x.mapRun != nil {
		mapRunArn = x.mapRun.arn
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return ExecutionInfo{
		MapRunArn:       mapRunArn,
		ExecutionArn:    x.arn,
		StateMachineArn: x.smArn,
		Name:            x.name,
		Status:          x.status,
		StartDate:       x.startDate,
		StopDate:        x.stopDate,
		Input:           x.input,
		Output:          x.output,
		HasOutput:       x.hasOutput,
		Error:           x.errName,
		Cause:           x.cause,
	}
}

// History returns a copy of the events recorded so far.
func (x *Execution) History() []HistoryEvent {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]HistoryEvent, len(x.events))
	copy(out, x.events)
	return out
}

// record appends an event unless the execution has ended, and returns its
// id (0 when dropped). Events after the end (from branches still unwinding)
// are not part of the history.
func (x *Execution) record(prev int64, ev HistoryEvent) int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.status != StatusRunning {
		return 0
	}
	return x.appendLocked(prev, ev)
}

func (x *Execution) appendLocked(prev int64, ev HistoryEvent) int64 {
	ev.ID = int64(len(x.events)) + 1
	ev.PreviousEventID = prev
	ev.Timestamp = EpochTime(x.engine.clock.Now())
	x.events = append(x.events, ev)
	return ev.ID
}

// historyFull reports that the execution has used up its event quota.
func (x *Execution) historyFull() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.events) >= maxHistoryEvents
}

// finish moves the execution to a final status and records the matching
// event; only the first call has an effect.
func (x *Execution) finish(prev int64, status Status, output *string, errName, cause string) bool {
	x.mu.Lock()
	if x.status != StatusRunning {
		x.mu.Unlock()
		return false
	}
	ev := HistoryEvent{}
	switch status {
	case StatusSucceeded:
		ev.Type = "ExecutionSucceeded"
		ev.ExecutionSucceededEventDetails = &OutputEventDetails{Output: *output, OutputDetails: untruncated()}
		x.output, x.hasOutput = *output, true
	case StatusFailed:
		ev.Type = "ExecutionFailed"
		ev.ExecutionFailedEventDetails = &ErrorEventDetails{Error: errName, Cause: cause}
	case StatusTimedOut:
		ev.Type = "ExecutionTimedOut"
		ev.ExecutionTimedOutEventDetails = &ErrorEventDetails{Error: errName, Cause: cause}
	case StatusAborted:
		ev.Type = "ExecutionAborted"
		ev.ExecutionAbortedEventDetails = &ErrorEventDetails{Error: errName, Cause: cause}
	}
	if prev == 0 && len(x.events) > 0 {
		prev = x.events[len(x.events)-1].ID
	}
	x.appendLocked(prev, ev)
	x.status = status
	x.stopDate = x.engine.clock.Now()
	x.errName, x.cause = errName, cause
	tokens := make([]string, 0, len(x.pendingToken))
	for t := range x.pendingToken {
		tokens = append(tokens, t)
	}
	x.mu.Unlock()

	for _, t := range tokens {
		x.engine.closeToken(x, t)
	}
	x.cancel()
	close(x.done)
	x.engine.ended(x)
	return true
}

// stop aborts the execution. reason is used when the engine itself stops it.
func (x *Execution) stop(errName, cause, reason string) {
	if reason != "" && cause == "" {
		cause = reason
	}
	x.finish(0, StatusAborted, nil, errName, cause)
}

func (x *Execution) watchTimeout(d time.Duration) {
	if !sleep(x.ctx, x.engine.clock, d) {
		return
	}
	x.finish(0, StatusTimedOut, nil, ErrorTimeout, "The execution has exceeded the maximum execution time.")
}

// run executes the definition from StartAt and records the outcome.
func (x *Execution) run() {
	th := &thread{x: x}
	out, err := x.runSet(x.ctx, th, x.def.machine, deepCopy(x.inputValue))
	if err == nil {
		s := mustEncode(out)
		x.finish(th.prev, StatusSucceeded, &s, "", "")
		return
	}
	var se *stateError
	if errors.As(err, &se) {
		x.finish(th.prev, StatusFailed, nil, se.name, se.cause)
		return
	}
	if errors.Is(err, errAborted) {
		return // stopped or timed out: already recorded
	}
	x.finish(th.prev, StatusFailed, nil, ErrorRuntime, err.Error())
}

// jsonString renders v for a history event.
func jsonString(v any) string { return mustEncode(v) }
