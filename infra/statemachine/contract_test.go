package statemachine

import (
	"testing"

	"github.com/crossbuild/crossbuild/internal/failure"
)

// errorNames walks the decoded definition and returns every error name it matches in a
// Retry or Catch rule (ErrorEquals) or raises from a Fail state (Error).
func errorNames(v any, into map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			switch {
			case k == "ErrorEquals":
				for _, n := range strs(val) {
					into[n] = true
				}
			case k == "Error" && x["Type"] == "Fail":
				into[val.(string)] = true
			default:
				errorNames(val, into)
			}
		}
	case []any:
		for _, e := range x {
			errorNames(e, into)
		}
	}
}

// The definition and failure's table name the same errors: a name the definition matches
// has an entry (a Go failure type for the functions' names), and every entry is matched
// somewhere, except those left to States.ALL on purpose, which must not be named.
func TestErrorNamesComeFromTheTable(t *testing.T) {
	used := map[string]bool{}
	errorNames(definition(t), used)
	if len(used) == 0 {
		t.Fatal("no error names found in the definition")
	}
	for name := range used {
		e, ok := failure.Lookup(name)
		switch {
		case !ok:
			t.Errorf("the definition names %q, which failure's table does not hold", name)
		case e.Origin == failure.FromFunction && e.Zero == nil:
			t.Errorf("%q is a function's error without a Go type", name)
		}
	}
	for _, e := range failure.Table {
		switch {
		case e.CatchAll && used[e.Name]:
			t.Errorf("%q is marked as left to States.ALL but the definition names it", e.Name)
		case !e.CatchAll && !used[e.Name]:
			t.Errorf("%q is in failure's table but no Retry, Catch or Fail of the definition uses it", e.Name)
		}
	}
}
