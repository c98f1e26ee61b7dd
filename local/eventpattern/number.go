package eventpattern

import (
	"strconv"
	"strings"
)

// maxExponentDigits bounds the exponent of a number kept in exact decimal
// form; larger exponents are far outside anything an event carries.
const maxExponentDigits = 9

// number is a JSON number in two forms: an exact canonical decimal (for
// equality, so 300, 3e2 and 300.0 are equal) and a float64 (for ordering).
type number struct {
	text string
	// exact is the canonical decimal "[-]digits e exp" with no leading or
	// trailing zeros in digits; empty when the exponent is out of bounds, in
	// which case equality falls back to the literal text.
	exact string
	float float64 // ±Inf when beyond the float64 range
}

// parseNumber validates JSON number syntax and returns both forms.
func parseNumber(text string) (number, bool) {
	neg, intPart, fracPart, expPart, ok := splitNumber(text)
	if !ok {
		return number{}, false
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !isRangeError(err) {
		return number{}, false
	}
	return number{text: text, exact: canonicalDecimal(neg, intPart, fracPart, expPart), float: f}, true
}

// numberFromFloat builds a number from an already decoded float64. NaN and
// infinities have no JSON form; they keep only their text for equality.
func numberFromFloat(f float64) number {
	text := strconv.FormatFloat(f, 'g', -1, 64)
	if n, ok := parseNumber(text); ok {
		return n
	}
	return number{text: text, float: f}
}

func (n number) equal(o number) bool {
	if n.exact != "" && o.exact != "" {
		return n.exact == o.exact
	}
	return n.text == o.text
}

// key is a map key under which equal numbers collide.
func (n number) key() string {
	if n.exact != "" {
		return n.exact
	}
	return "text:" + n.text
}

func isRangeError(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// splitNumber checks the JSON number grammar
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and returns its parts.
func splitNumber(s string) (neg bool, intPart, fracPart, expPart string, ok bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	start := i
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return false, "", "", "", false
	}
	intPart = s[start:i]
	if i < len(s) && s[i] == '.' {
		i++
		start = i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == start {
			return false, "", "", "", false
		}
		fracPart = s[start:i]
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		start = i
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		digits := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == digits {
			return false, "", "", "", false
		}
		expPart = s[start:i]
	}
	if i != len(s) {
		return false, "", "", "", false
	}
	return neg, intPart, fracPart, expPart, true
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// canonicalDecimal writes digits×10^exp with the digits stripped of leading
// and trailing zeros, or "" when the exponent is out of bounds.
func canonicalDecimal(neg bool, intPart, fracPart, expPart string) string {
	exp := 0
	if expPart != "" {
		sign := 1
		e := expPart
		if e[0] == '+' || e[0] == '-' {
			if e[0] == '-' {
				sign = -1
			}
			e = e[1:]
		}
		e = strings.TrimLeft(e, "0")
		if len(e) > maxExponentDigits {
			return ""
		}
		if e != "" {
			v, err := strconv.Atoi(e)
			if err != nil {
				return ""
			}
			exp = sign * v
		}
	}
	digits := strings.TrimLeft(intPart+fracPart, "0")
	if digits == "" {
		return "0"
	}
	exp -= len(fracPart)
	trimmed := strings.TrimRight(digits, "0")
	exp += len(digits) - len(trimmed)
	sign := ""
	if neg {
		sign = "-"
	}
	return sign + trimmed + "e" + strconv.Itoa(exp)
}
