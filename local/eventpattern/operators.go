package eventpattern

import (
	"math"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// kind is the JSON type of a leaf value.
type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
)

// scalar is one leaf value of an event.
type scalar struct {
	kind kind
	str  string // kindString
	b    bool   // kindBool
	num  number // kindNumber
}

// valueMatcher tests one leaf value.
type valueMatcher interface {
	matches(v scalar) bool
}

type exactString string

func (m exactString) matches(v scalar) bool { return v.kind == kindString && v.str == string(m) }

type exactNumber struct{ n number }

func (m exactNumber) matches(v scalar) bool { return v.kind == kindNumber && v.num.equal(m.n) }

type exactBool bool

func (m exactBool) matches(v scalar) bool { return v.kind == kindBool && v.b == bool(m) }

type exactNull struct{}

func (exactNull) matches(v scalar) bool { return v.kind == kindNull }

type prefixMatcher struct {
	prefix     string
	ignoreCase bool
}

func (m prefixMatcher) matches(v scalar) bool {
	return v.kind == kindString && hasPrefix(v.str, m.prefix, m.ignoreCase)
}

type suffixMatcher struct {
	suffix     string
	ignoreCase bool
}

func (m suffixMatcher) matches(v scalar) bool {
	return v.kind == kindString && hasSuffix(v.str, m.suffix, m.ignoreCase)
}

type equalsIgnoreCase string

func (m equalsIgnoreCase) matches(v scalar) bool {
	return v.kind == kindString && strings.EqualFold(v.str, string(m))
}

type wildcardMatcher struct{ w wildcardPattern }

func (m wildcardMatcher) matches(v scalar) bool { return v.kind == kindString && m.w.match(v.str) }

// numericRange is an interval with optional, open or closed, ends.
type numericRange struct {
	hasLow, lowInclusive   bool
	low                    float64
	hasHigh, highInclusive bool
	high                   float64
}

func (m numericRange) matches(v scalar) bool {
	if v.kind != kindNumber {
		return false
	}
	f := v.num.float
	if math.IsNaN(f) { // only reachable through MatchValue; NaN is in no range
		return false
	}
	if m.hasLow && (f < m.low || (f == m.low && !m.lowInclusive)) {
		return false
	}
	if m.hasHigh && (f > m.high || (f == m.high && !m.highInclusive)) {
		return false
	}
	return true
}

type cidrMatcher struct{ prefix netip.Prefix }

func (m cidrMatcher) matches(v scalar) bool {
	if v.kind != kindString {
		return false
	}
	addr, err := netip.ParseAddr(v.str)
	if err != nil {
		return false
	}
	if m.prefix.Addr().Is4() {
		addr = addr.Unmap()
	}
	return m.prefix.Contains(addr)
}

// anythingBut inverts a set of excluded-value matchers: a leaf value matches
// when none of them describes it. Values of a JSON type the exclusions cannot
// describe therefore pass, as in AWS's engine.
type anythingBut struct{ excluded []valueMatcher }

func (m anythingBut) matches(v scalar) bool {
	for _, x := range m.excluded {
		if x.matches(v) {
			return false
		}
	}
	return true
}

// stringSet and numberSet make long anything-but lists cheap to test.
type stringSet map[string]struct{}

func (m stringSet) matches(v scalar) bool {
	if v.kind != kindString {
		return false
	}
	_, ok := m[v.str]
	return ok
}

type numberSet map[string]struct{}

func (m numberSet) matches(v scalar) bool {
	if v.kind != kindNumber {
		return false
	}
	_, ok := m[v.num.key()]
	return ok
}

func hasPrefix(s, prefix string, ignoreCase bool) bool {
	if !ignoreCase {
		return strings.HasPrefix(s, prefix)
	}
	for _, pr := range prefix {
		sr, size := utf8.DecodeRuneInString(s)
		if size == 0 || !equalFoldRune(sr, pr) {
			return false
		}
		s = s[size:]
	}
	return true
}

func hasSuffix(s, suffix string, ignoreCase bool) bool {
	if !ignoreCase {
		return strings.HasSuffix(s, suffix)
	}
	for len(suffix) > 0 {
		pr, psize := utf8.DecodeLastRuneInString(suffix)
		sr, ssize := utf8.DecodeLastRuneInString(s)
		if ssize == 0 || !equalFoldRune(sr, pr) {
			return false
		}
		suffix, s = suffix[:len(suffix)-psize], s[:len(s)-ssize]
	}
	return true
}

// equalFoldRune compares two runes under Unicode simple case folding, the
// same relation strings.EqualFold uses.
func equalFoldRune(a, b rune) bool {
	if a == b {
		return true
	}
	var buf [2 * utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], a)
	m := utf8.EncodeRune(buf[n:], b)
	return strings.EqualFold(string(buf[:n]), string(buf[n:n+m]))
}
