package eventpattern

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// Pattern is a compiled, validated event pattern. It is immutable and safe
// for concurrent use.
type Pattern struct {
	root   *objectNode
	source string // the pattern as given, compacted, for logs
}

// objectNode is a pattern object: its terms must all match (AND).
type objectNode struct {
	terms []term
}

// term is one key of a pattern object: a leaf field, a nested object, or an
// "$or" group. Exactly one of leaf, obj and or is set.
type term struct {
	field string
	leaf  *leafNode
	obj   *objectNode
	or    []*objectNode
}

// leafNode is a field whose pattern is an array: any element may match (OR).
type leafNode struct {
	existsTrue  bool // {"exists": true} is listed
	existsFalse bool // {"exists": false} is listed
	matchers    []valueMatcher
}

// operatorNames are the match operators; EventBridge refuses them as field
// names inside "$or" because they would be ambiguous there.
var operatorNames = map[string]bool{
	"anything-but": true, "cidr": true, "equals-ignore-case": true, "exists": true,
	"numeric": true, "prefix": true, "suffix": true, "wildcard": true,
}

const opEqualsIgnoreCase = "equals-ignore-case"

// Compile parses and validates an EventBridge event pattern. Errors are
// *PatternError or *UnsupportedOperatorError.
func Compile(pattern []byte) (*Pattern, error) {
	doc, derr := decodeDocument(pattern, true)
	if derr != nil {
		return nil, &PatternError{Path: derr.path, Reason: derr.reason, Err: derr.err}
	}
	obj, ok := doc.(object)
	if !ok {
		return nil, patternErrorf("", "must be a JSON object, got %s", describe(doc))
	}
	root, err := compileObject(obj, "", false)
	if err != nil {
		return nil, err
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, pattern); err != nil { // cannot fail: the input decoded
		return nil, &PatternError{Reason: "invalid JSON", Err: err}
	}
	return &Pattern{root: root, source: compact.String()}, nil
}

// String returns the pattern's JSON, compacted.
func (p *Pattern) String() string {
	if p == nil {
		return "<nil>"
	}
	return p.source
}

func compileObject(obj object, path string, inOr bool) (*objectNode, error) {
	if len(obj) == 0 {
		return nil, patternErrorf(path, "empty object is not allowed")
	}
	node := &objectNode{}
	for _, m := range obj {
		p := childPath(path, m.key)
		if m.key == "$or" {
			alts, err := compileOr(m.value, p)
			if err != nil {
				return nil, err
			}
			node.terms = append(node.terms, term{field: m.key, or: alts})
			continue
		}
		if inOr && operatorNames[m.key] {
			return nil, patternErrorf(p, "operator name %q cannot be used as a field name inside $or", m.key)
		}
		switch v := m.value.(type) {
		case []any:
			leaf, err := compileLeaf(v, p)
			if err != nil {
				return nil, err
			}
			node.terms = append(node.terms, term{field: m.key, leaf: leaf})
		case object:
			sub, err := compileObject(v, p, inOr)
			if err != nil {
				return nil, err
			}
			node.terms = append(node.terms, term{field: m.key, obj: sub})
		default:
			return nil, patternErrorf(p, "value must be an array of match values or a nested object, got %s (write [%s])",
				describe(v), jsonText(v))
		}
	}
	return node, nil
}

func compileOr(v any, path string) ([]*objectNode, error) {
	arr, ok := v.([]any)
	if !ok || len(arr) < 2 {
		return nil, patternErrorf(path, "must be an array of at least two patterns")
	}
	alts := make([]*objectNode, 0, len(arr))
	for i, el := range arr {
		obj, ok := el.(object)
		if !ok {
			return nil, patternErrorf(indexPath(path, i), "$or alternatives must be objects, got %s", describe(el))
		}
		alt, err := compileObject(obj, indexPath(path, i), true)
		if err != nil {
			return nil, err
		}
		alts = append(alts, alt)
	}
	return alts, nil
}

func compileLeaf(arr []any, path string) (*leafNode, error) {
	if len(arr) == 0 {
		return nil, patternErrorf(path, "empty array is not allowed: list at least one value")
	}
	leaf := &leafNode{}
	for i, el := range arr {
		p := indexPath(path, i)
		switch v := el.(type) {
		case string:
			leaf.matchers = append(leaf.matchers, exactString(v))
		case json.Number:
			n, err := patternNumber(v, p)
			if err != nil {
				return nil, err
			}
			leaf.matchers = append(leaf.matchers, exactNumber{n})
		case bool:
			leaf.matchers = append(leaf.matchers, exactBool(v))
		case nil:
			leaf.matchers = append(leaf.matchers, exactNull{})
		case object:
			if err := compileOperator(v, p, leaf); err != nil {
				return nil, err
			}
		default:
			return nil, patternErrorf(p, "match values must be strings, numbers, booleans, null or operator objects, got %s", describe(v))
		}
	}
	return leaf, nil
}

// compileOperator adds the matcher for one operator object such as
// {"prefix": "us-"} to leaf.
func compileOperator(obj object, path string, leaf *leafNode) error {
	name, arg, err := singleKey(obj, path)
	if err != nil {
		return err
	}
	argPath := childPath(path, name)
	var m valueMatcher
	switch name {
	case "prefix":
		s, ignoreCase, err := stringOrIgnoreCase(arg, argPath)
		if err != nil {
			return err
		}
		m = prefixMatcher{prefix: s, ignoreCase: ignoreCase}
	case "suffix":
		s, ignoreCase, err := stringOrIgnoreCase(arg, argPath)
		if err != nil {
			return err
		}
		m = suffixMatcher{suffix: s, ignoreCase: ignoreCase}
	case opEqualsIgnoreCase:
		s, ok := arg.(string)
		if !ok {
			return patternErrorf(argPath, "must be a string, got %s", describe(arg))
		}
		m = equalsIgnoreCase(s)
	case "wildcard":
		w, err := wildcardArg(arg, argPath)
		if err != nil {
			return err
		}
		m = wildcardMatcher{w}
	case "anything-but":
		ab, err := compileAnythingBut(arg, argPath)
		if err != nil {
			return err
		}
		m = ab
	case "exists":
		b, ok := arg.(bool)
		if !ok {
			return patternErrorf(argPath, "must be true or false, got %s", describe(arg))
		}
		if b {
			leaf.existsTrue = true
		} else {
			leaf.existsFalse = true
		}
		return nil
	case "numeric":
		r, err := compileNumeric(arg, argPath)
		if err != nil {
			return err
		}
		m = r
	case "cidr":
		s, ok := arg.(string)
		if !ok {
			return patternErrorf(argPath, "must be a string such as \"10.0.0.0/24\", got %s", describe(arg))
		}
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			return &PatternError{Path: argPath, Reason: fmt.Sprintf("invalid CIDR block %q", s), Err: err}
		}
		m = cidrMatcher{prefix: prefix.Masked()}
	default:
		return &UnsupportedOperatorError{Path: path, Operator: name}
	}
	leaf.matchers = append(leaf.matchers, m)
	return nil
}

// singleKey returns the only key of an operator object.
func singleKey(obj object, path string) (string, any, error) {
	switch len(obj) {
	case 0:
		return "", nil, patternErrorf(path, "empty operator object: expected one key such as \"prefix\"")
	case 1:
		return obj[0].key, obj[0].value, nil
	default:
		keys := make([]string, len(obj))
		for i, m := range obj {
			keys[i] = strconv.Quote(m.key)
		}
		return "", nil, patternErrorf(path, "operator object must have exactly one key, got %d (%s)", len(obj), strings.Join(keys, ", "))
	}
}

// stringOrIgnoreCase reads the argument of prefix and suffix: a string, or
// {"equals-ignore-case": string}.
func stringOrIgnoreCase(arg any, path string) (string, bool, error) {
	switch v := arg.(type) {
	case string:
		return v, false, nil
	case object:
		name, inner, err := singleKey(v, path)
		if err != nil {
			return "", false, err
		}
		if name != opEqualsIgnoreCase {
			return "", false, &UnsupportedOperatorError{Path: path, Operator: name}
		}
		s, ok := inner.(string)
		if !ok {
			return "", false, patternErrorf(childPath(path, name), "must be a string, got %s", describe(inner))
		}
		return s, true, nil
	default:
		return "", false, patternErrorf(path, "must be a string or {\"equals-ignore-case\": string}, got %s", describe(arg))
	}
}

func wildcardArg(arg any, path string) (wildcardPattern, error) {
	s, ok := arg.(string)
	if !ok {
		return wildcardPattern{}, patternErrorf(path, "must be a string, got %s", describe(arg))
	}
	w, reason := parseWildcard(s)
	if reason != "" {
		return wildcardPattern{}, patternErrorf(path, "invalid wildcard %q: %s", s, reason)
	}
	return w, nil
}

func compileAnythingBut(arg any, path string) (anythingBut, error) {
	switch v := arg.(type) {
	case string:
		return anythingBut{excluded: []valueMatcher{exactString(v)}}, nil
	case json.Number:
		n, err := patternNumber(v, path)
		if err != nil {
			return anythingBut{}, err
		}
		return anythingBut{excluded: []valueMatcher{exactNumber{n}}}, nil
	case []any:
		return anythingButList(v, path)
	case object:
		return anythingButOperator(v, path)
	default:
		return anythingBut{}, patternErrorf(path,
			"must be a string, a number, a list of only strings or only numbers, or an object such as {\"prefix\": \"init\"}; got %s",
			describe(arg))
	}
}

func anythingButList(list []any, path string) (anythingBut, error) {
	if len(list) == 0 {
		return anythingBut{}, patternErrorf(path, "empty array is not allowed: list at least one value")
	}
	strs, nums := stringSet{}, numberSet{}
	for i, el := range list {
		switch v := el.(type) {
		case string:
			strs[v] = struct{}{}
		case json.Number:
			n, err := patternNumber(v, indexPath(path, i))
			if err != nil {
				return anythingBut{}, err
			}
			nums[n.key()] = struct{}{}
		default:
			return anythingBut{}, patternErrorf(indexPath(path, i), "only strings and numbers can be excluded, got %s", describe(el))
		}
		if len(strs) > 0 && len(nums) > 0 {
			return anythingBut{}, patternErrorf(path, "list must hold only strings or only numbers, not both")
		}
	}
	if len(strs) > 0 {
		return anythingBut{excluded: []valueMatcher{strs}}, nil
	}
	return anythingBut{excluded: []valueMatcher{nums}}, nil
}

// anythingButOperator compiles {"anything-but": {"prefix" | "suffix" |
// "equals-ignore-case" | "wildcard": string or [strings]}}.
func anythingButOperator(obj object, path string) (anythingBut, error) {
	name, arg, err := singleKey(obj, path)
	if err != nil {
		return anythingBut{}, err
	}
	argPath := childPath(path, name)
	switch name {
	case "prefix", "suffix", opEqualsIgnoreCase, "wildcard":
	default:
		return anythingBut{}, &UnsupportedOperatorError{Path: path, Operator: name}
	}
	values, err := stringList(arg, argPath)
	if err != nil {
		return anythingBut{}, err
	}
	var ab anythingBut
	for i, s := range values {
		switch name {
		case "prefix", "suffix":
			if s == "" { // EventBridge refuses an empty prefix or suffix here
				return anythingBut{}, patternErrorf(argPath, "%s must not be empty", name)
			}
			if name == "prefix" {
				ab.excluded = append(ab.excluded, prefixMatcher{prefix: s})
			} else {
				ab.excluded = append(ab.excluded, suffixMatcher{suffix: s})
			}
		case opEqualsIgnoreCase:
			ab.excluded = append(ab.excluded, equalsIgnoreCase(s))
		case "wildcard":
			p := argPath
			if _, isList := arg.([]any); isList {
				p = indexPath(argPath, i)
			}
			w, err := wildcardArg(s, p)
			if err != nil {
				return anythingBut{}, err
			}
			ab.excluded = append(ab.excluded, wildcardMatcher{w})
		}
	}
	return ab, nil
}

// stringList reads a string or a non-empty array of strings.
func stringList(arg any, path string) ([]string, error) {
	switch v := arg.(type) {
	case string:
		return []string{v}, nil
	case []any:
		if len(v) == 0 {
			return nil, patternErrorf(path, "empty array is not allowed: list at least one value")
		}
		out := make([]string, len(v))
		for i, el := range v {
			s, ok := el.(string)
			if !ok {
				return nil, patternErrorf(indexPath(path, i), "must be a string, got %s", describe(el))
			}
			out[i] = s
		}
		return out, nil
	default:
		return nil, patternErrorf(path, "must be a string or an array of strings, got %s", describe(arg))
	}
}

// compileNumeric reads ["op", n] or [">"|">=", low, "<"|"<=", high].
func compileNumeric(arg any, path string) (numericRange, error) {
	arr, ok := arg.([]any)
	if !ok || (len(arr) != 2 && len(arr) != 4) {
		return numericRange{}, patternErrorf(path, "must be an array like [\"<\", 10] or [\">\", 0, \"<=\", 5]")
	}
	op, val, err := numericTerm(arr, 0, path)
	if err != nil {
		return numericRange{}, err
	}
	var r numericRange
	switch op {
	case "=":
		if len(arr) != 2 {
			return numericRange{}, patternErrorf(indexPath(path, 2), "\"=\" cannot be combined with another comparison")
		}
		return numericRange{hasLow: true, lowInclusive: true, low: val, hasHigh: true, highInclusive: true, high: val}, nil
	case ">", ">=":
		r.hasLow, r.lowInclusive, r.low = true, op == ">=", val
	case "<", "<=":
		if len(arr) != 2 {
			return numericRange{}, patternErrorf(indexPath(path, 0), "a range must start with the lower bound (\">\" or \">=\")")
		}
		r.hasHigh, r.highInclusive, r.high = true, op == "<=", val
	default:
		return numericRange{}, patternErrorf(indexPath(path, 0), "unknown comparison %q: use =, <, <=, > or >=", op)
	}
	if len(arr) == 2 {
		return r, nil
	}
	op, val, err = numericTerm(arr, 2, path)
	if err != nil {
		return numericRange{}, err
	}
	if op != "<" && op != "<=" {
		return numericRange{}, patternErrorf(indexPath(path, 2), "the upper bound of a range must use \"<\" or \"<=\", got %q", op)
	}
	r.hasHigh, r.highInclusive, r.high = true, op == "<=", val
	if r.low >= r.high {
		return numericRange{}, patternErrorf(path, "lower bound %v must be less than upper bound %v", r.low, r.high)
	}
	return r, nil
}

// numericTerm reads the comparison at arr[i] and the number at arr[i+1].
func numericTerm(arr []any, i int, path string) (string, float64, error) {
	op, ok := arr[i].(string)
	if !ok {
		return "", 0, patternErrorf(indexPath(path, i), "must be a comparison such as \">=\", got %s", describe(arr[i]))
	}
	num, ok := arr[i+1].(json.Number)
	if !ok {
		return "", 0, patternErrorf(indexPath(path, i+1), "must be a number, got %s", describe(arr[i+1]))
	}
	n, err := patternNumber(num, indexPath(path, i+1))
	if err != nil {
		return "", 0, err
	}
	return op, n.float, nil
}

// patternNumber parses a number written in a pattern; it must fit a float64.
func patternNumber(v json.Number, path string) (number, error) {
	n, ok := parseNumber(string(v))
	if !ok {
		return number{}, patternErrorf(path, "invalid number %s", string(v))
	}
	if math.IsInf(n.float, 0) {
		return number{}, patternErrorf(path, "number %s is out of range", string(v))
	}
	return n, nil
}

// describe names the JSON type of a decoded value for error messages.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean " + strconv.FormatBool(v)
	case string:
		return "string " + strconv.Quote(truncate(v))
	case json.Number:
		return "number " + truncate(string(v))
	case []any:
		return "array"
	case object, map[string]any:
		return "object"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// jsonText renders a scalar pattern value as JSON for hints.
func jsonText(v any) string {
	switch v := v.(type) {
	case string:
		b, _ := json.Marshal(truncate(v)) // marshalling a string cannot fail
		return string(b)
	case json.Number:
		return truncate(string(v))
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return "null"
	default:
		return "..."
	}
}

func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
