package conformance

import (
	"encoding/json"
	"testing"
)

// The rewrite for aws-local-stepfunctions moves an intrinsic ErrorPath or CausePath into a
// Pass state and leaves every other state as it was.
func TestFailCausesThroughPass(t *testing.T) {
	def := json.RawMessage(`{"StartAt": "Fail", "States": {
		"Fail": {"Type": "Fail", "ErrorPath": "$.error", "CausePath": "States.JsonToString($)"},
		"Plain": {"Type": "Fail", "Error": "E", "CausePath": "$.cause"},
		"Literal": {"Type": "Fail", "Error": "E", "CausePath": "States.Format('{}', $.n)"}}}`)
	got, err := failCausesThroughPass(def)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"StartAt": "Fail", "States": {
		"Fail": {"Type": "Pass", "Parameters": {"error.$": "$.error", "cause.$": "States.JsonToString($)"}, "Next": "Fail (fail)"},
		"Fail (fail)": {"Type": "Fail", "ErrorPath": "$.error", "CausePath": "$.cause"},
		"Plain": {"Type": "Fail", "Error": "E", "CausePath": "$.cause"},
		"Literal": {"Type": "Pass", "Parameters": {"cause.$": "States.Format('{}', $.n)"}, "Next": "Literal (fail)"},
		"Literal (fail)": {"Type": "Fail", "Error": "E", "CausePath": "$.cause"}}}`
	if same, err := sameJSON(got, json.RawMessage(want)); err != nil || !same {
		t.Fatalf("rewritten %s\nwant %s", got, want)
	}
}
