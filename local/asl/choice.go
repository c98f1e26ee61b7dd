package asl

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// choiceRule is one Choice Rule: a boolean combination (And, Or, Not) or a
// comparison of the node at Variable against a literal or another path.
type choiceRule struct {
	next string // top-level rules only

	and, or []*choiceRule
	not     *choiceRule

	variable    *path
	op          string // comparison operator without a "Path" suffix, e.g. "StringEquals"
	literal     any    // string, float64, bool or time.Time
	operandPath *path  // set for the ...Path variants
}

// comparison operators and the literal type each one takes.
var choiceOperators = map[string]string{
	"StringEquals":               "string",
	"StringLessThan":             "string",
	"StringGreaterThan":          "string",
	"StringLessThanEquals":       "string",
	"StringGreaterThanEquals":    "string",
	"StringMatches":              "string",
	"NumericEquals":              "number",
	"NumericLessThan":            "number",
	"NumericGreaterThan":         "number",
	"NumericLessThanEquals":      "number",
	"NumericGreaterThanEquals":   "number",
	"BooleanEquals":              "boolean",
	"TimestampEquals":            "timestamp",
	"TimestampLessThan":          "timestamp",
	"TimestampGreaterThan":       "timestamp",
	"TimestampLessThanEquals":    "timestamp",
	"TimestampGreaterThanEquals": "timestamp",
	"IsNull":                     "boolean",
	"IsPresent":                  "boolean",
	"IsNumeric":                  "boolean",
	"IsString":                   "boolean",
	"IsBoolean":                  "boolean",
	"IsTimestamp":                "boolean",
}

// operatorForField maps a field name to its operator and whether it is a
// ...Path variant. The Is* tests and StringMatches have no Path variant.
func operatorForField(field string) (string, bool, bool) {
	if _, ok := choiceOperators[field]; ok {
		return field, false, true
	}
	base, found := strings.CutSuffix(field, "Path")
	if !found || strings.HasPrefix(base, "Is") || base == "StringMatches" {
		return "", false, false
	}
	if _, ok := choiceOperators[base]; ok {
		return base, true, true
	}
	return "", false, false
}

// parseChoiceRule compiles a rule from its JSON object; where names it in
// error messages, e.g. "Choices[0].And[1]".
func parseChoiceRule(state, where string, raw json.RawMessage, topLevel bool) (*choiceRule, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, &ValidationError{State: state, Field: where, Message: "a choice rule must be an object"}
	}
	rule := &choiceRule{}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kinds := 0
	for _, k := range keys {
		v := fields[k]
		fieldName := where + "." + k
		switch k {
		case "Comment":
		case "Next":
			if !topLevel {
				return nil, &ValidationError{State: state, Field: fieldName, Message: "only top-level choice rules may have Next"}
			}
			if err := json.Unmarshal(v, &rule.next); err != nil || rule.next == "" {
				return nil, &ValidationError{State: state, Field: fieldName, Message: "must be a non-empty string"}
			}
		case "Variable":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, &ValidationError{State: state, Field: fieldName, Message: "must be a string"}
			}
			p, err := parsePath(s)
			if err != nil {
				return nil, &ValidationError{State: state, Field: fieldName, Message: err.Error()}
			}
			rule.variable = p
		case "And", "Or":
			kinds++
			var items []json.RawMessage
			if err := json.Unmarshal(v, &items); err != nil || len(items) == 0 {
				return nil, &ValidationError{State: state, Field: fieldName, Message: "must be a non-empty array of choice rules"}
			}
			for i, item := range items {
				sub, err := parseChoiceRule(state, fmt.Sprintf("%s[%d]", fieldName, i), item, false)
				if err != nil {
					return nil, err
				}
				if k == "And" {
					rule.and = append(rule.and, sub)
				} else {
					rule.or = append(rule.or, sub)
				}
			}
		case "Not":
			kinds++
			sub, err := parseChoiceRule(state, fieldName, v, false)
			if err != nil {
				return nil, err
			}
			rule.not = sub
		default:
			op, isPath, ok := operatorForField(k)
			if !ok {
				return nil, &UnsupportedError{State: state, Field: fieldName, Reason: "not a choice rule field"}
			}
			kinds++
			rule.op = op
			if isPath {
				var s string
				if err := json.Unmarshal(v, &s); err != nil {
					return nil, &ValidationError{State: state, Field: fieldName, Message: "must be a string holding a path"}
				}
				p, err := parsePath(s)
				if err != nil {
					return nil, &ValidationError{State: state, Field: fieldName, Message: err.Error()}
				}
				rule.operandPath = p
				continue
			}
			lit, err := choiceLiteral(op, v)
			if err != nil {
				return nil, &ValidationError{State: state, Field: fieldName, Message: err.Error()}
			}
			rule.literal = lit
		}
	}
	if kinds != 1 {
		return nil, &ValidationError{State: state, Field: where, Message: "a choice rule needs exactly one of And, Or, Not or a comparison operator"}
	}
	if rule.op != "" && rule.variable == nil {
		return nil, &ValidationError{State: state, Field: where, Message: "a comparison needs a Variable"}
	}
	if rule.op == "" && rule.variable != nil {
		return nil, &ValidationError{State: state, Field: where, Message: "Variable is only allowed with a comparison operator"}
	}
	if topLevel && rule.next == "" {
		return nil, &ValidationError{State: state, Field: where, Message: "a top-level choice rule needs Next"}
	}
	return rule, nil
}

func choiceLiteral(op string, raw json.RawMessage) (any, error) {
	v, err := decodeValue(raw)
	if err != nil {
		return nil, err
	}
	switch choiceOperators[op] {
	case "string":
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("must be a string")
		}
		return s, nil
	case "number":
		f, ok := asFloat(v)
		if !ok {
			return nil, fmt.Errorf("must be a number")
		}
		return f, nil
	case "boolean":
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("must be a boolean")
		}
		return b, nil
	case "timestamp":
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("must be a timestamp string")
		}
		t, err := parseTimestamp(s)
		if err != nil {
			return nil, fmt.Errorf("must be an ISO-8601 timestamp such as 2016-03-14T01:59:00Z")
		}
		return t, nil
	}
	return nil, fmt.Errorf("unknown operator %s", op)
}

// parseTimestamp accepts the RFC 3339 profile of ISO-8601 Step Functions
// uses: a date, 'T', a time and an offset or 'Z'.
func parseTimestamp(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}

// choiceEnv gives rule evaluation the state's data and context object.
type choiceEnv struct{ data, ctx any }

// eval reports whether the rule matches. A Variable that selects nothing is
// an error, except for IsPresent, which is false then.
func (r *choiceRule) eval(env choiceEnv) (bool, error) {
	switch {
	case r.and != nil:
		for _, sub := range r.and {
			ok, err := sub.eval(env)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case r.or != nil:
		for _, sub := range r.or {
			ok, err := sub.eval(env)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case r.not != nil:
		ok, err := r.not.eval(env)
		return !ok, err
	}
	value, err := r.variable.lookup(env.data, env.ctx)
	present := err == nil
	if r.op == "IsPresent" {
		return present == r.literal.(bool), nil
	}
	if !present {
		return false, fmt.Errorf("Invalid path '%s': The choice state's condition path references an invalid value.", r.variable.raw)
	}
	operand := r.literal
	if r.operandPath != nil {
		ov, err := r.operandPath.lookup(env.data, env.ctx)
		if err != nil {
			return false, fmt.Errorf("Invalid path '%s': The choice state's condition path references an invalid value.", r.operandPath.raw)
		}
		operand, err = choiceOperand(r.op, ov)
		if err != nil {
			// A path operand of the wrong type makes the comparison false.
			return false, nil
		}
	}
	return compare(r.op, value, operand), nil
}

// choiceOperand converts a value read through a ...Path operand to the type
// the operator compares.
func choiceOperand(op string, v any) (any, error) {
	switch choiceOperators[op] {
	case "string":
		if s, ok := v.(string); ok {
			return s, nil
		}
	case "number":
		if f, ok := asFloat(v); ok {
			return f, nil
		}
	case "boolean":
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case "timestamp":
		if s, ok := v.(string); ok {
			if t, err := parseTimestamp(s); err == nil {
				return t, nil
			}
		}
	}
	return nil, fmt.Errorf("wrong operand type %s for %s", jsonType(v), op)
}

func compare(op string, value, operand any) bool {
	switch op {
	case "IsNull":
		return (value == nil) == operand.(bool)
	case "IsNumeric":
		_, ok := asFloat(value)
		return ok == operand.(bool)
	case "IsString":
		_, ok := value.(string)
		return ok == operand.(bool)
	case "IsBoolean":
		_, ok := value.(bool)
		return ok == operand.(bool)
	case "IsTimestamp":
		s, ok := value.(string)
		if ok {
			_, err := parseTimestamp(s)
			ok = err == nil
		}
		return ok == operand.(bool)
	case "BooleanEquals":
		b, ok := value.(bool)
		return ok && b == operand.(bool)
	case "StringMatches":
		s, ok := value.(string)
		return ok && wildcardMatch(operand.(string), s)
	}
	switch choiceOperators[op] {
	case "string":
		s, ok := value.(string)
		if !ok {
			return false
		}
		return ordered(op, strings.Compare(s, operand.(string)))
	case "number":
		f, ok := asFloat(value)
		if !ok {
			return false
		}
		o := operand.(float64)
		c := 0
		if f < o {
			c = -1
		} else if f > o {
			c = 1
		}
		return ordered(op, c)
	case "timestamp":
		s, ok := value.(string)
		if !ok {
			return false
		}
		t, err := parseTimestamp(s)
		if err != nil {
			return false
		}
		return ordered(op, t.Compare(operand.(time.Time)))
	}
	return false
}

// ordered applies the relation an operator name ends with to a comparison
// result.
func ordered(op string, c int) bool {
	switch {
	case strings.HasSuffix(op, "GreaterThanEquals"):
		return c >= 0
	case strings.HasSuffix(op, "LessThanEquals"):
		return c <= 0
	case strings.HasSuffix(op, "GreaterThan"):
		return c > 0
	case strings.HasSuffix(op, "LessThan"):
		return c < 0
	case strings.HasSuffix(op, "Equals"):
		return c == 0
	}
	return false
}

// wildcardMatch implements StringMatches: '*' matches any run of characters;
// "\*" is a literal asterisk and "\\" a literal backslash.
func wildcardMatch(pattern, s string) bool {
	type tok struct {
		star bool
		ch   rune
	}
	var toks []tok
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		if rs[i] == '\\' && i+1 < len(rs) && (rs[i+1] == '*' || rs[i+1] == '\\') {
			toks = append(toks, tok{ch: rs[i+1]})
			i++
			continue
		}
		toks = append(toks, tok{star: rs[i] == '*', ch: rs[i]})
	}
	text := []rune(s)
	// Iterative matching with backtracking to the last star: linear in
	// practice and never recursive.
	ti, pi := 0, 0
	starPi, starTi := -1, 0
	for ti < len(text) {
		switch {
		case pi < len(toks) && !toks[pi].star && toks[pi].ch == text[ti]:
			ti++
			pi++
		case pi < len(toks) && toks[pi].star:
			starPi, starTi = pi, ti
			pi++
		case starPi >= 0:
			starTi++
			ti = starTi
			pi = starPi + 1
		default:
			return false
		}
	}
	for pi < len(toks) && toks[pi].star {
		pi++
	}
	return pi == len(toks)
}
