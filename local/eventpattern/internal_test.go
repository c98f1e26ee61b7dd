package eventpattern

import (
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		wildcard, value string
		want            bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"abc", "abc", true},
		{"abc", "abcd", false},
		{"a*", "a", true},
		{"*c", "abc", true},
		{"a*c", "ac", true},
		{"a*c", "ab", false},
		{"a*b*c", "a-b-c", true},
		{"a*b*c", "a-c-b", false},
		{"*ab*ab*", "xabyab", true},
		{"*ab*ab*", "xab", false},
		{"ab*ba", "aba", false},
		{"ab*ba", "abba", true},
		{`a\*b`, "a*b", true},
		{`a\*b`, "axb", false},
		{`a\\*`, `a\x`, true},
		{`\**`, "*star", true},
		{`\**`, "star", false},
		{"é*ü", "éaü", true},
		{"*ü", "aü", true},
	}
	for _, tt := range tests {
		w, reason := parseWildcard(tt.wildcard)
		if reason != "" {
			t.Fatalf("parseWildcard(%q): %s", tt.wildcard, reason)
		}
		if got := w.match(tt.value); got != tt.want {
			t.Errorf("wildcard %q on %q = %v, want %v", tt.wildcard, tt.value, got, tt.want)
		}
	}
}

func TestParseWildcardRejects(t *testing.T) {
	for _, w := range []string{"**", "a**", "**b", "a*\\", `\a`, `a\`, "x*y**z"} {
		if _, reason := parseWildcard(w); reason == "" {
			t.Errorf("parseWildcard(%q) accepted it", w)
		}
	}
	for _, w := range []string{"*", `\*\*`, `*\**`, `\\*`, ""} {
		if _, reason := parseWildcard(w); reason != "" {
			t.Errorf("parseWildcard(%q): %s", w, reason)
		}
	}
}

func TestNumberEquality(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"300", "3e2", true},
		{"300", "300.000", true},
		{"300", "3.0E+2", true},
		{"0.5", "5e-1", true},
		{"-0", "0", true},
		{"0.0", "0e10", true},
		{"1", "-1", false},
		{"9007199254740993", "9007199254740992", false},
		{"1e1000000000000", "1e1000000000000", true},  // exponent too large: literal text
		{"1e1000000000000", "10e999999999999", false}, // literal text differs
		{"100", "1e2", true},
		{"0.000001", "1e-6", true},
	}
	for _, tt := range tests {
		a, okA := parseNumber(tt.a)
		b, okB := parseNumber(tt.b)
		if !okA || !okB {
			t.Fatalf("parseNumber(%q, %q) failed", tt.a, tt.b)
		}
		if got := a.equal(b); got != tt.want {
			t.Errorf("%s == %s: got %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := a.key() == b.key(); got != tt.want {
			t.Errorf("key(%s) == key(%s): got %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestParseNumberRejectsNonJSON(t *testing.T) {
	for _, s := range []string{"", "-", "01", "1.", ".5", "1e", "1e+", "+1", "0x10", "NaN", "Infinity", "1_000", " 1"} {
		if _, ok := parseNumber(s); ok {
			t.Errorf("parseNumber(%q) accepted it", s)
		}
	}
}

func TestFoldedAffixes(t *testing.T) {
	tests := []struct {
		s, affix       string
		prefix, suffix bool
	}{
		{"EventBridge", "eventb", true, false},
		{"EventBridge", "TBRIDGE", false, true},
		{"Évora", "évo", true, false},
		{"KELVIN", "\u212aelvin", true, true}, // the Kelvin sign folds to k
		{"ab", "abc", false, false},
		{"", "", true, true},
	}
	for _, tt := range tests {
		if got := hasPrefix(tt.s, tt.affix, true); got != tt.prefix {
			t.Errorf("hasPrefix(%q, %q) = %v, want %v", tt.s, tt.affix, got, tt.prefix)
		}
		if got := hasSuffix(tt.s, tt.affix, true); got != tt.suffix {
			t.Errorf("hasSuffix(%q, %q) = %v, want %v", tt.s, tt.affix, got, tt.suffix)
		}
	}
}

func TestPaths(t *testing.T) {
	tests := []struct{ got, want string }{
		{childPath("", "detail"), "detail"},
		{childPath("detail", "build-status"), "detail.build-status"},
		{indexPath(childPath("detail", "build-status"), 1), "detail.build-status[1]"},
		{childPath("detail", "a.b"), `detail["a.b"]`},
		{childPath("", ""), `[""]`},
		{childPath("detail", "$or"), "detail.$or"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("path %q, want %q", tt.got, tt.want)
		}
	}
}

func TestDescribeTruncatesLongValues(t *testing.T) {
	long := ""
	for range 40 {
		long += "é" // two bytes each: the cut must not split a rune
	}
	got := describe(long)
	if len(got) > 90 || !utf8.ValidString(got) || !strings.HasSuffix(got, `..."`) {
		t.Fatalf("describe = %q", got)
	}
	if got := jsonText(long); !utf8.ValidString(got) || !strings.HasSuffix(got, `..."`) {
		t.Fatalf("jsonText = %q", got)
	}
}

func TestNumberFromFloat(t *testing.T) {
	if n := numberFromFloat(300); n.key() != mustNumber(t, "3e2").key() {
		t.Errorf("300.0 key %q", n.key())
	}
	nan := numberFromFloat(math.NaN())
	atLeastZero := numericRange{hasLow: true, low: 0, lowInclusive: true}
	if nan.equal(mustNumber(t, "0")) || atLeastZero.matches(scalar{kind: kindNumber, num: nan}) {
		t.Error("NaN compared equal or in range")
	}
	inf := numberFromFloat(math.Inf(1))
	above := numericRange{hasLow: true, low: 1e300}
	if !above.matches(scalar{kind: kindNumber, num: inf}) {
		t.Error("+Inf not above 1e300")
	}
}

func mustNumber(t *testing.T, s string) number {
	t.Helper()
	n, ok := parseNumber(s)
	if !ok {
		t.Fatalf("parseNumber(%q) failed", s)
	}
	return n
}
