package sfnapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/crossbuild/crossbuild/local/asl"
)

// Paging limits of the List and Get operations.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

func (h *Handler) now() asl.EpochTime { return asl.EpochTime(h.engine.Clock().Now()) }

// CreateStateMachine

type createStateMachineInput struct {
	Name                 string          `json:"name"`
	Definition           string          `json:"definition"`
	RoleArn              string          `json:"roleArn"`
	Type                 string          `json:"type"`
	LoggingConfiguration json.RawMessage `json:"loggingConfiguration"`
	TracingConfiguration json.RawMessage `json:"tracingConfiguration"`
}

type createStateMachineOutput struct {
	StateMachineArn string        `json:"stateMachineArn"`
	CreationDate    asl.EpochTime `json:"creationDate"`
}

func (h *Handler) createStateMachine(c caller, body []byte) (any, error) {
	var in createStateMachineInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if !validName(in.Name) {
		return nil, errorf("InvalidName", "Invalid Name: '%s'", in.Name)
	}
	if in.RoleArn == "" || !strings.HasPrefix(in.RoleArn, "arn:") {
		return nil, errorf("InvalidArn", "Invalid Arn: '%s'", in.RoleArn)
	}
	switch in.Type {
	case "", "STANDARD":
		in.Type = "STANDARD"
	case "EXPRESS":
		return nil, errorf("StateMachineTypeNotSupported", "Only STANDARD state machines are supported by this service")
	default:
		return nil, errorf("ValidationException", "type must be STANDARD or EXPRESS, got '%s'", in.Type)
	}
	def, err := asl.Parse([]byte(in.Definition))
	if err != nil {
		return nil, errorf("InvalidDefinition", "Invalid State Machine Definition: '%v'", err)
	}
	arn := stateMachineArn(c, in.Name)
	h.mu.Lock()
	defer h.mu.Unlock()
	if sm, ok := h.machines[arn]; ok {
		// Creating the same machine again is idempotent; anything else
		// under the same name is a conflict.
		if sm.definition == in.Definition && sm.roleArn == in.RoleArn && sm.typ == in.Type {
			return createStateMachineOutput{StateMachineArn: sm.arn, CreationDate: sm.created}, nil
		}
		return nil, errorf("StateMachineAlreadyExists", "State Machine Already Exists: '%s'", arn)
	}
	sm := &stateMachine{
		arn: arn, name: in.Name, definition: in.Definition, parsed: def, roleArn: in.RoleArn, typ: in.Type,
		created: h.now(), logging: in.LoggingConfiguration, tracing: in.TracingConfiguration,
		byName: map[string]*asl.Execution{},
	}
	h.machines[arn] = sm
	h.order = append(h.order, arn)
	return createStateMachineOutput{StateMachineArn: arn, CreationDate: sm.created}, nil
}

// lookupMachine finds a state machine; the caller holds h.mu.
func (h *Handler) lookupMachine(arn string) (*stateMachine, error) {
	if !validStateMachineArn(arn) {
		return nil, errorf("InvalidArn", "Invalid Arn: '%s'", arn)
	}
	sm, ok := h.machines[arn]
	if !ok {
		return nil, errorf("StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", arn)
	}
	return sm, nil
}

// DescribeStateMachine

type arnInput struct {
	StateMachineArn string `json:"stateMachineArn"`
	ExecutionArn    string `json:"executionArn"`
}

type describeStateMachineOutput struct {
	StateMachineArn      string          `json:"stateMachineArn"`
	Name                 string          `json:"name"`
	Status               string          `json:"status"`
	Definition           string          `json:"definition"`
	RoleArn              string          `json:"roleArn"`
	Type                 string          `json:"type"`
	CreationDate         asl.EpochTime   `json:"creationDate"`
	LoggingConfiguration json.RawMessage `json:"loggingConfiguration"`
	TracingConfiguration json.RawMessage `json:"tracingConfiguration"`
}

func (h *Handler) describeStateMachine(_ caller, body []byte) (any, error) {
	var in arnInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	sm, err := h.lookupMachine(in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	out := describeStateMachineOutput{
		StateMachineArn: sm.arn, Name: sm.name, Status: "ACTIVE", Definition: sm.definition,
		RoleArn: sm.roleArn, Type: sm.typ, CreationDate: sm.created,
		LoggingConfiguration: sm.logging, TracingConfiguration: sm.tracing,
	}
	if len(out.LoggingConfiguration) == 0 {
		out.LoggingConfiguration = json.RawMessage(`{"level":"OFF","includeExecutionData":false}`)
	}
	if len(out.TracingConfiguration) == 0 {
		out.TracingConfiguration = json.RawMessage(`{"enabled":false}`)
	}
	return out, nil
}

// ListStateMachines

type pageInput struct {
	MaxResults int    `json:"maxResults"`
	NextToken  string `json:"nextToken"`
}

type stateMachineListItem struct {
	StateMachineArn string        `json:"stateMachineArn"`
	Name            string        `json:"name"`
	Type            string        `json:"type"`
	CreationDate    asl.EpochTime `json:"creationDate"`
}

func (h *Handler) listStateMachines(c caller, body []byte) (any, error) {
	var in pageInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	prefix := stateMachineArn(c, "")
	start, err := readToken(in.NextToken, "sm:"+prefix)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	items := []stateMachineListItem{}
	next := ""
	for i := start; i < len(h.order); i++ {
		sm := h.machines[h.order[i]]
		if !strings.HasPrefix(sm.arn, prefix) {
			continue
		}
		if len(items) == size {
			next = makeToken("sm:"+prefix, i)
			break
		}
		items = append(items, stateMachineListItem{StateMachineArn: sm.arn, Name: sm.name, Type: sm.typ, CreationDate: sm.created})
	}
	return struct {
		StateMachines []stateMachineListItem `json:"stateMachines"`
		NextToken     string                 `json:"nextToken,omitempty"`
	}{items, next}, nil
}

// StartExecution

type startExecutionInput struct {
	StateMachineArn string  `json:"stateMachineArn"`
	Name            string  `json:"name"`
	Input           *string `json:"input"`
	TraceHeader     string  `json:"traceHeader"`
}

type startExecutionOutput struct {
	ExecutionArn string        `json:"executionArn"`
	StartDate    asl.EpochTime `json:"startDate"`
}

func (h *Handler) startExecution(_ caller, body []byte) (any, error) {
	var in startExecutionInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	input := "{}"
	if in.Input != nil {
		input = *in.Input
	}
	if in.Name == "" {
		in.Name = asl.NewUUID()
	}
	if !validName(in.Name) {
		return nil, errorf("InvalidName", "Invalid Name: '%s'", in.Name)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	sm, err := h.lookupMachine(in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	arn := executionArn(sm.arn, in.Name)
	if prev, ok := sm.byName[in.Name]; ok {
		// A Standard workflow start is idempotent while the first execution
		// with the name runs with the same input.
		info := prev.Describe()
		if info.Status == asl.StatusRunning && info.Input == normalizeInput(input) {
			return startExecutionOutput{ExecutionArn: arn, StartDate: asl.EpochTime(info.StartDate)}, nil
		}
		return nil, errorf("ExecutionAlreadyExists", "Execution Already Exists: '%s'", arn)
	}
	x, err := h.engine.Start(asl.StartInput{
		Definition: sm.parsed, StateMachineArn: sm.arn, ExecutionArn: arn, Name: in.Name,
		Input: input, RoleArn: sm.roleArn,
	})
	var bad *asl.InvalidExecutionInputError
	var dup *asl.ExecutionAlreadyExistsError
	switch {
	case errors.As(err, &bad):
		return nil, errorf("InvalidExecutionInput", "%s", bad.Reason)
	case errors.As(err, &dup):
		return nil, errorf("ExecutionAlreadyExists", "Execution Already Exists: '%s'", arn)
	case err != nil:
		return nil, fmt.Errorf("start execution %s: %w", arn, err)
	}
	sm.executions = append(sm.executions, x)
	sm.byName[in.Name] = x
	return startExecutionOutput{ExecutionArn: arn, StartDate: asl.EpochTime(x.Describe().StartDate)}, nil
}

// normalizeInput mirrors how the engine stores an input, for comparing a
// repeated start with the original.
func normalizeInput(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "{}"
	}
	return s
}

// lookupExecution finds an execution by ARN.
func (h *Handler) lookupExecution(arn string) (*asl.Execution, error) {
	if _, ok := machineOfExecution(arn); !ok {
		return nil, errorf("InvalidArn", "Invalid Arn: '%s'", arn)
	}
	x, ok := h.engine.Execution(arn)
	if !ok {
		return nil, errorf("ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", arn)
	}
	return x, nil
}

// DescribeExecution

type dataDetails struct {
	Included bool `json:"included"`
}

type describeExecutionOutput struct {
	ExecutionArn    string         `json:"executionArn"`
	StateMachineArn string         `json:"stateMachineArn"`
	Name            string         `json:"name"`
	Status          string         `json:"status"`
	StartDate       asl.EpochTime  `json:"startDate"`
	StopDate        *asl.EpochTime `json:"stopDate,omitempty"`
	Input           string         `json:"input"`
	InputDetails    dataDetails    `json:"inputDetails"`
	Output          *string        `json:"output,omitempty"`
	OutputDetails   *dataDetails   `json:"outputDetails,omitempty"`
	Error           *string        `json:"error,omitempty"`
	Cause           *string        `json:"cause,omitempty"`
	RedriveCount    int            `json:"redriveCount"`
	RedriveStatus   string         `json:"redriveStatus"`
	// MapRunArn is set for a child execution of a distributed Map state.
	MapRunArn *string `json:"mapRunArn,omitempty"`
}

func (h *Handler) describeExecution(_ caller, body []byte) (any, error) {
	var in arnInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	x, err := h.lookupExecution(in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	info := x.Describe()
	out := describeExecutionOutput{
		ExecutionArn: info.ExecutionArn, StateMachineArn: info.StateMachineArn, Name: info.Name,
		Status: string(info.Status), StartDate: asl.EpochTime(info.StartDate), StopDate: stopDate(info),
		Input: info.Input, InputDetails: dataDetails{Included: true},
		RedriveCount: 0, RedriveStatus: "NOT_REDRIVABLE",
	}
	if info.HasOutput {
		out.Output = &info.Output
		out.OutputDetails = &dataDetails{Included: true}
	}
	if info.MapRunArn != "" {
		out.MapRunArn = &info.MapRunArn
	}
	if info.Status == asl.StatusFailed || info.Status == asl.StatusAborted || info.Status == asl.StatusTimedOut {
		if info.Error != "" {
			out.Error = &info.Error
		}
		if info.Cause != "" {
			out.Cause = &info.Cause
		}
	}
	return out, nil
}

func stopDate(info asl.ExecutionInfo) *asl.EpochTime {
	if info.StopDate.IsZero() {
		return nil
	}
	t := asl.EpochTime(info.StopDate)
	return &t
}

// ListExecutions

type listExecutionsInput struct {
	StateMachineArn string `json:"stateMachineArn"`
	MapRunArn       string `json:"mapRunArn"`
	StatusFilter    string `json:"statusFilter"`
	MaxResults      int    `json:"maxResults"`
	NextToken       string `json:"nextToken"`
}

type executionListItem struct {
	ExecutionArn    string         `json:"executionArn"`
	StateMachineArn string         `json:"stateMachineArn"`
	Name            string         `json:"name"`
	Status          string         `json:"status"`
	StartDate       asl.EpochTime  `json:"startDate"`
	StopDate        *asl.EpochTime `json:"stopDate,omitempty"`
	// MapRunArn and ItemCount are returned when listing by mapRunArn.
	MapRunArn *string `json:"mapRunArn,omitempty"`
	ItemCount *int    `json:"itemCount,omitempty"`
}

// listExecutions lists a state machine's executions, or the child
// executions of a Map Run. Child executions belong to their Map Run, not
// to the state machine: listing by stateMachineArn leaves them out.
func (h *Handler) listExecutions(_ caller, body []byte) (any, error) {
	var in listExecutionsInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	switch in.StatusFilter {
	case "", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE":
	default:
		return nil, errorf("ValidationException", "statusFilter must be one of RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE")
	}
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	var (
		execs []*asl.Execution
		scope string
	)
	switch {
	case in.MapRunArn != "" && in.StateMachineArn != "":
		return nil, errorf("ValidationException", "Specify either stateMachineArn or mapRunArn, not both")
	case in.MapRunArn != "":
		run, err := h.lookupMapRun(in.MapRunArn)
		if err != nil {
			return nil, err
		}
		execs, scope = run.Executions(), "mx:"+run.Arn()
	default:
		h.mu.Lock()
		sm, err := h.lookupMachine(in.StateMachineArn)
		if err != nil {
			h.mu.Unlock()
			return nil, err
		}
		execs, scope = append([]*asl.Execution(nil), sm.executions...), "ex:"+sm.arn
		h.mu.Unlock()
	}

	// Newest first. The token holds the position (in start order) to
	// continue below, which new executions do not shift.
	end, err := readToken(in.NextToken, scope)
	if err != nil {
		return nil, err
	}
	if in.NextToken == "" || end > len(execs) {
		end = len(execs)
	}
	items := []executionListItem{}
	next := ""
	for i := end - 1; i >= 0; i-- {
		info := execs[i].Describe()
		if in.StatusFilter != "" && string(info.Status) != in.StatusFilter {
			continue
		}
		if len(items) == size {
			next = makeToken(scope, i+1)
			break
		}
		item := executionListItem{
			ExecutionArn: info.ExecutionArn, StateMachineArn: info.StateMachineArn, Name: info.Name,
			Status: string(info.Status), StartDate: asl.EpochTime(info.StartDate), StopDate: stopDate(info),
		}
		if in.MapRunArn != "" {
			one := 1 // no ItemBatcher: one item per child execution
			item.MapRunArn, item.ItemCount = &in.MapRunArn, &one
		}
		items = append(items, item)
	}
	return struct {
		Executions []executionListItem `json:"executions"`
		NextToken  string              `json:"nextToken,omitempty"`
	}{items, next}, nil
}

// GetExecutionHistory

type getExecutionHistoryInput struct {
	ExecutionArn         string `json:"executionArn"`
	MaxResults           int    `json:"maxResults"`
	NextToken            string `json:"nextToken"`
	ReverseOrder         bool   `json:"reverseOrder"`
	IncludeExecutionData *bool  `json:"includeExecutionData"`
}

func (h *Handler) getExecutionHistory(_ caller, body []byte) (any, error) {
	var in getExecutionHistoryInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	x, err := h.lookupExecution(in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	scope := "h:" + x.Arn()
	if in.ReverseOrder {
		scope = "hr:" + x.Arn()
	}
	// The token holds the id of the last event returned; ids are stable, so
	// events recorded between calls neither repeat nor go missing.
	after, err := readToken(in.NextToken, scope)
	if err != nil {
		return nil, err
	}
	events := x.History()
	if in.ReverseOrder {
		for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
			events[i], events[j] = events[j], events[i]
		}
	}
	page := make([]asl.HistoryEvent, 0, min(size, len(events)))
	next := ""
	for _, ev := range events {
		if in.NextToken != "" && ((!in.ReverseOrder && ev.ID <= int64(after)) || (in.ReverseOrder && ev.ID >= int64(after))) {
			continue
		}
		if len(page) == size {
			next = makeToken(scope, int(page[len(page)-1].ID))
			break
		}
		page = append(page, ev)
	}
	var out any = page
	if in.IncludeExecutionData != nil && !*in.IncludeExecutionData {
		if out, err = withoutExecutionData(page); err != nil {
			return nil, err
		}
	}
	return struct {
		Events    any    `json:"events"`
		NextToken string `json:"nextToken,omitempty"`
	}{out, next}, nil
}

// withoutExecutionData drops the inputs and outputs from event details, as
// includeExecutionData=false asks.
func withoutExecutionData(events []asl.HistoryEvent) ([]map[string]any, error) {
	data, err := json.Marshal(events)
	if err != nil {
		return nil, err
	}
	var generic []map[string]any
	if err := json.Unmarshal(data, &generic); err != nil {
		return nil, err
	}
	for _, ev := range generic {
		for k, v := range ev {
			details, ok := v.(map[string]any)
			if !ok || !strings.HasSuffix(k, "EventDetails") {
				continue
			}
			for _, field := range []string{"input", "output", "parameters"} {
				delete(details, field)
			}
		}
	}
	return generic, nil
}

// StopExecution

type stopExecutionInput struct {
	ExecutionArn string `json:"executionArn"`
	Error        string `json:"error"`
	Cause        string `json:"cause"`
}

func (h *Handler) stopExecution(_ caller, body []byte) (any, error) {
	var in stopExecutionInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	x, err := h.lookupExecution(in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	if _, err := h.engine.StopExecution(x.Arn(), in.Error, in.Cause); err != nil {
		return nil, fmt.Errorf("stop execution %s: %w", x.Arn(), err)
	}
	info := x.Describe()
	stop := asl.EpochTime(info.StopDate)
	if info.StopDate.IsZero() {
		stop = h.now()
	}
	return struct {
		StopDate asl.EpochTime `json:"stopDate"`
	}{stop}, nil
}

// DescribeMapRun, ListMapRuns

// lookupMapRun finds a Map Run by ARN.
func (h *Handler) lookupMapRun(arn string) (*asl.MapRun, error) {
	if !validMapRunArn(arn) {
		return nil, errorf("InvalidArn", "Invalid Arn: '%s'", arn)
	}
	run, ok := h.engine.MapRun(arn)
	if !ok {
		return nil, errorf("ResourceNotFound", "Resource not found: '%s'", arn)
	}
	return run, nil
}

type mapRunCounts struct {
	Aborted        int64 `json:"aborted"`
	Failed         int64 `json:"failed"`
	Pending        int64 `json:"pending"`
	ResultsWritten int64 `json:"resultsWritten"`
	Running        int64 `json:"running"`
	Succeeded      int64 `json:"succeeded"`
	TimedOut       int64 `json:"timedOut"`
	Total          int64 `json:"total"`
}

func countsOf(c asl.MapRunCounts) mapRunCounts {
	return mapRunCounts{Aborted: c.Aborted, Failed: c.Failed, Pending: c.Pending, ResultsWritten: c.ResultsWritten,
		Running: c.Running, Succeeded: c.Succeeded, TimedOut: c.TimedOut, Total: c.Total}
}

type describeMapRunOutput struct {
	MapRunArn                  string         `json:"mapRunArn"`
	ExecutionArn               string         `json:"executionArn"`
	Status                     string         `json:"status"`
	StartDate                  asl.EpochTime  `json:"startDate"`
	StopDate                   *asl.EpochTime `json:"stopDate,omitempty"`
	MaxConcurrency             int64          `json:"maxConcurrency"`
	ToleratedFailureCount      int64          `json:"toleratedFailureCount"`
	ToleratedFailurePercentage float64        `json:"toleratedFailurePercentage"`
	ItemCounts                 mapRunCounts   `json:"itemCounts"`
	ExecutionCounts            mapRunCounts   `json:"executionCounts"`
}

func (h *Handler) describeMapRun(_ caller, body []byte) (any, error) {
	var in struct {
		MapRunArn string `json:"mapRunArn"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	run, err := h.lookupMapRun(in.MapRunArn)
	if err != nil {
		return nil, err
	}
	d := run.Describe()
	out := describeMapRunOutput{
		MapRunArn: d.MapRunArn, ExecutionArn: d.ExecutionArn, Status: string(d.Status), StartDate: asl.EpochTime(d.StartDate),
		MaxConcurrency: d.MaxConcurrency, ToleratedFailureCount: d.ToleratedFailureCount,
		ToleratedFailurePercentage: d.ToleratedFailurePercentage,
		ItemCounts:                 countsOf(d.ItemCounts), ExecutionCounts: countsOf(d.ExecutionCounts),
	}
	if !d.StopDate.IsZero() {
		t := asl.EpochTime(d.StopDate)
		out.StopDate = &t
	}
	return out, nil
}

type mapRunListItem struct {
	ExecutionArn    string         `json:"executionArn"`
	MapRunArn       string         `json:"mapRunArn"`
	StateMachineArn string         `json:"stateMachineArn"`
	StartDate       asl.EpochTime  `json:"startDate"`
	StopDate        *asl.EpochTime `json:"stopDate,omitempty"`
}

func (h *Handler) listMapRuns(_ caller, body []byte) (any, error) {
	var in struct {
		ExecutionArn string `json:"executionArn"`
		MaxResults   int    `json:"maxResults"`
		NextToken    string `json:"nextToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	x, err := h.lookupExecution(in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	scope := "mr:" + x.Arn()
	start, err := readToken(in.NextToken, scope)
	if err != nil {
		return nil, err
	}
	runs := x.MapRuns()
	items := []mapRunListItem{}
	next := ""
	for i := start; i < len(runs); i++ {
		if len(items) == size {
			next = makeToken(scope, i)
			break
		}
		d := runs[i].Describe()
		item := mapRunListItem{ExecutionArn: d.ExecutionArn, MapRunArn: d.MapRunArn, StateMachineArn: d.StateMachineArn,
			StartDate: asl.EpochTime(d.StartDate)}
		if !d.StopDate.IsZero() {
			t := asl.EpochTime(d.StopDate)
			item.StopDate = &t
		}
		items = append(items, item)
	}
	return struct {
		MapRuns   []mapRunListItem `json:"mapRuns"`
		NextToken string           `json:"nextToken,omitempty"`
	}{items, next}, nil
}

// SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat

type sendTaskInput struct {
	TaskToken string  `json:"taskToken"`
	Output    *string `json:"output"`
	Error     string  `json:"error"`
	Cause     string  `json:"cause"`
}

func (h *Handler) sendTaskSuccess(_ caller, body []byte) (any, error) {
	var in sendTaskInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Output == nil {
		return nil, errorf("ValidationException", "output is required")
	}
	return struct{}{}, taskTokenError(h.engine.SendTaskSuccess(in.TaskToken, *in.Output))
}

func (h *Handler) sendTaskFailure(_ caller, body []byte) (any, error) {
	var in sendTaskInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, taskTokenError(h.engine.SendTaskFailure(in.TaskToken, in.Error, in.Cause))
}

func (h *Handler) sendTaskHeartbeat(_ caller, body []byte) (any, error) {
	var in sendTaskInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, taskTokenError(h.engine.SendTaskHeartbeat(in.TaskToken))
}

// taskTokenError maps the engine's token errors to the API's exceptions.
func taskTokenError(err error) error {
	var (
		invalid   *asl.InvalidTokenError
		missing   *asl.TaskDoesNotExistError
		timedOut  *asl.TaskTimedOutError
		badOutput *asl.InvalidOutputError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &invalid):
		return errorf("InvalidToken", "%s", invalid.Message)
	case errors.As(err, &missing):
		return errorf("TaskDoesNotExist", "%s", missing.Message)
	case errors.As(err, &timedOut):
		return errorf("TaskTimedOut", "%s", timedOut.Message)
	case errors.As(err, &badOutput):
		return errorf("InvalidOutput", "%s", badOutput.Reason)
	}
	return err
}

// Paging helpers.

func pageSize(n int) (int, error) {
	switch {
	case n == 0:
		return defaultPageSize, nil
	case n < 0 || n > maxPageSize:
		return 0, errorf("ValidationException", "maxResults must be between 0 and %d", maxPageSize)
	}
	return n, nil
}

// makeToken encodes a position for the list it belongs to.
func makeToken(scope string, pos int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(scope + "|" + strconv.Itoa(pos)))
}

// readToken decodes a token made for scope; an empty token is position 0.
func readToken(token, scope string) (int, error) {
	if token == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	s, posText, found := strings.Cut(string(raw), "|")
	pos, perr := strconv.Atoi(posText)
	if err != nil || !found || s != scope || perr != nil || pos < 0 {
		return 0, errorf("InvalidToken", "Invalid Token: '%s'", token)
	}
	return pos, nil
}
