package eventpattern

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

var errNilPattern = errors.New("eventpattern: nil Pattern (use Compile)")

// Match reports whether the JSON event matches the pattern. Errors are
// *EventError: malformed JSON, a top level that is not an object, or nesting
// deeper than MaxDepth.
func (p *Pattern) Match(event []byte) (bool, error) {
	if p == nil || p.root == nil {
		return false, errNilPattern
	}
	doc, derr := decodeDocument(event, false)
	if derr != nil {
		return false, &EventError{Reason: derr.reason, Err: derr.err}
	}
	return p.MatchValue(doc)
}

// MatchValue is Match for an event already decoded into Go values the way
// encoding/json decodes into any: map[string]any, []any, string, float64 or
// json.Number, bool and nil. Other integer and float types are accepted as
// numbers. Only the parts of the event the pattern looks at are inspected.
func (p *Pattern) MatchValue(event any) (bool, error) {
	if p == nil || p.root == nil {
		return false, errNilPattern
	}
	obj, ok := event.(map[string]any)
	if !ok {
		return false, &EventError{Reason: "must be a JSON object, got " + describeGo(event)}
	}
	return p.root.match(obj, 1)
}

// match tests an event object; obj is nil for a missing or non-object value,
// which behaves as an empty object. depth counts event nesting so that cyclic
// Go values handed to MatchValue cannot recurse forever.
func (o *objectNode) match(obj map[string]any, depth int) (bool, error) {
	for i := range o.terms {
		t := &o.terms[i]
		var ok bool
		var err error
		switch {
		case t.or != nil:
			ok, err = matchAlternatives(t.or, obj, depth)
		case t.leaf != nil:
			v, present := obj[t.field]
			ok, err = t.leaf.match(v, present, depth+1)
		default:
			v, present := obj[t.field]
			ok, err = t.obj.matchField(v, present, depth+1)
		}
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func matchAlternatives(alts []*objectNode, obj map[string]any, depth int) (bool, error) {
	for _, alt := range alts {
		ok, err := alt.match(obj, depth)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// matchField applies a nested pattern object to an event field. Arrays of
// objects match when one element matches the whole nested pattern, so
// conditions never combine values from different elements.
func (o *objectNode) matchField(v any, present bool, depth int) (bool, error) {
	if !present {
		return o.match(nil, depth)
	}
	candidates, err := appendObjects(nil, v, depth)
	if err != nil {
		return false, err
	}
	if len(candidates) == 0 {
		return o.match(nil, depth)
	}
	for _, c := range candidates {
		ok, err := o.match(c, depth)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

func (l *leafNode) match(v any, present bool, depth int) (bool, error) {
	if !present {
		return l.existsFalse, nil
	}
	values, err := appendLeaves(nil, v, depth)
	if err != nil {
		return false, err
	}
	if len(values) == 0 { // an object or an empty array: no leaf here
		return l.existsFalse, nil
	}
	if l.existsTrue {
		return true, nil
	}
	for _, val := range values {
		for _, m := range l.matchers {
			if m.matches(val) {
				return true, nil
			}
		}
	}
	return false, nil
}

// appendObjects collects the objects at v, looking through arrays.
func appendObjects(out []map[string]any, v any, depth int) ([]map[string]any, error) {
	if depth > MaxDepth {
		return nil, tooDeep()
	}
	switch x := v.(type) {
	case map[string]any:
		return append(out, x), nil
	case []any:
		var err error
		for _, el := range x {
			if out, err = appendObjects(out, el, depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	default:
		if _, err := toScalar(v); err != nil {
			return nil, err
		}
		return out, nil
	}
}

// appendLeaves collects the scalar values at v, flattening arrays; objects
// hold no leaf values.
func appendLeaves(out []scalar, v any, depth int) ([]scalar, error) {
	if depth > MaxDepth {
		return nil, tooDeep()
	}
	switch x := v.(type) {
	case map[string]any:
		return out, nil
	case []any:
		var err error
		for _, el := range x {
			if out, err = appendLeaves(out, el, depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	default:
		s, err := toScalar(v)
		if err != nil {
			return nil, err
		}
		return append(out, s), nil
	}
}

func tooDeep() error {
	return &EventError{Reason: fmt.Sprintf("nesting deeper than %d levels", MaxDepth), Err: ErrTooDeep}
}

// toScalar converts a decoded JSON scalar.
func toScalar(v any) (scalar, error) {
	switch x := v.(type) {
	case nil:
		return scalar{kind: kindNull}, nil
	case string:
		return scalar{kind: kindString, str: x}, nil
	case bool:
		return scalar{kind: kindBool, b: x}, nil
	case json.Number:
		n, ok := parseNumber(string(x))
		if !ok {
			return scalar{}, &EventError{Reason: fmt.Sprintf("invalid number %q", truncate(string(x)))}
		}
		return scalar{kind: kindNumber, num: n}, nil
	case float64:
		return scalar{kind: kindNumber, num: numberFromFloat(x)}, nil
	case float32:
		return scalar{kind: kindNumber, num: numberFromFloat(float64(x))}, nil
	case int:
		return intScalar(int64(x)), nil
	case int8:
		return intScalar(int64(x)), nil
	case int16:
		return intScalar(int64(x)), nil
	case int32:
		return intScalar(int64(x)), nil
	case int64:
		return intScalar(x), nil
	case uint:
		return uintScalar(uint64(x)), nil
	case uint8:
		return uintScalar(uint64(x)), nil
	case uint16:
		return uintScalar(uint64(x)), nil
	case uint32:
		return uintScalar(uint64(x)), nil
	case uint64:
		return uintScalar(x), nil
	default:
		return scalar{}, &EventError{Reason: "unsupported Go type " + describeGo(v) + " in event"}
	}
}

// intScalar and uintScalar go through the decimal text so that integers
// beyond float64 precision keep exact equality.
func intScalar(i int64) scalar {
	n, _ := parseNumber(strconv.FormatInt(i, 10)) // always valid JSON number syntax
	return scalar{kind: kindNumber, num: n}
}

func uintScalar(u uint64) scalar {
	n, _ := parseNumber(strconv.FormatUint(u, 10)) // always valid JSON number syntax
	return scalar{kind: kindNumber, num: n}
}

// describeGo names a Go value's type for event errors.
func describeGo(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	default:
		return fmt.Sprintf("%T", v)
	}
}
