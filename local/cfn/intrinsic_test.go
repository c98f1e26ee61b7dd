package cfn

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// Every function of the intrinsics table, resolved as a template would use it, and the
// argument errors each reports.
func TestIntrinsics(t *testing.T) {
	s := load(t)
	s.Template.Conditions = map[string]any{
		"InIreland": map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "AWS::Region"}, "eu-west-1"}},
	}
	tests := []struct {
		name, in string
		want     any    // when wantErr is empty
		wantErr  string // part of the error
	}{
		{"ref", `{"Ref": "AWS::Region"}`, "eu-west-1", ""},
		{"ref needs a name", `{"Ref": 1}`, nil, "Ref takes a name"},
		{"getatt dotted", `{"Fn::GetAtt": "Bus.Name"}`, "crossbuild", ""},
		{"getatt list", `{"Fn::GetAtt": ["Bus", "Name"]}`, "crossbuild", ""},
		{"getatt one part", `{"Fn::GetAtt": "Bus"}`, nil, "needs Resource.Attribute"},
		{"join", `{"Fn::Join": ["-", ["a", 1, true]]}`, "a-1-true", ""},
		{"join needs a list", `{"Fn::Join": ["-", "a"]}`, nil, "Join needs a list"},
		{"sub", `{"Fn::Sub": "${AWS::Region}/x"}`, "eu-west-1/x", ""},
		{"select", `{"Fn::Select": ["1", ["a", "b"]]}`, "b", ""},
		{"select out of range", `{"Fn::Select": [2, ["a", "b"]]}`, nil, "out of range"},
		{"split", `{"Fn::Split": [",", "a,b"]}`, []any{"a", "b"}, ""},
		{"split needs a delimiter", `{"Fn::Split": ["", "a,b"]}`, nil, "Split needs a delimiter"},
		{"base64", `{"Fn::Base64": "hi"}`, "aGk=", ""},
		{"if", `{"Fn::If": ["InIreland", "yes", "no"]}`, "yes", ""},
		{"if takes three", `{"Fn::If": ["InIreland", "yes"]}`, nil, "If takes [condition, then, else]"},
		{"condition", `{"Condition": "InIreland"}`, true, ""},
		{"equals", `{"Fn::Equals": ["a", "b"]}`, false, ""},
		{"not", `{"Fn::Not": [{"Condition": "InIreland"}]}`, false, ""},
		{"and", `{"Fn::And": [{"Condition": "InIreland"}, {"Fn::Equals": ["a", "a"]}]}`, true, ""},
		{"or", `{"Fn::Or": [{"Fn::Equals": ["a", "b"]}, {"Condition": "InIreland"}]}`, true, ""},
		{"unsupported", `{"Fn::GetAZs": ""}`, nil, "Fn::GetAZs is not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tc.in), &v); err != nil {
				t.Fatal(err)
			}
			got, err := s.Resolve(v, "X")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Resolve(%s) = %v, %v; want an error with %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Resolve(%s) = %#v, %v; want %#v", tc.in, got, err, tc.want)
			}
		})
	}
}
