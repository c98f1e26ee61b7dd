package iam

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

type opType int

const (
	opString opType = iota
	opNumeric
	opDate
	opBool
	opBinary
	opIP
	opARN
	opNull
)

type cmp int

const (
	cmpEq cmp = iota
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

// opDef is a base condition operator (without ForAllValues:/ForAnyValue: or IfExists).
type opDef struct {
	name     string
	typ      opType
	negated  bool
	fold     bool // StringEqualsIgnoreCase
	wildcard bool // StringLike, Arn*
	cmp      cmp  // numeric and date comparisons
}

var operators = func() map[string]opDef {
	defs := []opDef{
		{name: "StringEquals", typ: opString},
		{name: "StringNotEquals", typ: opString, negated: true},
		{name: "StringEqualsIgnoreCase", typ: opString, fold: true},
		{name: "StringNotEqualsIgnoreCase", typ: opString, fold: true, negated: true},
		{name: "StringLike", typ: opString, wildcard: true},
		{name: "StringNotLike", typ: opString, wildcard: true, negated: true},
		{name: "NumericEquals", typ: opNumeric},
		{name: "NumericNotEquals", typ: opNumeric, negated: true},
		{name: "NumericLessThan", typ: opNumeric, cmp: cmpLt},
		{name: "NumericLessThanEquals", typ: opNumeric, cmp: cmpLe},
		{name: "NumericGreaterThan", typ: opNumeric, cmp: cmpGt},
		{name: "NumericGreaterThanEquals", typ: opNumeric, cmp: cmpGe},
		{name: "DateEquals", typ: opDate},
		{name: "DateNotEquals", typ: opDate, negated: true},
		{name: "DateLessThan", typ: opDate, cmp: cmpLt},
		{name: "DateLessThanEquals", typ: opDate, cmp: cmpLe},
		{name: "DateGreaterThan", typ: opDate, cmp: cmpGt},
		{name: "DateGreaterThanEquals", typ: opDate, cmp: cmpGe},
		{name: "Bool", typ: opBool},
		{name: "BinaryEquals", typ: opBinary},
		{name: "IpAddress", typ: opIP},
		{name: "NotIpAddress", typ: opIP, negated: true},
		{name: "ArnEquals", typ: opARN, wildcard: true},
		{name: "ArnLike", typ: opARN, wildcard: true},
		{name: "ArnNotEquals", typ: opARN, wildcard: true, negated: true},
		{name: "ArnNotLike", typ: opARN, wildcard: true, negated: true},
		{name: "Null", typ: opNull},
	}
	m := make(map[string]opDef, len(defs))
	for _, d := range defs {
		m[strings.ToLower(d.name)] = d
	}
	return m
}()

type setQual int

const (
	setNone setQual = iota
	setForAll
	setForAny
)

// condition is one operator applied to one key, with its policy values.
type condition struct {
	op       string // as written in the policy
	def      opDef
	set      setQual
	ifExists bool
	key      string
	values   []condValue
}

type condValue struct {
	raw  string
	pat  pattern // string and ARN operators
	num  float64
	date time.Time
	bin  []byte
	ip   netip.Prefix
	b    bool // Bool and Null
}

// parseConditions reads {"<operator>": {"<key>": <value or values>, ...}, ...}.
func parseConditions(raw json.RawMessage, field string, vars bool) ([]*condition, error) {
	block, err := object(raw, field)
	if err != nil {
		return nil, err
	}
	var out []*condition
	for _, opName := range sortedKeys(block) {
		f := field + "." + opName
		def, set, ifExists, err := parseOperator(opName)
		if err != nil {
			return nil, perr(f, "%v", err)
		}
		keys, err := object(block[opName], f)
		if err != nil {
			return nil, err
		}
		if len(keys) == 0 {
			return nil, perr(f, "names no condition key")
		}
		for _, key := range sortedKeys(keys) {
			fk := fmt.Sprintf("%s[%q]", f, key)
			if key == "" {
				return nil, perr(fk, "empty condition key")
			}
			raws, err := condValues(keys[key], fk)
			if err != nil {
				return nil, err
			}
			c := &condition{op: opName, def: def, set: set, ifExists: ifExists, key: key}
			for i, rv := range raws {
				v, err := parseCondValue(def, rv, vars)
				if err != nil {
					return nil, perr(fmt.Sprintf("%s[%d]", fk, i), "%v", err)
				}
				c.values = append(c.values, v)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func parseOperator(name string) (opDef, setQual, bool, error) {
	base := name
	set := setNone
	lower := strings.ToLower(base)
	switch {
	case strings.HasPrefix(lower, "forallvalues:"):
		set, base = setForAll, base[len("ForAllValues:"):]
	case strings.HasPrefix(lower, "foranyvalue:"):
		set, base = setForAny, base[len("ForAnyValue:"):]
	case strings.Contains(base, ":"):
		return opDef{}, 0, false, fmt.Errorf("unknown condition set operator %q (want ForAllValues: or ForAnyValue:)", base[:strings.Index(base, ":")+1])
	}
	lower = strings.ToLower(base)
	ifExists := false
	if def, ok := operators[lower]; ok {
		return def, set, ifExists, checkOp(def, set, ifExists)
	}
	if trimmed, ok := strings.CutSuffix(lower, "ifexists"); ok {
		if def, ok := operators[trimmed]; ok {
			return def, set, true, checkOp(def, set, true)
		}
	}
	return opDef{}, 0, false, fmt.Errorf("unknown condition operator %q", base)
}

func checkOp(def opDef, set setQual, ifExists bool) error {
	if def.typ == opNull && (set != setNone || ifExists) {
		return fmt.Errorf("Null takes neither a set operator nor IfExists")
	}
	return nil
}

// condValues reads a condition value: a string, number or boolean, or a list of them.
func condValues(raw json.RawMessage, field string) ([]string, error) {
	var items []json.RawMessage
	if firstByte(raw) == '[' {
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, perr(field, "%v", err)
		}
		if len(items) == 0 {
			return nil, perr(field, "must not be an empty list")
		}
	} else {
		items = []json.RawMessage{raw}
	}
	out := make([]string, len(items))
	for i, it := range items {
		f := field
		if len(items) > 1 || firstByte(raw) == '[' {
			f = fmt.Sprintf("%s[%d]", field, i)
		}
		switch b := firstByte(it); {
		case b == '"':
			s, err := str(it, f)
			if err != nil {
				return nil, err
			}
			out[i] = s
		case b == 't' || b == 'f' || b == '-' || (b >= '0' && b <= '9'):
			var v any
			if err := json.Unmarshal(it, &v); err != nil {
				return nil, perr(f, "%v", err)
			}
			out[i] = strings.TrimSpace(string(it))
		default:
			return nil, perr(f, "a condition value must be a string, number or boolean, got %s", clip(it))
		}
	}
	return out, nil
}

func parseCondValue(def opDef, s string, vars bool) (condValue, error) {
	v := condValue{raw: s}
	var err error
	switch def.typ {
	case opString, opARN:
		v.pat, err = compilePattern(s, def.wildcard, vars)
		if err == nil && def.typ == opARN && !v.pat.vars && s != "*" && !strings.HasPrefix(s, "arn:") {
			err = fmt.Errorf("%q is not an ARN (%s compares ARNs)", s, def.name)
		}
	case opNumeric:
		v.num, err = strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v.num) || math.IsInf(v.num, 0) {
			err = fmt.Errorf("%q is not a number (%s)", s, def.name)
		}
	case opDate:
		v.date, err = parseDate(s)
		if err != nil {
			err = fmt.Errorf("%q is not a date (%s wants ISO 8601 such as 2026-01-02T15:04:05Z, or epoch seconds)", s, def.name)
		}
	case opBool, opNull:
		switch strings.ToLower(s) {
		case "true":
			v.b = true
		case "false":
		default:
			err = fmt.Errorf("%q is not \"true\" or \"false\" (%s)", s, def.name)
		}
	case opBinary:
		v.bin, err = base64.StdEncoding.DecodeString(s)
		if err != nil {
			err = fmt.Errorf("%q is not base64 (%s)", s, def.name)
		}
	case opIP:
		v.ip, err = parseIP(s)
		if err != nil {
			err = fmt.Errorf("%q is not an IP address or CIDR block (%s)", s, def.name)
		}
	}
	return v, err
}

func parseDate(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a date")
}

func parseIP(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// eval decides the condition against the request context, with the reason when false.
func (c *condition) eval(ctx reqContext) (bool, string) {
	vals, present := ctx.get(c.key)
	if c.def.typ == opNull {
		for _, v := range c.values {
			if v.b == !present { // "true": the key must be absent; "false": present
				return true, ""
			}
		}
		if present {
			return false, fmt.Sprintf("%s: key %s is present in the request", c.describe(), c.key)
		}
		return false, fmt.Sprintf("%s: key %s is not in the request", c.describe(), c.key)
	}
	if !present {
		switch {
		case c.ifExists, c.set == setForAll:
			return true, ""
		case c.set == setNone && c.def.negated:
			return true, ""
		}
		return false, fmt.Sprintf("%s: key %s is not in the request", c.describe(), c.key)
	}
	// pred says whether one request value satisfies the operator: for a positive operator,
	// it matches some policy value (OR); for a negated one, it matches none (NOR).
	var missingVar string
	pred := func(v string) bool {
		matched := false
		for _, pv := range c.values {
			ok, missing := c.matchOne(pv, v, ctx)
			if missing != "" && missingVar == "" {
				missingVar = missing
			}
			if ok {
				matched = true
				break
			}
		}
		return matched != c.def.negated
	}
	var ok bool
	switch {
	case c.set == setForAll || (c.set == setNone && c.def.negated):
		ok = true
		for _, v := range vals {
			if !pred(v) {
				ok = false
				break
			}
		}
	default: // ForAnyValue, and a positive operator on a (possibly multivalued) key
		for _, v := range vals {
			if pred(v) {
				ok = true
				break
			}
		}
	}
	if missingVar != "" {
		// A value whose policy variable cannot be resolved matches nothing; a condition
		// that depended on one is false rather than decided by the remaining values.
		return false, fmt.Sprintf("%s: policy variable ${%s} is not in the request", c.describe(), missingVar)
	}
	if ok {
		return true, ""
	}
	return false, fmt.Sprintf("%s: request value %s does not satisfy it", c.describe(), quoteList(vals))
}

func (c *condition) matchOne(pv condValue, v string, ctx reqContext) (bool, string) {
	d := c.def
	switch d.typ {
	case opString:
		return pv.pat.match(v, ctx, d.fold)
	case opARN:
		return pv.pat.matchARN(v, ctx)
	case opNumeric:
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return false, ""
		}
		return compare(d.cmp, cmpFloat(n, pv.num)), ""
	case opDate:
		t, err := parseDate(v)
		if err != nil {
			return false, ""
		}
		return compare(d.cmp, t.Compare(pv.date)), ""
	case opBool:
		b, err := strconv.ParseBool(strings.ToLower(v))
		return err == nil && b == pv.b, ""
	case opBinary:
		got, err := base64.StdEncoding.DecodeString(v)
		return err == nil && string(got) == string(pv.bin), ""
	case opIP:
		a, err := netip.ParseAddr(v)
		return err == nil && pv.ip.Contains(a.Unmap()), ""
	}
	return false, ""
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compare(c cmp, r int) bool {
	switch c {
	case cmpLt:
		return r < 0
	case cmpLe:
		return r <= 0
	case cmpGt:
		return r > 0
	case cmpGe:
		return r >= 0
	}
	return r == 0
}

func (c *condition) describe() string {
	vals := make([]string, len(c.values))
	for i, v := range c.values {
		vals[i] = v.raw
	}
	return fmt.Sprintf("condition %s %s %s", c.op, c.key, quoteList(vals))
}

func quoteList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = strconv.Quote(v)
	}
	if len(q) == 1 {
		return q[0]
	}
	return "[" + strings.Join(q, ", ") + "]"
}
