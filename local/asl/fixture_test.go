package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixtureCase is one table entry of testdata/*.json: a definition, an
// input, scripted task behaviour and what the execution must produce.
type fixtureCase struct {
	Name       string          `json:"name"`
	Definition json.RawMessage `json:"definition"`
	Input      json.RawMessage `json:"input"`
	// Functions scripts the task resources, keyed by Lambda function name
	// (or by resource ARN for other integrations). Call n gets response n;
	// the last response repeats.
	Functions map[string][]fixtureResponse `json:"functions"`
	// TimeScale speeds up the clock; 1000 by default.
	TimeScale float64 `json:"timeScale"`
	// Rand is what the injected random source returns; 0.5 by default.
	Rand *float64 `json:"rand"`

	DefinitionError *struct {
		Kind  string `json:"kind"` // "unsupported" or "validation"
		State string `json:"state"`
		Field string `json:"field"`
	} `json:"definitionError"`

	Status        string          `json:"status"` // default SUCCEEDED, or FAILED when error is set
	Output        json.RawMessage `json:"output"` // the string "<any>" matches any value
	Error         *string         `json:"error"`
	Cause         *string         `json:"cause"`
	CauseContains string          `json:"causeContains"`
	// Events counts event types; EventTypes is the exact sequence.
	Events     map[string]int `json:"events"`
	EventTypes []string       `json:"eventTypes"`
	EventCount int            `json:"eventCount"`
	// Calls counts invocations per function; Payloads lists the payloads
	// each call received.
	Calls    map[string]int                        `json:"calls"`
	Payloads map[string][]json.RawMessage          `json:"payloads"`
	Tokens   map[string]bool                       `json:"tokens"` // function -> whether a task token was passed
	Requests map[string]map[string]json.RawMessage `json:"requests"`
	// Timers lists, in order, the durations in seconds of every timer the
	// engine started (retry delays, waits, timeouts).
	Timers      []float64 `json:"timers"`
	MaxInFlight int       `json:"maxInFlight"`
	// Objects are the S3 objects an ItemReader may read, by "bucket/key";
	// the bucket "denied" refuses every read and write.
	Objects map[string]string `json:"objects"`
	// Written are exactly the objects a ResultWriter must have written,
	// by "bucket/key", as JSON.
	Written map[string]json.RawMessage `json:"written"`
}

type fixtureResponse struct {
	Return        json.RawMessage `json:"return"`
	Echo          bool            `json:"echo"`
	FunctionError *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"functionError"`
	TaskError *struct {
		Error string `json:"error"`
		Cause string `json:"cause"`
	} `json:"taskError"`
	PlainError   string           `json:"plainError"`
	DelaySeconds float64          `json:"delaySeconds"`
	Callback     *fixtureCallback `json:"callback"`
}

type fixtureCallback struct {
	AfterSeconds          float64         `json:"afterSeconds"`
	HeartbeatEverySeconds float64         `json:"heartbeatEverySeconds"`
	Heartbeats            int             `json:"heartbeats"`
	Success               json.RawMessage `json:"success"`
	Failure               *struct {
		Error string `json:"error"`
		Cause string `json:"cause"`
	} `json:"failure"`
	Never bool `json:"never"`
}

// recordingClock notes the duration of every timer it starts.
type recordingClock struct {
	inner Clock
	mu    sync.Mutex
	durs  []time.Duration
}

func (c *recordingClock) Now() time.Time { return c.inner.Now() }
func (c *recordingClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	c.durs = append(c.durs, d)
	c.mu.Unlock()
	return c.inner.NewTimer(d)
}
func (c *recordingClock) timers() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.durs...)
}

// scriptedInvoker plays back fixture responses and records what it saw.
type scriptedInvoker struct {
	t       *testing.T
	script  map[string][]fixtureResponse
	engine  *Engine
	clock   Clock
	bg      sync.WaitGroup
	mu      sync.Mutex
	calls   map[string][]TaskRequest
	flight  int
	maxSeen int
}

func (s *scriptedInvoker) key(req TaskRequest) string {
	if req.FunctionName != "" {
		return req.FunctionName
	}
	return req.Resource
}

func (s *scriptedInvoker) Invoke(ctx context.Context, req TaskRequest) (json.RawMessage, error) {
	key := s.key(req)
	s.mu.Lock()
	n := len(s.calls[key])
	s.calls[key] = append(s.calls[key], req)
	s.flight++
	s.maxSeen = max(s.maxSeen, s.flight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.flight--
		s.mu.Unlock()
	}()
	responses := s.script[key]
	if len(responses) == 0 {
		return nil, &TaskError{Name: "Lambda.ResourceNotFoundException", Cause: "Function not found: " + key}
	}
	r := responses[min(n, len(responses)-1)]
	if r.DelaySeconds > 0 && !sleep(ctx, s.clock, seconds(r.DelaySeconds)) {
		return nil, ctx.Err()
	}
	if r.Callback != nil {
		s.bg.Add(1)
		go s.answer(req.TaskToken, *r.Callback)
	}
	switch {
	case r.FunctionError != nil:
		return nil, &FunctionError{Type: r.FunctionError.Type, Message: r.FunctionError.Message}
	case r.TaskError != nil:
		return nil, &TaskError{Name: r.TaskError.Error, Cause: r.TaskError.Cause}
	case r.PlainError != "":
		return nil, errors.New(r.PlainError)
	case r.Echo:
		return req.Payload, nil
	case r.Return != nil:
		return r.Return, nil
	}
	return json.RawMessage("null"), nil
}

// answer plays a callback script against the task token.
func (s *scriptedInvoker) answer(token string, cb fixtureCallback) {
	defer s.bg.Done()
	if cb.Never {
		return
	}
	for i := 0; i < cb.Heartbeats; i++ {
		sleep(context.Background(), s.clock, seconds(cb.HeartbeatEverySeconds))
		if err := s.engine.SendTaskHeartbeat(token); err != nil {
			s.t.Logf("heartbeat %d: %v", i, err)
			return
		}
	}
	sleep(context.Background(), s.clock, seconds(cb.AfterSeconds))
	var err error
	if cb.Failure != nil {
		err = s.engine.SendTaskFailure(token, cb.Failure.Error, cb.Failure.Cause)
	} else {
		out := string(cb.Success)
		if out == "" {
			out = "{}"
		}
		err = s.engine.SendTaskSuccess(token, out)
	}
	if err != nil {
		s.t.Logf("callback: %v", err)
	}
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// counterUUID returns deterministic UUIDs.
func counterUUID() func() string {
	var mu sync.Mutex
	n := 0
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		n++
		return fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
	}
}

const (
	testStateMachineArn = "arn:aws:states:us-east-1:123456789012:stateMachine:fixture"
	testRoleArn         = "arn:aws:iam::123456789012:role/fixture"
)

func TestFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var cases []fixtureCase
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cases); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		base := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(base, func(t *testing.T) {
			t.Parallel()
			// Cases of a file run one after another: the timing-sensitive
			// ones keep their margins when the machine is busy.
			for _, tc := range cases {
				t.Run(tc.Name, func(t *testing.T) { runFixture(t, tc) })
			}
		})
	}
}

func runFixture(t *testing.T, tc fixtureCase) {
	def, err := Parse(tc.Definition)
	if tc.DefinitionError != nil {
		checkDefinitionError(t, err, tc)
		return
	}
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	scale := tc.TimeScale
	if scale == 0 {
		scale = 1000
	}
	clock := &recordingClock{inner: ScaledClock(RealClock{}, scale)}
	rnd := 0.5
	if tc.Rand != nil {
		rnd = *tc.Rand
	}
	inv := &scriptedInvoker{t: t, script: tc.Functions, clock: clock, calls: map[string][]TaskRequest{}}
	objects := newMemObjects(tc.Objects)
	eng := New(Options{Invoker: inv, Clock: clock, Rand: func() float64 { return rnd }, NewUUID: counterUUID(), Objects: objects})
	inv.engine = eng
	defer func() {
		eng.Close()
		inv.bg.Wait()
	}()
	input := string(tc.Input)
	x, err := eng.Start(StartInput{
		Definition: def, StateMachineArn: testStateMachineArn, Name: "run",
		ExecutionArn: "arn:aws:states:us-east-1:123456789012:execution:fixture:run",
		Input:        input, RoleArn: testRoleArn,
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	info, err := x.Wait(ctx)
	if err != nil {
		t.Fatalf("execution did not end: %v\n%s", err, historyText(x.History()))
	}
	history := x.History()
	want := tc.Status
	if want == "" {
		want = string(StatusSucceeded)
		if tc.Error != nil {
			want = string(StatusFailed)
		}
	}
	if string(info.Status) != want {
		t.Fatalf("status %s (error %q cause %q), want %s\n%s", info.Status, info.Error, info.Cause, want, historyText(history))
	}
	if tc.Output != nil {
		checkJSON(t, "output", info.Output, tc.Output)
	}
	if tc.Error != nil && info.Error != *tc.Error {
		t.Errorf("error %q, want %q (cause %q)", info.Error, *tc.Error, info.Cause)
	}
	if tc.Cause != nil && info.Cause != *tc.Cause {
		t.Errorf("cause %q, want %q", info.Cause, *tc.Cause)
	}
	if tc.CauseContains != "" && !strings.Contains(info.Cause, tc.CauseContains) {
		t.Errorf("cause %q does not contain %q", info.Cause, tc.CauseContains)
	}
	checkHistory(t, tc, history)
	checkCalls(t, tc, inv)
	if tc.Written != nil {
		checkWritten(t, objects, tc.Written)
	}
	if tc.Timers != nil {
		got := clock.timers()
		var gotSecs []float64
		for _, d := range got {
			gotSecs = append(gotSecs, d.Seconds())
		}
		if fmt.Sprint(gotSecs) != fmt.Sprint(tc.Timers) {
			t.Errorf("timers %v s, want %v s", gotSecs, tc.Timers)
		}
	}
	if tc.MaxInFlight > 0 && inv.maxSeen != tc.MaxInFlight {
		t.Errorf("at most %d invocations ran at once, want %d", inv.maxSeen, tc.MaxInFlight)
	}
}

func checkDefinitionError(t *testing.T, err error, tc fixtureCase) {
	t.Helper()
	want := tc.DefinitionError
	switch want.Kind {
	case "unsupported":
		var ue *UnsupportedError
		if !errors.As(err, &ue) {
			t.Fatalf("error %v, want *UnsupportedError", err)
		}
		if ue.State != want.State || ue.Field != want.Field {
			t.Fatalf("unsupported state %q field %q, want state %q field %q (%v)", ue.State, ue.Field, want.State, want.Field, err)
		}
	case "validation":
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("error %v, want *ValidationError", err)
		}
		if ve.State != want.State || (want.Field != "" && ve.Field != want.Field) {
			t.Fatalf("validation state %q field %q, want state %q field %q (%v)", ve.State, ve.Field, want.State, want.Field, err)
		}
	default:
		t.Fatalf("unknown definitionError kind %q", want.Kind)
	}
	if !strings.Contains(err.Error(), want.Field) {
		t.Errorf("message %q does not name the field %q", err.Error(), want.Field)
	}
}

func checkHistory(t *testing.T, tc fixtureCase, history []HistoryEvent) {
	t.Helper()
	counts := map[string]int{}
	var types []string
	for i, ev := range history {
		counts[ev.Type]++
		types = append(types, ev.Type)
		if ev.ID != int64(i+1) {
			t.Errorf("event %d has id %d", i, ev.ID)
		}
		if ev.PreviousEventID >= ev.ID || ev.PreviousEventID < 0 {
			t.Errorf("event %d (%s) has previousEventId %d", ev.ID, ev.Type, ev.PreviousEventID)
		}
	}
	for typ, n := range tc.Events {
		if counts[typ] != n {
			t.Errorf("%d %s events, want %d\n%s", counts[typ], typ, n, historyText(history))
		}
	}
	if tc.EventTypes != nil && strings.Join(types, " ") != strings.Join(tc.EventTypes, " ") {
		t.Errorf("events\n got  %v\n want %v", types, tc.EventTypes)
	}
	if tc.EventCount > 0 && len(history) != tc.EventCount {
		t.Errorf("%d events, want %d\n%s", len(history), tc.EventCount, historyText(history))
	}
}

func checkCalls(t *testing.T, tc fixtureCase, inv *scriptedInvoker) {
	t.Helper()
	inv.mu.Lock()
	defer inv.mu.Unlock()
	for fn, n := range tc.Calls {
		if len(inv.calls[fn]) != n {
			t.Errorf("%s called %d times, want %d", fn, len(inv.calls[fn]), n)
		}
	}
	for fn, payloads := range tc.Payloads {
		calls := inv.calls[fn]
		if len(calls) != len(payloads) {
			t.Errorf("%s called %d times, want %d payloads", fn, len(calls), len(payloads))
			continue
		}
		for i, p := range payloads {
			checkJSON(t, fmt.Sprintf("%s payload %d", fn, i), string(calls[i].Payload), p)
		}
	}
	for fn, want := range tc.Tokens {
		for i, c := range inv.calls[fn] {
			if (c.TaskToken != "") != want {
				t.Errorf("%s call %d: task token %q, want present=%v", fn, i, c.TaskToken, want)
			}
		}
	}
	for fn, fields := range tc.Requests {
		if len(inv.calls[fn]) == 0 {
			t.Errorf("%s was not called", fn)
			continue
		}
		got, err := json.Marshal(inv.calls[fn][0])
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(got, &m); err != nil {
			t.Fatal(err)
		}
		for k, v := range fields {
			checkJSON(t, fn+" request "+k, string(m[k]), v)
		}
	}
}

// checkJSON compares JSON texts; in want, the string "<any>" matches any
// value.
func checkJSON(t *testing.T, what, got string, want json.RawMessage) {
	t.Helper()
	g, err := decodeValue([]byte(got))
	if err != nil {
		t.Errorf("%s: %q is not JSON: %v", what, got, err)
		return
	}
	w, err := decodeValue(want)
	if err != nil {
		t.Fatalf("%s: fixture is not JSON: %v", what, err)
	}
	if !matchJSON(w, g) {
		t.Errorf("%s\n got  %s\n want %s", what, got, string(want))
	}
}

func matchJSON(want, got any) bool {
	if s, ok := want.(string); ok && s == "<any>" {
		return true
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok || !matchJSON(wv, gv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !matchJSON(w[i], g[i]) {
				return false
			}
		}
		return true
	}
	return equalValues(want, got)
}

func historyText(events []HistoryEvent) string {
	var b strings.Builder
	for _, ev := range events {
		data, _ := json.Marshal(ev)
		b.WriteString(string(data))
		b.WriteByte('\n')
	}
	return b.String()
}
