package asl

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary definitions to the parser: it must return a
// definition or an error, never panic.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var cases []struct {
			Definition json.RawMessage `json:"definition"`
		}
		if err := json.Unmarshal(data, &cases); err != nil {
			f.Fatal(err)
		}
		for _, c := range cases {
			f.Add(string(c.Definition))
		}
	}
	f.Add(`{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"a.$":"States.Format('{}', $..x[?(@.y)])"},"End":true}}}`)
	f.Fuzz(func(t *testing.T, def string) {
		d, err := Parse([]byte(def))
		if err == nil && (d == nil || d.machine == nil) {
			t.Fatal("no error and no definition")
		}
	})
}

// FuzzIntrinsic parses arbitrary intrinsic expressions and evaluates the
// ones that parse against a fixed document: errors are fine, panics are not.
func FuzzIntrinsic(f *testing.F) {
	for _, seed := range []string{
		"States.Format('Hello, {}!', $.name)",
		"States.Format('\\{\\} \\' \\\\ {}', 'x')",
		"States.StringToJson($.json)",
		"States.JsonToString($.obj)",
		"States.Array(1, 'a', true, null, $.arr)",
		"States.ArrayPartition($.arr, 2)",
		"States.ArrayContains($.arr, 3)",
		"States.ArrayRange(1, 9, 2)",
		"States.ArrayGetItem($.arr, -1)",
		"States.ArrayLength($.arr)",
		"States.ArrayUnique($.arr)",
		"States.Base64Encode($.name)",
		"States.Base64Decode('QUJD')",
		"States.Hash($.name, 'SHA-256')",
		"States.JsonMerge($.obj, $.obj, false)",
		"States.MathRandom(1, 9223372036854775807, 3)",
		"States.MathAdd(9223372036854775807, 1)",
		"States.StringSplit($.name, 'a')",
		"States.UUID()",
		"States.Format('{}', States.ArrayGetItem(States.StringSplit($.name, ','), 0))",
		"States.Array($$.Execution.Id, $.arr[*], $..name)",
	} {
		f.Add(seed)
	}
	doc, err := decodeValue([]byte(`{"name":"Ada,Lovelace","json":"{\"a\":1}","obj":{"k":[1,2]},"arr":[1,2,3,3,{"x":null}]}`))
	if err != nil {
		f.Fatal(err)
	}
	ctx := map[string]any{"Execution": map[string]any{"Id": "arn"}}
	f.Fuzz(func(t *testing.T, src string) {
		call, err := parseIntrinsic(src)
		if err != nil {
			return
		}
		v, err := call.eval(&intrinsicEnv{data: doc, ctx: ctx, rand: func() float64 { return 0.999 }, uuid: NewUUID})
		if err == nil {
			if _, err := encodeValue(v); err != nil {
				t.Fatalf("%s produced an unencodable value %#v: %v", src, v, err)
			}
		}
	})
}
