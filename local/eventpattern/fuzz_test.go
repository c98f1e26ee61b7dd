package eventpattern

import (
	"errors"
	"testing"
)

// FuzzCompileMatch feeds arbitrary pattern/event pairs through Compile and
// Match. Beyond never panicking, it checks the error contract (typed errors
// only) and that String round-trips to an equivalent pattern.
func FuzzCompileMatch(f *testing.F) {
	for _, cases := range loadMatchCases(f) {
		for _, c := range cases {
			f.Add(c.patternBytes(f), c.eventBytes(f))
		}
	}
	event := readFile(f, "testdata/events/codebuild-build-state-change.json")
	for _, c := range loadInvalidCases(f) {
		f.Add(c.input(), event)
	}

	f.Fuzz(func(t *testing.T, pattern, event []byte) {
		p, err := Compile(pattern)
		if err != nil {
			var pe *PatternError
			var uo *UnsupportedOperatorError
			if !errors.As(err, &pe) && !errors.As(err, &uo) {
				t.Fatalf("Compile returned an untyped error %T: %v", err, err)
			}
			return
		}
		got, err := p.Match(event)
		if err != nil {
			var ee *EventError
			if !errors.As(err, &ee) {
				t.Fatalf("Match returned an untyped error %T: %v", err, err)
			}
			if got {
				t.Fatal("Match reported a match together with an error")
			}
		}
		again, cerr := Compile([]byte(p.String()))
		if cerr != nil {
			t.Fatalf("Compile(String()) of %q: %v", p.String(), cerr)
		}
		got2, err2 := again.Match(event)
		if got2 != got || (err == nil) != (err2 == nil) {
			t.Fatalf("recompiled pattern disagrees: %v, %v vs %v, %v", got, err, got2, err2)
		}
	})
}
