package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/local/asl"
)

// fixture is one case of testdata/*.json.
type fixture struct {
	Name string `json:"name"`
	// Definition is a state machine definition, or the string "app-target" for
	// the app's per-target child state machine (see appTargetDefinition).
	Definition json.RawMessage `json:"definition"`
	Input      json.RawMessage `json:"input"`
	// RawHandlers scripts the Lambda functions by name: a map of behaviours,
	// or the name of a shared set in testdata/handlers/<name>.json.
	RawHandlers json.RawMessage `json:"handlers"`
	// Want is the result the language specification and the Step Functions
	// documentation call for; the local executor must produce it.
	Want struct {
		Status string          `json:"status"`
		Output json.RawMessage `json:"output"`
		Error  string          `json:"error"`
		Cause  *string         `json:"cause"`
	} `json:"want"`
	// IgnoreCause, when set, says why the causes of the two implementations
	// are not compared (free text that neither the language nor the service
	// fixes, such as the message of States.Runtime).
	IgnoreCause string `json:"ignoreCause"`
	// Exclude, when set, says how and why aws-local-stepfunctions differs
	// and which side is right. The case must then still differ.
	Exclude string `json:"exclude"`

	id       string               // file/name
	Handlers map[string]behaviour `json:"-"`
	// reference is the definition aws-local-stepfunctions runs: Definition,
	// or for the app's child state machine the same with its Fail causes
	// computed by a Pass state (see failCausesThroughPass).
	reference json.RawMessage
}

const (
	stateMachineArn = "arn:aws:states:us-east-1:123456789012:stateMachine:conformance"
	executionName   = "run"
	executionArn    = "arn:aws:states:us-east-1:123456789012:execution:conformance:" + executionName
	roleArn         = "arn:aws:iam::123456789012:role/conformance"
	// timeScale makes Waits and retry pauses of the local executor take
	// milliseconds; runner.cjs overrides them to 0 ms.
	timeScale = 1000
	// executionTimeout bounds one local execution.
	executionTimeout = 15 * time.Second
)

// TestExpectedResults holds the local executor to the result each case
// expects, excluded cases included. It needs no Node.
func TestExpectedResults(t *testing.T) {
	for _, c := range loadFixtures(t) {
		t.Run(c.id, func(t *testing.T) {
			t.Parallel()
			got, err := runLocal(c)
			if err != nil {
				t.Fatalf("local executor: %v", err)
			}
			checkWant(t, c, got)
		})
	}
}

// TestConformance runs every case on both implementations in one Node
// process and compares what they report.
func TestConformance(t *testing.T) {
	cases := loadFixtures(t)
	tools := requireNode(t)

	reqs := make([]nodeRequest, len(cases))
	for i, c := range cases {
		reqs[i] = nodeRequest{
			Name:       c.id,
			Definition: c.reference,
			Input:      c.Input,
			// aws-local-stepfunctions fills only Execution.Input and
			// StartTime; give it the identity the local executor uses.
			Context:  map[string]any{"Execution": map[string]any{"Id": executionArn, "Name": executionName}},
			Handlers: c.Handlers,
		}
	}
	start := time.Now()
	nodeResults, err := runNode(tools, reqs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("aws-local-stepfunctions ran %d executions in %s", len(reqs), time.Since(start).Round(time.Millisecond))

	for i, c := range cases {
		node := nodeResults[i]
		t.Run(c.id, func(t *testing.T) {
			t.Parallel()
			if node.Name != c.id {
				t.Fatalf("runner.cjs answered %q for case %q", node.Name, c.id)
			}
			local, err := runLocal(c)
			if err != nil {
				t.Fatalf("local executor: %v", err)
			}
			if node.Status == "HARNESS_ERROR" {
				t.Fatalf("runner.cjs: %s", node.HarnessError)
			}
			diffs := differences(local, node, c.IgnoreCause != "")
			switch {
			case c.Exclude == "" && len(diffs) > 0:
				t.Errorf("the implementations disagree:\n  %s\nlocal/asl:               %s\naws-local-stepfunctions: %s",
					strings.Join(diffs, "\n  "), describe(local), describe(node))
			case c.Exclude != "" && len(diffs) == 0:
				t.Errorf("aws-local-stepfunctions now agrees with local/asl; drop the exclusion %q", c.Exclude)
			case c.Exclude != "":
				t.Logf("excluded (%s):\n  %s", c.Exclude, strings.Join(diffs, "\n  "))
			}
		})
	}
}

// loadFixtures reads testdata/*.json and resolves the app definition.
func loadFixtures(t *testing.T) []fixture {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in testdata: %v", err)
	}
	var app, appReference json.RawMessage
	var all []fixture
	seen := map[string]bool{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var cases []fixture
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cases); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		base := strings.TrimSuffix(filepath.Base(file), ".json")
		for _, c := range cases {
			c.id = base + "/" + c.Name
			if c.Handlers, err = loadHandlers(c.RawHandlers); err != nil {
				t.Fatalf("%s: case %q: %v", file, c.Name, err)
			}
			if err := c.validate(); err != nil {
				t.Fatalf("%s: case %q: %v", file, c.Name, err)
			}
			if seen[c.id] {
				t.Fatalf("%s: two cases named %q", file, c.Name)
			}
			seen[c.id] = true
			c.reference = c.Definition
			if string(c.Definition) == `"app-target"` {
				if app == nil {
					if app, err = appTargetDefinition(); err != nil {
						t.Fatalf("app definition: %v", err)
					}
					if appReference, err = failCausesThroughPass(app); err != nil {
						t.Fatalf("app definition for aws-local-stepfunctions: %v", err)
					}
				}
				c.Definition, c.reference = app, appReference
			}
			if len(c.Input) == 0 {
				c.Input = json.RawMessage("{}")
			}
			all = append(all, c)
		}
	}
	return all
}

// loadHandlers decodes a case's handlers, reading a named shared set from
// testdata/handlers.
func loadHandlers(raw json.RawMessage) (map[string]behaviour, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var name string
	if json.Unmarshal(raw, &name) == nil {
		data, err := os.ReadFile(filepath.Join("testdata", "handlers", name+".json"))
		if err != nil {
			return nil, fmt.Errorf("handler set %q: %w", name, err)
		}
		raw = data
	}
	var handlers map[string]behaviour
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&handlers); err != nil {
		return nil, fmt.Errorf("handlers: %w", err)
	}
	return handlers, nil
}

func (c *fixture) validate() error {
	switch {
	case c.Name == "":
		return fmt.Errorf("no name")
	case len(c.Definition) == 0:
		return fmt.Errorf("no definition")
	case c.Want.Status == "SUCCEEDED" && c.Want.Output == nil:
		return fmt.Errorf("want.output is required when the execution succeeds")
	case c.Want.Status == "FAILED" && c.Want.Error == "" && c.Want.Cause == nil:
		return fmt.Errorf("want.error or want.cause is required when the execution fails")
	case c.Want.Status != "SUCCEEDED" && c.Want.Status != "FAILED":
		return fmt.Errorf("want.status must be SUCCEEDED or FAILED, not %q", c.Want.Status)
	}
	for name, b := range c.Handlers {
		if _, err := compile(b, "handlers."+name); err != nil {
			return err
		}
	}
	return nil
}

// runLocal runs a case on the local executor with in-process handlers.
func runLocal(c fixture) (result, error) {
	def, err := asl.Parse(c.Definition)
	if err != nil {
		return result{}, fmt.Errorf("parse: %w", err)
	}
	fns, err := lambdaFunctions(c.Handlers)
	if err != nil {
		return result{}, err
	}
	eng := asl.New(asl.Options{Invoker: fns, TimeScale: timeScale, Rand: func() float64 { return 0.5 }})
	defer eng.Close()
	x, err := eng.Start(asl.StartInput{
		Definition: def, StateMachineArn: stateMachineArn, ExecutionArn: executionArn,
		Name: executionName, Input: string(c.Input), RoleArn: roleArn,
	})
	if err != nil {
		return result{}, fmt.Errorf("start: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), executionTimeout)
	defer cancel()
	info, err := x.Wait(ctx)
	if err != nil {
		return result{}, fmt.Errorf("the execution did not end within %s: %w", executionTimeout, err)
	}
	r := result{Name: c.id, Status: string(info.Status), Error: info.Error, Cause: info.Cause}
	if info.HasOutput {
		r.Output = json.RawMessage(info.Output)
	}
	return r, nil
}

// checkWant holds the local executor to the expected result.
func checkWant(t *testing.T, c fixture, got result) {
	t.Helper()
	w := c.Want
	if got.Status != w.Status {
		t.Fatalf("local/asl: status %s, want %s (%s)", got.Status, w.Status, describe(got))
	}
	if w.Output != nil {
		if same, err := sameJSON(got.Output, w.Output); err != nil || !same {
			t.Errorf("local/asl: output\n got  %s\n want %s (%v)", got.Output, w.Output, err)
		}
	}
	if w.Status == "FAILED" && got.Error != w.Error {
		t.Errorf("local/asl: error %q, want %q", got.Error, w.Error)
	}
	if w.Cause != nil && got.Cause != *w.Cause {
		t.Errorf("local/asl: cause\n got  %q\n want %q", got.Cause, *w.Cause)
	}
}

// differences lists where two results disagree.
func differences(a, b result, ignoreCause bool) []string {
	var diffs []string
	if a.Status != b.Status {
		diffs = append(diffs, fmt.Sprintf("status %s vs %s", a.Status, b.Status))
	}
	if a.Status == "SUCCEEDED" && b.Status == "SUCCEEDED" {
		if same, err := sameJSON(a.Output, b.Output); err != nil || !same {
			diffs = append(diffs, fmt.Sprintf("output %s vs %s", a.Output, b.Output))
		}
	}
	if a.Error != b.Error {
		diffs = append(diffs, fmt.Sprintf("error %q vs %q", a.Error, b.Error))
	}
	if !ignoreCause && a.Cause != b.Cause {
		diffs = append(diffs, fmt.Sprintf("cause %q vs %q", a.Cause, b.Cause))
	}
	return diffs
}

func describe(r result) string {
	switch r.Status {
	case "SUCCEEDED":
		return "SUCCEEDED " + string(r.Output)
	case "HARNESS_ERROR":
		return "HARNESS_ERROR " + r.HarnessError
	}
	return fmt.Sprintf("%s error %q cause %q", r.Status, r.Error, r.Cause)
}

// sameJSON compares two JSON texts as values: key order and number
// spelling do not matter, and the per-call parts of Lambda Invoke responses
// are masked.
func sameJSON(a, b json.RawMessage) (bool, error) {
	var va, vb any
	if err := json.Unmarshal(orNull(a), &va); err != nil {
		return false, fmt.Errorf("not JSON: %s: %w", a, err)
	}
	if err := json.Unmarshal(orNull(b), &vb); err != nil {
		return false, fmt.Errorf("not JSON: %s: %w", b, err)
	}
	return reflect.DeepEqual(maskInvokeMetadata(va), maskInvokeMetadata(vb)), nil
}

func orNull(raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return []byte("null")
	}
	return raw
}

// Placeholders of the per-call values of a Lambda Invoke response: the
// headers carry dates and request ids, which no two runs share.
const (
	maskedHeaders   = "<headers>"
	maskedRequestID = "<request-id>"
)

// maskInvokeMetadata replaces the HTTP headers and request id of every
// Lambda Invoke response (an object with StatusCode and SdkHttpMetadata)
// with placeholders.
func maskInvokeMetadata(v any) any {
	switch x := v.(type) {
	case []any:
		for i := range x {
			x[i] = maskInvokeMetadata(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = maskInvokeMetadata(x[k])
		}
		_, isResponse := x["StatusCode"]
		meta, ok := x["SdkHttpMetadata"].(map[string]any)
		if isResponse && ok {
			for _, k := range []string{"AllHttpHeaders", "HttpHeaders"} {
				if _, ok := meta[k]; ok {
					meta[k] = maskedHeaders
				}
			}
			if rm, ok := x["SdkResponseMetadata"].(map[string]any); ok {
				if _, ok := rm["RequestId"]; ok {
					rm["RequestId"] = maskedRequestID
				}
			}
		}
	}
	return v
}

func TestSameJSON(t *testing.T) {
	envelope := func(requestID, date string) string {
		return `{"StatusCode":200,"Payload":{"a":1},"SdkResponseMetadata":{"RequestId":"` + requestID + `"},` +
			`"SdkHttpMetadata":{"HttpStatusCode":200,"HttpHeaders":{"Date":"` + date + `"},"AllHttpHeaders":{"Date":["` + date + `"]}}}`
	}
	for _, tc := range []struct {
		name string
		a, b string
		same bool
	}{
		{"key order does not matter", `{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`, true},
		{"number spelling does not matter", `{"n":1.0,"m":1e2}`, `{"n":1,"m":100}`, true},
		{"array order matters", `[1,2]`, `[2,1]`, false},
		{"a missing key matters", `{"a":1}`, `{"a":1,"b":null}`, false},
		{"types matter", `{"a":"1"}`, `{"a":1}`, false},
		{"invoke metadata is masked", envelope("id-1", "Mon"), envelope("id-2", "Tue"), true},
		{"the invoke payload is not masked", envelope("id-1", "Mon"), strings.Replace(envelope("id-1", "Mon"), `"a":1`, `"a":2`, 1), false},
		{"metadata outside an invoke response is not masked", `{"SdkHttpMetadata":{"HttpHeaders":1}}`, `{"SdkHttpMetadata":{"HttpHeaders":2}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			same, err := sameJSON(json.RawMessage(tc.a), json.RawMessage(tc.b))
			if err != nil {
				t.Fatal(err)
			}
			if same != tc.same {
				t.Errorf("sameJSON(%s, %s) = %v, want %v", tc.a, tc.b, same, tc.same)
			}
		})
	}
	if _, err := sameJSON(json.RawMessage(`{`), json.RawMessage(`{}`)); err == nil {
		t.Error("sameJSON accepted text that is not JSON")
	}
}
