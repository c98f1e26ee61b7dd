package eventpattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// matchCase is one entry of testdata/cases/*.json. A pattern or event is
// given inline or by file name (under testdata/patterns or testdata/events).
type matchCase struct {
	Name        string          `json:"name"`
	Pattern     json.RawMessage `json:"pattern"`
	PatternFile string          `json:"patternFile"`
	Event       json.RawMessage `json:"event"`
	EventFile   string          `json:"eventFile"`
	Match       *bool           `json:"match"`
	// ExactNumbers marks cases whose outcome depends on numbers that float64
	// cannot hold exactly, so decoding the event with plain encoding/json
	// would change the question.
	ExactNumbers bool `json:"exactNumbers"`
}

func (c matchCase) patternBytes(t testing.TB) []byte {
	t.Helper()
	if c.PatternFile != "" {
		return readFile(t, filepath.Join("testdata", "patterns", c.PatternFile))
	}
	if len(c.Pattern) == 0 {
		t.Fatalf("case %q has no pattern", c.Name)
	}
	return c.Pattern
}

func (c matchCase) eventBytes(t testing.TB) []byte {
	t.Helper()
	if c.EventFile != "" {
		return readFile(t, filepath.Join("testdata", "events", c.EventFile))
	}
	if len(c.Event) == 0 {
		t.Fatalf("case %q has no event", c.Name)
	}
	return c.Event
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}

// loadMatchCases reads every case file, keyed by file base name.
func loadMatchCases(t testing.TB) map[string][]matchCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "cases", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no case files found: %v", err)
	}
	all := map[string][]matchCase{}
	for _, f := range files {
		var cases []matchCase
		if err := json.Unmarshal(readFile(t, f), &cases); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, c := range cases {
			if c.Name == "" || c.Match == nil {
				t.Fatalf("%s: case %q needs a name and an expected match", f, c.Name)
			}
		}
		all[strings.TrimSuffix(filepath.Base(f), ".json")] = cases
	}
	return all
}

func TestMatchFixtures(t *testing.T) {
	for file, cases := range loadMatchCases(t) {
		t.Run(file, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.Name, func(t *testing.T) {
					t.Parallel()
					pattern, event, want := c.patternBytes(t), c.eventBytes(t), *c.Match

					p, err := Compile(pattern)
					if err != nil {
						t.Fatalf("Compile: %v", err)
					}
					got, err := p.Match(event)
					if err != nil {
						t.Fatalf("Match: %v", err)
					}
					if got != want {
						t.Fatalf("Match = %v, want %v\npattern: %s", got, want, p)
					}

					// An event decoded by the caller matches the same way,
					// whether numbers arrive as json.Number or float64.
					assertMatchValue(t, p, decodeWithNumbers(t, event), want, "json.Number")
					if !c.ExactNumbers {
						var plain any
						if err := json.Unmarshal(event, &plain); err != nil {
							t.Fatalf("decode event: %v", err)
						}
						assertMatchValue(t, p, plain, want, "float64")
					}

					// String gives JSON that compiles to an equivalent pattern.
					again, err := Compile([]byte(p.String()))
					if err != nil {
						t.Fatalf("Compile(String()): %v", err)
					}
					if got, err := again.Match(event); err != nil || got != want {
						t.Fatalf("recompiled pattern: Match = %v, %v; want %v", got, err, want)
					}
				})
			}
		})
	}
}

func assertMatchValue(t *testing.T, p *Pattern, event any, want bool, how string) {
	t.Helper()
	got, err := p.MatchValue(event)
	if err != nil {
		t.Fatalf("MatchValue (%s numbers): %v", how, err)
	}
	if got != want {
		t.Fatalf("MatchValue (%s numbers) = %v, want %v", how, got, want)
	}
}

func decodeWithNumbers(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode event: %v", err)
	}
	return v
}

// invalidCase is one entry of testdata/invalid-patterns.json. Operator is set
// when the error must be an *UnsupportedOperatorError; otherwise Reason is a
// substring of the *PatternError's reason.
type invalidCase struct {
	Name        string          `json:"name"`
	Pattern     json.RawMessage `json:"pattern"`
	PatternText *string         `json:"patternText"`
	Path        string          `json:"path"`
	Reason      string          `json:"reason"`
	Operator    string          `json:"operator"`
}

func loadInvalidCases(t testing.TB) []invalidCase {
	t.Helper()
	var cases []invalidCase
	if err := json.Unmarshal(readFile(t, filepath.Join("testdata", "invalid-patterns.json")), &cases); err != nil {
		t.Fatalf("invalid-patterns.json: %v", err)
	}
	return cases
}

func (c invalidCase) input() []byte {
	if c.PatternText != nil {
		return []byte(*c.PatternText)
	}
	return c.Pattern
}

func TestCompileRejectsInvalidPatterns(t *testing.T) {
	for _, c := range loadInvalidCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			p, err := Compile(c.input())
			if err == nil {
				t.Fatalf("Compile accepted the pattern: %s", p)
			}
			if c.Operator != "" {
				var uo *UnsupportedOperatorError
				if !errors.As(err, &uo) {
					t.Fatalf("error %q (%T) is not an *UnsupportedOperatorError", err, err)
				}
				if uo.Path != c.Path || uo.Operator != c.Operator {
					t.Fatalf("got {Path: %q, Operator: %q}, want {Path: %q, Operator: %q}", uo.Path, uo.Operator, c.Path, c.Operator)
				}
				return
			}
			var pe *PatternError
			if !errors.As(err, &pe) {
				t.Fatalf("error %q (%T) is not a *PatternError", err, err)
			}
			if pe.Path != c.Path {
				t.Errorf("Path = %q, want %q (error: %v)", pe.Path, c.Path, err)
			}
			if !strings.Contains(pe.Reason, c.Reason) {
				t.Errorf("Reason = %q, want it to contain %q", pe.Reason, c.Reason)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		want    string
	}{
		{
			name:    "unknown operator names path and operator",
			pattern: `{"detail":{"build-status":["SUCCEEDED",{"regex":"FAIL.*"}]}}`,
			want:    `detail.build-status[1]: unknown operator "regex"`,
		},
		{
			name:    "bare value suggests the array form",
			pattern: `{"source":"aws.codebuild"}`,
			want:    `source: value must be an array of match values or a nested object, got string "aws.codebuild" (write ["aws.codebuild"])`,
		},
		{
			name:    "whole-pattern errors say so",
			pattern: `[]`,
			want:    `event pattern: must be a JSON object, got array`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile([]byte(tt.pattern))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error = %v, want %s", err, tt.want)
			}
		})
	}
}

func TestDepthIsBounded(t *testing.T) {
	nested := func(levels int, leaf string) []byte {
		return []byte(strings.Repeat(`{"a":`, levels) + leaf + strings.Repeat(`}`, levels))
	}
	t.Run("pattern", func(t *testing.T) {
		_, err := Compile(nested(MaxDepth+5, `["x"]`))
		var pe *PatternError
		if !errors.As(err, &pe) || !errors.Is(err, ErrTooDeep) {
			t.Fatalf("error = %v, want a *PatternError wrapping ErrTooDeep", err)
		}
		if !strings.HasPrefix(pe.Path, "a.a.a.") {
			t.Errorf("Path = %q, want the path of the deep part", pe.Path)
		}
	})
	t.Run("pattern at the limit", func(t *testing.T) {
		if _, err := Compile(nested(MaxDepth-1, `["x"]`)); err != nil {
			t.Fatalf("Compile: %v", err)
		}
	})
	t.Run("event", func(t *testing.T) {
		p := mustCompile(t, `{"a":["x"]}`)
		_, err := p.Match(nested(MaxDepth+5, `"x"`))
		var ee *EventError
		if !errors.As(err, &ee) || !errors.Is(err, ErrTooDeep) {
			t.Fatalf("error = %v, want an *EventError wrapping ErrTooDeep", err)
		}
	})
	t.Run("deep event arrays", func(t *testing.T) {
		p := mustCompile(t, `{"a":["x"]}`)
		deep := `{"a":` + strings.Repeat("[", MaxDepth+5) + `"x"` + strings.Repeat("]", MaxDepth+5) + `}`
		if _, err := p.Match([]byte(deep)); !errors.Is(err, ErrTooDeep) {
			t.Fatalf("error = %v, want ErrTooDeep", err)
		}
	})
	t.Run("cyclic Go value", func(t *testing.T) {
		p := mustCompile(t, `{"a":["x"]}`)
		cycle := []any{nil}
		cycle[0] = cycle
		if _, err := p.MatchValue(map[string]any{"a": cycle}); !errors.Is(err, ErrTooDeep) {
			t.Fatalf("error = %v, want ErrTooDeep", err)
		}
	})
}

func TestMatchRejectsBadEvents(t *testing.T) {
	p := mustCompile(t, `{"source":["aws.codebuild"]}`)
	tests := []struct {
		name   string
		event  string
		reason string
	}{
		{"malformed JSON", `{"source": "aws.codebuild"`, "invalid JSON"},
		{"syntax error", `{"source": aws}`, "invalid JSON at offset"},
		{"empty input", ``, "unexpected end of input"},
		{"top level array", `["aws.codebuild"]`, "must be a JSON object, got array"},
		{"top level string", `"aws.codebuild"`, "must be a JSON object, got string"},
		{"trailing data", `{"source": "aws.codebuild"} {}`, "unexpected data after the JSON value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := p.Match([]byte(tt.event))
			var ee *EventError
			if !errors.As(err, &ee) {
				t.Fatalf("Match = %v, %v; want an *EventError", ok, err)
			}
			if ok || !strings.Contains(ee.Reason, tt.reason) {
				t.Fatalf("Match = %v, %q; want false and a reason containing %q", ok, ee.Reason, tt.reason)
			}
		})
	}
}

func TestMatchValueInputs(t *testing.T) {
	p := mustCompile(t, `{"detail":{"count":[{"numeric":[">",9]}],"id":[12345678901234567890]}}`)
	tests := []struct {
		name    string
		event   any
		want    bool
		wantErr bool
	}{
		{"int and uint64", map[string]any{"detail": map[string]any{"count": 10, "id": uint64(12345678901234567890)}}, true, false},
		{"int64 below the bound", map[string]any{"detail": map[string]any{"count": int64(9), "id": uint64(12345678901234567890)}}, false, false},
		{"float32", map[string]any{"detail": map[string]any{"count": float32(9.5), "id": json.Number("12345678901234567890")}}, true, false},
		{"unsupported Go type", map[string]any{"detail": map[string]any{"count": struct{}{}}}, false, true},
		{"invalid json.Number", map[string]any{"detail": map[string]any{"count": json.Number("ten")}}, false, true},
		{"not an object", []any{"x"}, false, true},
		{"nil", nil, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.MatchValue(tt.event)
			if tt.wantErr {
				var ee *EventError
				if !errors.As(err, &ee) {
					t.Fatalf("MatchValue = %v, %v; want an *EventError", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("MatchValue = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestNilPattern(t *testing.T) {
	var p *Pattern
	if _, err := p.Match([]byte(`{}`)); err == nil {
		t.Fatal("Match on a nil *Pattern succeeded")
	}
	if _, err := p.MatchValue(map[string]any{}); err == nil {
		t.Fatal("MatchValue on a nil *Pattern succeeded")
	}
	if p.String() != "<nil>" {
		t.Fatalf("String = %q", p.String())
	}
}

func TestStringKeepsThePattern(t *testing.T) {
	in := "{\n  \"source\": [ \"aws.codebuild\" ],\n  \"detail\": { \"build-status\": [ { \"anything-but\": \"IN_PROGRESS\" } ], \"n\": [3.0e2] }\n}\n"
	want := `{"source":["aws.codebuild"],"detail":{"build-status":[{"anything-but":"IN_PROGRESS"}],"n":[3.0e2]}}`
	if got := mustCompile(t, in).String(); got != want {
		t.Fatalf("String = %s, want %s", got, want)
	}
}

// TestConcurrentMatch shows a compiled Pattern is safe to share; run with -race.
func TestConcurrentMatch(t *testing.T) {
	p := mustCompile(t, string(readFile(t, filepath.Join("testdata", "patterns", "codebuild-build-state-change.json"))))
	event := readFile(t, filepath.Join("testdata", "events", "codebuild-build-state-change.json"))
	done := make(chan error)
	for range 8 {
		go func() {
			for range 50 {
				if ok, err := p.Match(event); err != nil || !ok {
					done <- errors.New("concurrent match failed")
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func mustCompile(t testing.TB, pattern string) *Pattern {
	t.Helper()
	p, err := Compile([]byte(pattern))
	if err != nil {
		t.Fatalf("Compile(%s): %v", pattern, err)
	}
	return p
}
