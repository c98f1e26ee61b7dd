package iam

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// A pattern is a policy value compiled for matching: literal text, the wildcards * (any
// run of characters) and ? (one character) where the element supports them, and policy
// variables resolved from the request context at evaluation time.
type pattern struct {
	raw  string
	toks []token
	vars bool // has tokens of kind tVar
}

type tokKind uint8

const (
	tLit  tokKind = iota // s: literal text
	tStar                // *
	tOne                 // ?
	tVar                 // ${s} or ${s, 'def'}
)

type token struct {
	kind   tokKind
	s      string
	def    string
	hasDef bool
}

// compilePattern reads s. With wildcards, * and ? are wildcards; with variables, ${...}
// is a policy variable.
func compilePattern(s string, wildcards, variables bool) (pattern, error) {
	p := pattern{raw: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p.toks = append(p.toks, token{kind: tLit, s: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case wildcards && c == '*':
			flush()
			p.toks = append(p.toks, token{kind: tStar})
			i++
		case wildcards && c == '?':
			flush()
			p.toks = append(p.toks, token{kind: tOne})
			i++
		case variables && c == '$' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return pattern{}, fmt.Errorf("unterminated policy variable in %q", s)
			}
			body := strings.TrimSpace(s[i+2 : i+end])
			i += end + 1
			switch body {
			case "*", "?", "$":
				lit.WriteString(body) // ${*} ${?} ${$}: the literal character
				continue
			case "":
				return pattern{}, fmt.Errorf("empty policy variable in %q", s)
			}
			t := token{kind: tVar, s: body}
			if key, def, ok := strings.Cut(body, ","); ok {
				def = strings.TrimSpace(def)
				if len(def) < 2 || def[0] != '\'' || def[len(def)-1] != '\'' {
					return pattern{}, fmt.Errorf("policy variable %q: a default value must be in single quotes", "${"+body+"}")
				}
				t.s, t.def, t.hasDef = strings.TrimSpace(key), def[1:len(def)-1], true
			}
			flush()
			p.toks = append(p.toks, t)
			p.vars = true
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	return p, nil
}

// elem is one rune of a resolved pattern: a literal rune, * or ?.
type elem struct {
	k tokKind
	r rune
}

// resolve substitutes policy variables. It reports the name of a variable the context
// cannot resolve (absent, or holding several values) and no default covers.
func (p pattern) resolve(ctx reqContext) (elems []elem, missing string) {
	for _, t := range p.toks {
		switch t.kind {
		case tStar, tOne:
			elems = append(elems, elem{k: t.kind})
		case tLit:
			elems = appendLit(elems, t.s)
		case tVar:
			vals, ok := ctx.get(t.s)
			switch {
			case ok && len(vals) == 1:
				elems = appendLit(elems, vals[0])
			case t.hasDef:
				elems = appendLit(elems, t.def)
			default:
				return nil, t.s
			}
		}
	}
	return elems, ""
}

func appendLit(elems []elem, s string) []elem {
	for _, r := range s {
		elems = append(elems, elem{k: tLit, r: r})
	}
	return elems
}

// matchElems reports whether s matches the whole pattern. With fold, letters compare
// without regard to case.
func matchElems(pat []elem, s string, fold bool) bool {
	if fold {
		s = strings.ToLower(s)
	}
	str := make([]rune, 0, utf8.RuneCountInString(s))
	for _, r := range s {
		str = append(str, r)
	}
	eq := func(e elem, r rune) bool {
		if e.k == tOne {
			return true
		}
		if fold {
			return toLower(e.r) == r
		}
		return e.r == r
	}
	// Iterative wildcard matching: on a mismatch, backtrack to the last * and let it take
	// one more character.
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(str) {
		switch {
		case pi < len(pat) && pat[pi].k == tStar:
			starP, starS = pi, si
			pi++
		case pi < len(pat) && eq(pat[pi], str[si]):
			pi++
			si++
		case starP >= 0:
			starS++
			pi, si = starP+1, starS
		default:
			return false
		}
	}
	for pi < len(pat) && pat[pi].k == tStar {
		pi++
	}
	return pi == len(pat)
}

func toLower(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	return []rune(strings.ToLower(string(r)))[0]
}

// match resolves p against ctx and matches s as a whole string.
func (p pattern) match(s string, ctx reqContext, fold bool) (ok bool, missing string) {
	elems, missing := p.resolve(ctx)
	if missing != "" {
		return false, missing
	}
	return matchElems(elems, s, fold), ""
}

// matchARN matches s the way ARN-valued policy elements and the Arn condition operators
// do: each of the six colon-separated parts of the ARN separately (the last part, the
// resource, keeps its own colons), so a wildcard never spans a part. A pattern with fewer
// than six parts, such as "*" or "arn:aws:s3:::*", is matched against the whole string.
func (p pattern) matchARN(s string, ctx reqContext) (ok bool, missing string) {
	elems, missing := p.resolve(ctx)
	if missing != "" {
		return false, missing
	}
	parts := splitElems(elems, 6)
	if len(parts) < 6 {
		return matchElems(elems, s, false), ""
	}
	vals := strings.SplitN(s, ":", 6)
	if len(vals) < 6 {
		return false, ""
	}
	for i := range parts {
		if !matchElems(parts[i], vals[i], false) {
			return false, ""
		}
	}
	return true, ""
}

// splitElems splits at literal colons into at most n parts.
func splitElems(elems []elem, n int) [][]elem {
	var parts [][]elem
	start := 0
	for i, e := range elems {
		if len(parts) == n-1 {
			break
		}
		if e.k == tLit && e.r == ':' {
			parts = append(parts, elems[start:i])
			start = i + 1
		}
	}
	return append(parts, elems[start:])
}
