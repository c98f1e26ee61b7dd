package asl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// State types.
const (
	TypeTask     = "Task"
	TypePass     = "Pass"
	TypeWait     = "Wait"
	TypeChoice   = "Choice"
	TypeSucceed  = "Succeed"
	TypeFail     = "Fail"
	TypeMap      = "Map"
	TypeParallel = "Parallel"
)

// Limits on fields.
const (
	maxTimeoutSeconds = 99999999
	maxWaitSeconds    = 99999999
	maxMapConcurrency = 40 // inline Map runs at most 40 iterations at once
)

// Processing modes of a Map state's ItemProcessor.ProcessorConfig.
const (
	modeInline      = "INLINE"
	modeDistributed = "DISTRIBUTED"
)

// Definition is a parsed and validated state machine definition.
type Definition struct {
	Comment        string
	TimeoutSeconds int64 // 0: no execution timeout
	machine        *stateSet
	raw            string
}

// Source returns the definition text as it was given.
func (d *Definition) Source() string { return d.raw }

// StartAt names the first state.
func (d *Definition) StartAt() string { return d.machine.startAt }

// stateSet is a StartAt and its States: the top level, a Map's item
// processor or a Parallel branch.
type stateSet struct {
	startAt string
	states  map[string]state
}

// state is implemented by every state type.
type state interface {
	base() *stateBase
}

type stateBase struct {
	name       string
	typ        string
	next       string
	end        bool
	inputPath  *dataPath
	outputPath *dataPath
}

func (b *stateBase) base() *stateBase { return b }

// dataPath is an InputPath or OutputPath: nil means "$", null means the
// state gets (or emits) an empty object.
type dataPath struct {
	null bool
	p    *path
}

// resultPath is a ResultPath: nil means "$" (the result replaces the input),
// discard (JSON null) means the input passes through unchanged.
type resultPath struct {
	discard bool
	p       *path
}

type passState struct {
	stateBase
	result     any
	hasResult  bool
	parameters *template
	resultPath *resultPath
}

type taskState struct {
	stateBase
	resource         resourceSpec
	parameters       *template
	resultSelector   *template
	resultPath       *resultPath
	retry            []*retrier
	catch            []*catcher
	timeoutSeconds   int64
	timeoutPath      *path
	heartbeatSeconds int64
	heartbeatPath    *path
}

type waitState struct {
	stateBase
	seconds       int64
	hasSeconds    bool
	secondsPath   *path
	timestamp     time.Time
	hasTimestamp  bool
	timestampPath *path
}

type choiceState struct {
	stateBase
	choices     []*choiceRule
	defaultNext string
}

type succeedState struct{ stateBase }

type failState struct {
	stateBase
	errorName string
	cause     string
	errorPath *dynamicString
	causePath *dynamicString
}

// dynamicString is a Fail state's ErrorPath or CausePath: a path or an
// intrinsic function that must produce a string.
type dynamicString struct {
	p    *path
	call *intrinsic
	raw  string
}

type mapState struct {
	stateBase
	itemsPath          *path
	itemSelector       *template
	processor          *stateSet
	maxConcurrency     int64
	maxConcurrencyPath *path
	resultSelector     *template
	resultPath         *resultPath
	retry              []*retrier
	catch              []*catcher
	// dist is set for a Map state in DISTRIBUTED mode: each item runs as a
	// child execution of processorDef.
	dist *distributedMap
}

type parallelState struct {
	stateBase
	branches       []*stateSet
	parameters     *template
	resultSelector *template
	resultPath     *resultPath
	retry          []*retrier
	catch          []*catcher
}

// Fields each state type accepts besides Type, Comment and QueryLanguage.
var stateFields = map[string][]string{
	TypeTask: {"Resource", "Parameters", "ResultSelector", "ResultPath", "InputPath", "OutputPath",
		"Retry", "Catch", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath", "Next", "End"},
	TypePass:    {"Result", "ResultPath", "Parameters", "InputPath", "OutputPath", "Next", "End"},
	TypeWait:    {"Seconds", "SecondsPath", "Timestamp", "TimestampPath", "InputPath", "OutputPath", "Next", "End"},
	TypeChoice:  {"Choices", "Default", "InputPath", "OutputPath"},
	TypeSucceed: {"InputPath", "OutputPath"},
	TypeFail:    {"Error", "Cause", "ErrorPath", "CausePath"},
	TypeMap: {"ItemProcessor", "Iterator", "ItemsPath", "ItemSelector", "Parameters", "MaxConcurrency",
		"MaxConcurrencyPath", "ResultSelector", "ResultPath", "InputPath", "OutputPath", "Retry", "Catch", "Next", "End",
		"ItemReader", "ItemBatcher", "ResultWriter", "Label", "ToleratedFailureCount", "ToleratedFailureCountPath",
		"ToleratedFailurePercentage", "ToleratedFailurePercentagePath"},
	TypeParallel: {"Branches", "Parameters", "ResultSelector", "ResultPath", "InputPath", "OutputPath",
		"Retry", "Catch", "Next", "End"},
}

// Parse parses and validates a definition. Problems are reported as
// *ValidationError or, for features this engine does not implement, as
// *UnsupportedError naming the state and field.
func Parse(definition []byte) (*Definition, error) {
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(definition))
	if err := dec.Decode(&top); err != nil || top == nil {
		return nil, &ValidationError{Message: "the definition must be a JSON object"}
	}
	d := &Definition{raw: string(definition)}
	for _, k := range sortedKeys(top) {
		v := top[k]
		switch k {
		case "StartAt", "States":
		case "Comment":
			if err := json.Unmarshal(v, &d.Comment); err != nil {
				return nil, &ValidationError{Field: k, Message: "must be a string"}
			}
		case "Version":
			var ver string
			if err := json.Unmarshal(v, &ver); err != nil || ver != "1.0" {
				return nil, &ValidationError{Field: k, Message: `must be "1.0"`}
			}
		case "TimeoutSeconds":
			n, err := intField("", k, v, 1, maxTimeoutSeconds)
			if err != nil {
				return nil, err
			}
			d.TimeoutSeconds = n
		case "QueryLanguage":
			if err := checkQueryLanguage("", v); err != nil {
				return nil, err
			}
		default:
			return nil, &UnsupportedError{Field: k}
		}
	}
	p := &parser{names: map[string]bool{}}
	machine, err := p.stateSet("", "", top)
	if err != nil {
		return nil, err
	}
	d.machine = machine
	return d, nil
}

func checkQueryLanguage(state string, raw json.RawMessage) error {
	var lang string
	if err := json.Unmarshal(raw, &lang); err != nil {
		return &ValidationError{State: state, Field: "QueryLanguage", Message: "must be a string"}
	}
	switch lang {
	case "JSONPath":
		return nil
	case "JSONata":
		return &UnsupportedError{State: state, Field: "QueryLanguage", Reason: "JSONata is not supported; use JSONPath"}
	}
	return &ValidationError{State: state, Field: "QueryLanguage", Message: "must be JSONPath or JSONata"}
}

// parser holds what must be checked across the whole definition: state
// names are unique in it.
type parser struct {
	names map[string]bool
}

// stateSet parses StartAt and States of an object; owner is the state that
// holds it (empty at the top level) and where the field holding it.
func (p *parser) stateSet(owner, where string, fields map[string]json.RawMessage) (*stateSet, error) {
	prefix := where
	if prefix != "" {
		prefix += "."
	}
	set := &stateSet{states: map[string]state{}}
	rawStart, ok := fields["StartAt"]
	if !ok {
		return nil, &ValidationError{State: owner, Field: prefix + "StartAt", Message: "is required"}
	}
	if err := json.Unmarshal(rawStart, &set.startAt); err != nil || set.startAt == "" {
		return nil, &ValidationError{State: owner, Field: prefix + "StartAt", Message: "must be a non-empty string"}
	}
	rawStates, ok := fields["States"]
	if !ok {
		return nil, &ValidationError{State: owner, Field: prefix + "States", Message: "is required"}
	}
	var states map[string]json.RawMessage
	if err := json.Unmarshal(rawStates, &states); err != nil || len(states) == 0 {
		return nil, &ValidationError{State: owner, Field: prefix + "States", Message: "must be a non-empty object of states"}
	}
	for _, name := range sortedKeys(states) {
		if name == "" || len(name) > 80 {
			return nil, &ValidationError{State: name, Message: "state names must be 1 to 80 characters"}
		}
		if p.names[name] {
			return nil, &ValidationError{State: name, Message: "state names must be unique in the state machine"}
		}
		p.names[name] = true
		st, err := p.state(name, states[name])
		if err != nil {
			return nil, err
		}
		set.states[name] = st
	}
	if _, ok := set.states[set.startAt]; !ok {
		return nil, &ValidationError{State: owner, Field: prefix + "StartAt", Message: fmt.Sprintf("names the missing state %q", set.startAt)}
	}
	if err := set.checkTransitions(); err != nil {
		return nil, err
	}
	return set, nil
}

// checkTransitions verifies every transition targets a state of the set and
// every state can be reached from StartAt.
func (s *stateSet) checkTransitions() error {
	reached := map[string]bool{}
	queue := []string{s.startAt}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if reached[name] {
			continue
		}
		reached[name] = true
		for _, t := range transitions(s.states[name]) {
			if _, ok := s.states[t.target]; !ok {
				return &ValidationError{State: name, Field: t.field, Message: fmt.Sprintf("names the missing state %q", t.target)}
			}
			queue = append(queue, t.target)
		}
	}
	for _, name := range sortedKeys(s.states) {
		if !reached[name] {
			return &ValidationError{State: name, Message: "the state cannot be reached from StartAt"}
		}
	}
	return nil
}

type transition struct{ field, target string }

func transitions(st state) []transition {
	var out []transition
	b := st.base()
	if b.next != "" {
		out = append(out, transition{"Next", b.next})
	}
	var catches []*catcher
	switch s := st.(type) {
	case *choiceState:
		for i, c := range s.choices {
			out = append(out, transition{fmt.Sprintf("Choices[%d].Next", i), c.next})
		}
		if s.defaultNext != "" {
			out = append(out, transition{"Default", s.defaultNext})
		}
	case *taskState:
		catches = s.catch
	case *mapState:
		catches = s.catch
	case *parallelState:
		catches = s.catch
	}
	for i, c := range catches {
		out = append(out, transition{fmt.Sprintf("Catch[%d].Next", i), c.next})
	}
	return out
}

func (p *parser) state(name string, raw json.RawMessage) (state, error) {
	fields, err := objectFields(name, "", raw)
	if err != nil {
		return nil, err
	}
	var typ string
	if rawType, ok := fields["Type"]; !ok {
		return nil, &ValidationError{State: name, Field: "Type", Message: "is required"}
	} else if err := json.Unmarshal(rawType, &typ); err != nil {
		return nil, &ValidationError{State: name, Field: "Type", Message: "must be a string"}
	}
	allowed, ok := stateFields[typ]
	if !ok {
		return nil, &UnsupportedError{State: name, Field: "Type", Reason: fmt.Sprintf("state type %q is not supported", typ)}
	}
	for _, k := range sortedKeys(fields) {
		switch k {
		case "Type", "Comment":
			continue
		case "QueryLanguage":
			if err := checkQueryLanguage(name, fields[k]); err != nil {
				return nil, err
			}
			continue
		}
		if !contains(allowed, k) {
			return nil, &UnsupportedError{State: name, Field: k, Reason: fmt.Sprintf("not supported in a %s state", typ)}
		}
	}
	r := &reader{state: name, fields: fields}
	b := stateBase{name: name, typ: typ}
	if contains(allowed, "InputPath") {
		b.inputPath = r.dataPath("InputPath")
		b.outputPath = r.dataPath("OutputPath")
	}
	if contains(allowed, "Next") {
		b.next = r.str("Next")
		b.end = r.boolean("End")
		if r.err == nil && b.next == "" && !b.end {
			r.fail("Next", "a state needs Next or End: true")
		}
		if r.err == nil && b.next != "" && b.end {
			r.fail("End", "a state cannot have both Next and End")
		}
	}
	var st state
	switch typ {
	case TypePass:
		s := &passState{stateBase: b}
		if v, ok := fields["Result"]; ok {
			s.hasResult = true
			s.result, err = decodeValue(v)
			if err != nil {
				r.fail("Result", "must be JSON")
			}
		}
		s.parameters = r.template("Parameters")
		s.resultPath = r.resultPath("ResultPath")
		st = s
	case TypeTask:
		st = p.task(r, b)
	case TypeWait:
		st = p.wait(r, b)
	case TypeChoice:
		st = p.choice(r, b)
	case TypeSucceed:
		st = &succeedState{stateBase: b}
	case TypeFail:
		s := &failState{stateBase: b}
		s.errorName = r.str("Error")
		s.cause = r.str("Cause")
		s.errorPath = r.dynamicString("ErrorPath")
		s.causePath = r.dynamicString("CausePath")
		if r.has("Error") && r.has("ErrorPath") {
			r.fail("ErrorPath", "Error and ErrorPath are mutually exclusive")
		}
		if r.has("Cause") && r.has("CausePath") {
			r.fail("CausePath", "Cause and CausePath are mutually exclusive")
		}
		st = s
	case TypeMap:
		st = p.mapState(r, b)
	case TypeParallel:
		st = p.parallel(r, b)
	}
	if r.err != nil {
		return nil, r.err
	}
	return st, nil
}

func (p *parser) task(r *reader, b stateBase) *taskState {
	s := &taskState{stateBase: b}
	res := r.str("Resource")
	if r.err == nil && res == "" {
		r.fail("Resource", "is required")
	}
	if r.err == nil {
		spec, err := parseResource(b.name, res)
		if err != nil {
			r.setErr(err)
		}
		s.resource = spec
	}
	s.parameters = r.template("Parameters")
	s.resultSelector = r.template("ResultSelector")
	s.resultPath = r.resultPath("ResultPath")
	s.retry = r.retry()
	s.catch = r.catch()
	s.timeoutSeconds = r.integer("TimeoutSeconds", 1, maxTimeoutSeconds)
	s.timeoutPath = r.referencePath("TimeoutSecondsPath")
	s.heartbeatSeconds = r.integer("HeartbeatSeconds", 1, maxTimeoutSeconds)
	s.heartbeatPath = r.referencePath("HeartbeatSecondsPath")
	if r.has("TimeoutSeconds") && r.has("TimeoutSecondsPath") {
		r.fail("TimeoutSecondsPath", "TimeoutSeconds and TimeoutSecondsPath are mutually exclusive")
	}
	if r.has("HeartbeatSeconds") && r.has("HeartbeatSecondsPath") {
		r.fail("HeartbeatSecondsPath", "HeartbeatSeconds and HeartbeatSecondsPath are mutually exclusive")
	}
	if s.heartbeatSeconds > 0 && s.timeoutSeconds > 0 && s.heartbeatSeconds >= s.timeoutSeconds {
		r.fail("HeartbeatSeconds", "must be smaller than TimeoutSeconds")
	}
	if r.err == nil && s.resource.callback && (s.parameters == nil || !s.parameters.usesToken) {
		r.fail("Parameters", "a .waitForTaskToken task must pass $$.Task.Token in its Parameters")
	}
	return s
}

func (p *parser) wait(r *reader, b stateBase) *waitState {
	s := &waitState{stateBase: b}
	set := 0
	if r.has("Seconds") {
		set++
		s.hasSeconds = true
		s.seconds = r.integer("Seconds", 0, maxWaitSeconds)
	}
	if r.has("SecondsPath") {
		set++
		s.secondsPath = r.referencePath("SecondsPath")
	}
	if r.has("Timestamp") {
		set++
		ts := r.str("Timestamp")
		if r.err == nil {
			t, err := parseTimestamp(ts)
			if err != nil {
				r.fail("Timestamp", "must be an ISO-8601 extended offset date-time such as 2016-03-14T01:59:00Z")
			}
			s.timestamp, s.hasTimestamp = t, true
		}
	}
	if r.has("TimestampPath") {
		set++
		s.timestampPath = r.referencePath("TimestampPath")
	}
	if r.err == nil && set != 1 {
		r.fail("Seconds", "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp and TimestampPath")
	}
	return s
}

func (p *parser) choice(r *reader, b stateBase) *choiceState {
	s := &choiceState{stateBase: b}
	raw, ok := r.fields["Choices"]
	if !ok {
		r.fail("Choices", "is required")
		return s
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || len(items) == 0 {
		r.fail("Choices", "must be a non-empty array of choice rules")
		return s
	}
	for i, item := range items {
		rule, err := parseChoiceRule(b.name, fmt.Sprintf("Choices[%d]", i), item, true)
		if err != nil {
			r.setErr(err)
			return s
		}
		s.choices = append(s.choices, rule)
	}
	s.defaultNext = r.str("Default")
	return s
}

func (p *parser) mapState(r *reader, b stateBase) *mapState {
	s := &mapState{stateBase: b}
	s.itemsPath = r.referencePath("ItemsPath")
	if r.has("ItemSelector") && r.has("Parameters") {
		r.fail("Parameters", "ItemSelector and Parameters are mutually exclusive")
	}
	s.itemSelector = r.template("ItemSelector")
	if s.itemSelector == nil {
		s.itemSelector = r.template("Parameters")
	}
	s.resultSelector = r.template("ResultSelector")
	s.resultPath = r.resultPath("ResultPath")
	s.retry = r.retry()
	s.catch = r.catch()
	s.maxConcurrency = r.integer("MaxConcurrency", 0, maxTimeoutSeconds)
	s.maxConcurrencyPath = r.referencePath("MaxConcurrencyPath")
	if r.has("MaxConcurrency") && r.has("MaxConcurrencyPath") {
		r.fail("MaxConcurrencyPath", "MaxConcurrency and MaxConcurrencyPath are mutually exclusive")
	}
	field := "ItemProcessor"
	switch {
	case r.has("ItemProcessor") && r.has("Iterator"):
		r.fail("Iterator", "ItemProcessor and Iterator are mutually exclusive")
		return s
	case r.has("Iterator"):
		field = "Iterator"
	case !r.has("ItemProcessor"):
		r.fail("ItemProcessor", "is required")
		return s
	}
	if r.err != nil {
		return s
	}
	fields, err := objectFields(b.name, field, r.fields[field])
	if err != nil {
		r.setErr(err)
		return s
	}
	mode := modeInline
	for _, k := range sortedKeys(fields) {
		switch k {
		case "StartAt", "States", "Comment":
		case "ProcessorConfig":
			if field == "Iterator" {
				r.setErr(&UnsupportedError{State: b.name, Field: field + "." + k})
				return s
			}
			if mode, err = checkProcessorConfig(b.name, field+"."+k, fields[k]); err != nil {
				r.setErr(err)
				return s
			}
		default:
			r.setErr(&UnsupportedError{State: b.name, Field: field + "." + k})
			return s
		}
	}
	if mode == modeDistributed {
		s.dist = p.distributed(r, b.name)
	} else {
		for _, k := range distributedOnlyFields {
			if r.has(k) {
				r.fail(k, "is only allowed when ItemProcessor.ProcessorConfig.Mode is DISTRIBUTED")
				return s
			}
		}
	}
	if r.err != nil {
		return s
	}
	s.processor, err = p.stateSet(b.name, field, fields)
	if err != nil {
		r.setErr(err)
		return s
	}
	if s.dist != nil {
		s.dist.processorDef = &Definition{machine: s.processor, raw: string(r.fields[field])}
	}
	return s
}

// checkProcessorConfig reads ItemProcessor.ProcessorConfig and returns the
// processing mode. A distributed Map must name its child executions' type;
// only STANDARD children are run, since an Express workflow cannot wait for
// a task token.
func checkProcessorConfig(state, where string, raw json.RawMessage) (string, error) {
	fields, err := objectFields(state, where, raw)
	if err != nil {
		return "", err
	}
	mode := modeInline
	execType := ""
	for _, k := range sortedKeys(fields) {
		var v string
		if k == "Mode" || k == "ExecutionType" {
			if err := json.Unmarshal(fields[k], &v); err != nil {
				return "", &ValidationError{State: state, Field: where + "." + k, Message: "must be a string"}
			}
		}
		switch k {
		case "Mode":
			if v != modeInline && v != modeDistributed {
				return "", &ValidationError{State: state, Field: where + ".Mode", Message: "must be INLINE or DISTRIBUTED"}
			}
			mode = v
		case "ExecutionType":
			execType = v
		default:
			return "", &UnsupportedError{State: state, Field: where + "." + k}
		}
	}
	switch {
	case mode == modeInline && execType != "":
		return "", &ValidationError{State: state, Field: where + ".ExecutionType", Message: "is only allowed when Mode is DISTRIBUTED"}
	case mode == modeDistributed && execType == "":
		return "", &ValidationError{State: state, Field: where + ".ExecutionType", Message: "is required when Mode is DISTRIBUTED (STANDARD or EXPRESS)"}
	case execType == "EXPRESS":
		return "", &UnsupportedError{State: state, Field: where + ".ExecutionType",
			Reason: "EXPRESS child executions are not supported: an Express workflow cannot wait for a task token; use STANDARD"}
	case execType != "" && execType != "STANDARD":
		return "", &ValidationError{State: state, Field: where + ".ExecutionType", Message: "must be STANDARD or EXPRESS"}
	}
	return mode, nil
}

func (p *parser) parallel(r *reader, b stateBase) *parallelState {
	s := &parallelState{stateBase: b}
	s.parameters = r.template("Parameters")
	s.resultSelector = r.template("ResultSelector")
	s.resultPath = r.resultPath("ResultPath")
	s.retry = r.retry()
	s.catch = r.catch()
	raw, ok := r.fields["Branches"]
	if !ok {
		r.fail("Branches", "is required")
		return s
	}
	var branches []json.RawMessage
	if err := json.Unmarshal(raw, &branches); err != nil || len(branches) == 0 {
		r.fail("Branches", "must be a non-empty array")
		return s
	}
	for i, br := range branches {
		where := fmt.Sprintf("Branches[%d]", i)
		fields, err := objectFields(b.name, where, br)
		if err != nil {
			r.setErr(err)
			return s
		}
		for _, k := range sortedKeys(fields) {
			if k != "StartAt" && k != "States" && k != "Comment" {
				r.setErr(&UnsupportedError{State: b.name, Field: where + "." + k})
				return s
			}
		}
		set, err := p.stateSet(b.name, where, fields)
		if err != nil {
			r.setErr(err)
			return s
		}
		s.branches = append(s.branches, set)
	}
	return s
}

// reader reads typed fields of one state and keeps the first problem found.
type reader struct {
	state  string
	fields map[string]json.RawMessage
	err    error
}

func (r *reader) has(name string) bool { _, ok := r.fields[name]; return ok }

func (r *reader) fail(field, msg string) {
	r.setErr(&ValidationError{State: r.state, Field: field, Message: msg})
}

func (r *reader) setErr(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) str(name string) string {
	raw, ok := r.fields[name]
	if !ok || r.err != nil {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		r.fail(name, "must be a string")
	}
	return s
}

func (r *reader) boolean(name string) bool {
	raw, ok := r.fields[name]
	if !ok || r.err != nil {
		return false
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		r.fail(name, "must be a boolean")
	}
	return b
}

func (r *reader) integer(name string, lo, hi int64) int64 {
	raw, ok := r.fields[name]
	if !ok || r.err != nil {
		return 0
	}
	n, err := intField(r.state, name, raw, lo, hi)
	if err != nil {
		r.setErr(err)
	}
	return n
}

func (r *reader) dataPath(name string) *dataPath {
	raw, ok := r.fields[name]
	if !ok || r.err != nil {
		return nil
	}
	if string(bytes.TrimSpace(raw)) == "null" {
		return &dataPath{null: true}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		r.fail(name, "must be a string or null")
		return nil
	}
	p, err := parsePath(s)
	if err != nil {
		r.fail(name, err.Error())
		return nil
	}
	return &dataPath{p: p}
}

func (r *reader) referencePath(name string) *path {
	raw, ok := r.fields[name]
	if !ok || r.err != nil {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		r.fail(name, "must be a string")
		return nil
	}
	p, err := parsePath(s)
	if err == nil && !p.singular {
		err = fmt.Errorf("%q is not a reference path: it must designate a single node", s)
	}
	if err != nil {
		r.fail(name, err.Error())
		return nil
	}
	return p
}

func (r *reader) resultPath(name string) *resultPath {
	raw, ok := r.fields[name]
	if !ok || r.err != nil {
		return nil
	}
	rp, err := parseResultPath(r.state, name, raw)
	if err != nil {
		r.setErr(err)
	}
	return rp
}

func parseResultPath(state, field string, raw json.RawMessage) (*resultPath, error) {
	if string(bytes.TrimSpace(raw)) == "null" {
		return &resultPath{discard: true}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, &ValidationError{State: state, Field: field, Message: "must be a string or null"}
	}
	p, err := parseReferencePath(s)
	if err != nil {
		return nil, &ValidationError{State: state, Field: field, Message: err.Error()}
	}
	return &resultPath{p: p}, nil
}

func (r *reader) template(name string) *template {
	raw, ok := r.fields[name]
	if !ok || r.err != nil {
		return nil
	}
	v, err := decodeValue(raw)
	if err != nil {
		r.fail(name, "must be JSON")
		return nil
	}
	if _, ok := v.(map[string]any); !ok && name != "Parameters" {
		r.fail(name, "must be an object")
		return nil
	}
	t, err := compileTemplate(v, name)
	if err != nil {
		r.setErr(&ValidationError{State: r.state, Field: name, Message: err.Error()})
		return nil
	}
	return t
}

func (r *reader) dynamicString(name string) *dynamicString {
	s := r.str(name)
	if !r.has(name) || r.err != nil {
		return nil
	}
	d := &dynamicString{raw: s}
	var err error
	if looksLikeIntrinsic(s) {
		d.call, err = parseIntrinsic(s)
	} else {
		d.p, err = parsePath(s)
		if err == nil && !d.p.singular {
			err = fmt.Errorf("%q must designate a single node", s)
		}
	}
	if err != nil {
		r.fail(name, err.Error())
		return nil
	}
	return d
}

func (r *reader) retry() []*retrier {
	raw, ok := r.fields["Retry"]
	if !ok || r.err != nil {
		return nil
	}
	out, err := parseRetry(r.state, raw)
	if err != nil {
		r.setErr(err)
	}
	return out
}

func (r *reader) catch() []*catcher {
	raw, ok := r.fields["Catch"]
	if !ok || r.err != nil {
		return nil
	}
	out, err := parseCatch(r.state, raw)
	if err != nil {
		r.setErr(err)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// resourceSpec is a parsed Task Resource ARN.
type resourceSpec struct {
	raw          string
	lambdaARN    bool   // a bare Lambda function ARN (the legacy integration)
	lambdaInvoke bool   // arn:aws:states:::lambda:invoke[.waitForTaskToken]
	callback     bool   // .waitForTaskToken
	resourceType string // e.g. "lambda", "sqs", "aws-sdk:sfn"
	resource     string // e.g. "invoke", "invoke.waitForTaskToken"
	region       string
}

func parseResource(state, arn string) (resourceSpec, error) {
	spec := resourceSpec{raw: arn}
	parts := strings.Split(arn, ":")
	if len(parts) < 6 || parts[0] != "arn" || parts[1] == "" {
		return spec, &ValidationError{State: state, Field: "Resource", Message: fmt.Sprintf("%q is not an ARN", arn)}
	}
	spec.region = parts[3]
	switch parts[2] {
	case "lambda":
		if parts[5] != "function" || len(parts) < 7 || len(parts) > 8 || parts[6] == "" {
			return spec, &ValidationError{State: state, Field: "Resource", Message: fmt.Sprintf("%q is not a Lambda function ARN", arn)}
		}
		spec.lambdaARN = true
		spec.resourceType = "lambda"
		spec.resource = arn
		return spec, nil
	case "states":
	default:
		return spec, &UnsupportedError{State: state, Field: "Resource", Reason: fmt.Sprintf("resource %q is neither a Lambda function nor a service integration", arn)}
	}
	if parts[4] == "activity" || parts[5] == "activity" {
		return spec, &UnsupportedError{State: state, Field: "Resource", Reason: "activities are not supported"}
	}
	svc := parts[5:]
	if len(svc) < 2 {
		return spec, &ValidationError{State: state, Field: "Resource", Message: fmt.Sprintf("%q names no service action", arn)}
	}
	service := svc[0]
	action := strings.Join(svc[1:], ":")
	if service == "aws-sdk" {
		if len(svc) < 3 {
			return spec, &ValidationError{State: state, Field: "Resource", Message: fmt.Sprintf("%q names no SDK action", arn)}
		}
		service = "aws-sdk:" + svc[1]
		action = strings.Join(svc[2:], ":")
	}
	if service == "" || action == "" {
		return spec, &ValidationError{State: state, Field: "Resource", Message: fmt.Sprintf("%q names no service action", arn)}
	}
	switch {
	case strings.HasSuffix(action, ".waitForTaskToken"):
		spec.callback = true
	case strings.Contains(action, ".sync"):
		return spec, &UnsupportedError{State: state, Field: "Resource", Reason: "the .sync integration pattern is not supported"}
	case strings.Contains(action, "."):
		return spec, &UnsupportedError{State: state, Field: "Resource", Reason: fmt.Sprintf("integration pattern of %q is not supported", action)}
	}
	spec.resourceType = service
	spec.resource = action
	spec.lambdaInvoke = service == "lambda" && strings.TrimSuffix(action, ".waitForTaskToken") == "invoke"
	return spec, nil
}
