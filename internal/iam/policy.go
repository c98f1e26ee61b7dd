package iam

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Policy versions. Policy variables are resolved only in 2012-10-17 documents; a document
// without Version is a 2008-10-17 one, as in AWS.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Policy is a parsed policy document. It is immutable and safe for concurrent use.
type Policy struct {
	Version    string
	ID         string
	statements []*statement
}

// Effect is a statement's effect.
type Effect string

// The two effects.
const (
	EffectAllow Effect = "Allow"
	EffectDeny  Effect = "Deny"
)

type statement struct {
	index  int
	sid    string
	effect Effect

	principal    *principalSet // nil: the statement has neither Principal nor NotPrincipal
	notPrincipal bool

	actions   []pattern
	notAction bool

	resources   []pattern // nil with hasResource false: no Resource element at all
	notResource bool
	hasResource bool

	conds []*condition
}

// ParseError is returned by Parse. Field names the offending part of the document, as in
// `Statement[1].Condition.StringEqual`.
type ParseError struct {
	Field string
	Msg   string
}

func (e *ParseError) Error() string {
	if e.Field == "" {
		return "iam policy: " + e.Msg
	}
	return "iam policy: " + e.Field + ": " + e.Msg
}

func perr(field, format string, args ...any) *ParseError {
	return &ParseError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Parse reads a policy document (plain JSON, intrinsic functions already resolved).
// Errors are *ParseError.
func Parse(doc []byte) (*Policy, error) {
	top, err := object(doc, "")
	if err != nil {
		return nil, err
	}
	p := &Policy{Version: Version2008}
	for k := range top {
		switch k {
		case "Version", "Id", "Statement":
		default:
			return nil, perr(k, "unknown policy element (want Version, Id, Statement)")
		}
	}
	if raw, ok := top["Version"]; ok {
		v, err := str(raw, "Version")
		if err != nil {
			return nil, err
		}
		if v != Version2012 && v != Version2008 {
			return nil, perr("Version", "%q is not a policy language version (want %q or %q)", v, Version2012, Version2008)
		}
		p.Version = v
	}
	if raw, ok := top["Id"]; ok {
		if p.ID, err = str(raw, "Id"); err != nil {
			return nil, err
		}
	}
	raw, ok := top["Statement"]
	if !ok {
		return nil, perr("Statement", "missing")
	}
	var list []json.RawMessage
	switch firstByte(raw) {
	case '{':
		list = []json.RawMessage{raw}
	case '[':
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, perr("Statement", "%v", err)
		}
	default:
		return nil, perr("Statement", "must be an object or a list of objects")
	}
	if len(list) == 0 {
		return nil, perr("Statement", "must hold at least one statement")
	}
	for i, raw := range list {
		st, err := parseStatement(raw, i, p.Version == Version2012)
		if err != nil {
			return nil, err
		}
		p.statements = append(p.statements, st)
	}
	return p, nil
}

// ParseStatement reads a bare statement, or a list of statements, as some resources carry
// them outside a policy document (the Statement property of AWS::Events::EventBusPolicy,
// say), as a 2012-10-17 policy. Policies of several such resources on one bus are decided
// together with EvaluateAll.
func ParseStatement(stmt []byte) (*Policy, error) {
	switch firstByte(stmt) {
	case '{', '[':
	default:
		return nil, perr("Statement", "must be an object or a list of objects")
	}
	doc := make([]byte, 0, len(stmt)+48)
	doc = append(doc, `{"Version":"2012-10-17","Statement":`...)
	doc = append(doc, stmt...)
	doc = append(doc, '}')
	return Parse(doc)
}

// MustParse is Parse for documents known to be valid (tests, fixtures); it panics on error.
func MustParse(doc string) *Policy {
	p, err := Parse([]byte(doc))
	if err != nil {
		panic(err)
	}
	return p
}

// Len is the number of statements.
func (p *Policy) Len() int { return len(p.statements) }

var (
	actionRe   = regexp.MustCompile(`^[A-Za-z0-9*?-]+:[A-Za-z0-9*?_-]+$`)
	resourceRe = regexp.MustCompile(`^arn:[^:]*:[^:]*:[^:]*:[^:]*:.*$`)
)

func parseStatement(raw json.RawMessage, i int, vars bool) (*statement, error) {
	at := fmt.Sprintf("Statement[%d]", i)
	m, err := object(raw, at)
	if err != nil {
		return nil, err
	}
	st := &statement{index: i}
	for k := range m {
		switch k {
		case "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition":
		default:
			return nil, perr(at+"."+k, "unknown statement element (want Sid, Effect, Principal, NotPrincipal, Action, NotAction, Resource, NotResource, Condition)")
		}
	}
	if raw, ok := m["Sid"]; ok {
		if st.sid, err = str(raw, at+".Sid"); err != nil {
			return nil, err
		}
	}
	if raw, ok := m["Effect"]; !ok {
		return nil, perr(at+".Effect", "missing (want \"Allow\" or \"Deny\")")
	} else {
		e, err := str(raw, at+".Effect")
		if err != nil {
			return nil, err
		}
		if e != string(EffectAllow) && e != string(EffectDeny) {
			return nil, perr(at+".Effect", "%q is not \"Allow\" or \"Deny\"", e)
		}
		st.effect = Effect(e)
	}

	pRaw, hasP := m["Principal"]
	npRaw, hasNP := m["NotPrincipal"]
	switch {
	case hasP && hasNP:
		return nil, perr(at, "has both Principal and NotPrincipal")
	case hasP:
		if st.principal, err = parsePrincipal(pRaw, at+".Principal"); err != nil {
			return nil, err
		}
	case hasNP:
		if st.principal, err = parsePrincipal(npRaw, at+".NotPrincipal"); err != nil {
			return nil, err
		}
		st.notPrincipal = true
	}

	aRaw, hasA := m["Action"]
	naRaw, hasNA := m["NotAction"]
	field := at + ".Action"
	switch {
	case hasA && hasNA:
		return nil, perr(at, "has both Action and NotAction")
	case !hasA && !hasNA:
		return nil, perr(field, "missing (a statement needs Action or NotAction)")
	case hasNA:
		aRaw, field, st.notAction = naRaw, at+".NotAction", true
	}
	actions, err := strOrList(aRaw, field)
	if err != nil {
		return nil, err
	}
	for j, a := range actions {
		if a != "*" && !actionRe.MatchString(a) {
			return nil, perr(fmt.Sprintf("%s[%d]", field, j), "%q is not \"*\" or \"service:Action\"", a)
		}
		pat, _ := compilePattern(strings.ToLower(a), true, false)
		pat.raw = a // as written, for explanations
		st.actions = append(st.actions, pat)
	}

	rRaw, hasR := m["Resource"]
	nrRaw, hasNR := m["NotResource"]
	field = at + ".Resource"
	switch {
	case hasR && hasNR:
		return nil, perr(at, "has both Resource and NotResource")
	case hasNR:
		rRaw, field, st.notResource = nrRaw, at+".NotResource", true
	}
	if hasR || hasNR {
		st.hasResource = true
		resources, err := strOrList(rRaw, field)
		if err != nil {
			return nil, err
		}
		for j, r := range resources {
			f := fmt.Sprintf("%s[%d]", field, j)
			if r != "*" && !resourceRe.MatchString(r) {
				return nil, perr(f, "%q is not \"*\" or an ARN (arn:partition:service:region:account:resource)", r)
			}
			pat, err := compilePattern(r, true, vars)
			if err != nil {
				return nil, perr(f, "%v", err)
			}
			st.resources = append(st.resources, pat)
		}
	}

	if raw, ok := m["Condition"]; ok {
		if st.conds, err = parseConditions(raw, at+".Condition", vars); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// object decodes a JSON object into its members.
func object(raw []byte, field string) (map[string]json.RawMessage, error) {
	if firstByte(raw) != '{' {
		if field == "" {
			return nil, perr("", "a policy document must be a JSON object")
		}
		return nil, perr(field, "must be a JSON object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, perr(field, "%v", err)
	}
	return m, nil
}

func str(raw json.RawMessage, field string) (string, error) {
	var s string
	if firstByte(raw) != '"' || json.Unmarshal(raw, &s) != nil {
		return "", perr(field, "must be a string, got %s", clip(raw))
	}
	return s, nil
}

// strOrList reads a string or a non-empty list of strings.
func strOrList(raw json.RawMessage, field string) ([]string, error) {
	switch firstByte(raw) {
	case '"':
		s, err := str(raw, field)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, perr(field, "%v", err)
		}
		if len(items) == 0 {
			return nil, perr(field, "must not be an empty list")
		}
		out := make([]string, len(items))
		for i, it := range items {
			s, err := str(it, fmt.Sprintf("%s[%d]", field, i))
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, perr(field, "must be a string or a list of strings, got %s", clip(raw))
}

func firstByte(raw []byte) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

func clip(raw []byte) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	if s == "" {
		return "nothing"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
