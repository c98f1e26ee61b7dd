package iam

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/crossbuild/crossbuild/local/localaws"
)

// Request is what is being decided: who acts, on what, and the request context.
type Request struct {
	Principal localaws.Principal // caller (Account, ARN, RoleARN, OrgID)
	// Service is the calling service principal when a service acts, e.g.
	// "events.amazonaws.com"; it is matched by {"Service": ...} principals.
	Service  string
	Action   string // "sts:AssumeRole", "events:PutEvents", ...
	Resource string // ARN
	// Context holds condition keys ("sts:ExternalId", "aws:PrincipalArn", "events:source",
	// "aws:SourceArn", ...). Key names compare case-insensitively, as in AWS. A key with no
	// values is absent. aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalOrgID,
	// aws:PrincipalServiceName and aws:PrincipalIsAWSService are filled from Principal and
	// Service unless given here.
	Context map[string][]string
}

// Decision is the outcome of an evaluation. The zero value is ImplicitDeny.
type Decision int

// Decisions.
const (
	ImplicitDeny Decision = iota // no statement allows the request
	Allow                        // a statement allows it and none denies it
	ExplicitDeny                 // a Deny statement applies
)

func (d Decision) String() string {
	switch d {
	case Allow:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	case ImplicitDeny:
		return "ImplicitDeny"
	}
	return "Decision(" + strconv.Itoa(int(d)) + ")"
}

// MarshalText writes the decision's name.
func (d Decision) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads "Allow", "ImplicitDeny" or "ExplicitDeny".
func (d *Decision) UnmarshalText(b []byte) error {
	for _, c := range []Decision{Allow, ImplicitDeny, ExplicitDeny} {
		if string(b) == c.String() {
			*d = c
			return nil
		}
	}
	return fmt.Errorf("unknown decision %q (want Allow, ImplicitDeny or ExplicitDeny)", b)
}

// Explanation says why a request was decided as it was.
type Explanation struct {
	Decision       Decision
	Action         string
	Resource       string
	ResourcePolicy bool
	// Applied lists the statements that applied to the request, in document order.
	Applied []StatementRef
	// Skipped lists the statements that did not apply, each with the reason.
	Skipped []Skip
}

// StatementRef names one statement of one policy.
type StatementRef struct {
	Policy int // index of the policy among those evaluated together; 0 for Evaluate
	Index  int // index of the statement in its policy
	Sid    string
	Effect Effect
	// PrincipalKind and Principal say how the statement's Principal matched the caller
	// (resource-based policies only).
	PrincipalKind PrincipalKind
	Principal     string
	multi         bool
}

// Skip is a statement that did not apply, and why.
type Skip struct {
	StatementRef
	Reason string
}

func (s StatementRef) String() string {
	b := "statement " + strconv.Itoa(s.Index)
	if s.multi {
		b = "policy " + strconv.Itoa(s.Policy) + " " + b
	}
	if s.Sid != "" {
		b += " (Sid " + strconv.Quote(s.Sid) + ")"
	}
	return b
}

// Deciding returns the statement that decided the request: the first applicable Deny for
// ExplicitDeny, the first applicable Allow for Allow; false for ImplicitDeny.
func (e *Explanation) Deciding() (StatementRef, bool) {
	want := EffectAllow
	switch e.Decision {
	case ExplicitDeny:
		want = EffectDeny
	case ImplicitDeny:
		return StatementRef{}, false
	}
	for _, s := range e.Applied {
		if s.Effect == want {
			return s, true
		}
	}
	return StatementRef{}, false
}

// String is a one-line account of the decision, for error messages and logs.
func (e *Explanation) String() string {
	subject := fmt.Sprintf("%s on %s", e.Action, e.Resource)
	if e.Resource == "" {
		subject = e.Action
	}
	switch e.Decision {
	case Allow, ExplicitDeny:
		s, _ := e.Deciding()
		verb := "allowed"
		if e.Decision == ExplicitDeny {
			verb = "explicitly denied"
		}
		out := fmt.Sprintf("%s %s by %s", subject, verb, s)
		if s.Principal != "" {
			out += " (principal " + s.Principal + ")"
		}
		return out
	}
	if len(e.Skipped) == 0 {
		return fmt.Sprintf("no statement allows %s", subject)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "no statement allows %s: ", subject)
	for i, s := range e.Skipped {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s (%s): %s", s.StatementRef, s.Effect, s.Reason)
	}
	return b.String()
}

// Evaluate decides r against the policy. With resourcePolicy, the policy is a
// resource-based or trust policy and a statement applies only when its Principal (or
// NotPrincipal) matches the caller; otherwise it is an identity-based policy, whose
// statements must not name a principal.
func (p *Policy) Evaluate(r Request, resourcePolicy bool) (Decision, *Explanation) {
	return EvaluateAll(r, resourcePolicy, p)
}

// EvaluateAll decides r against several policies of one kind together (the identity
// policies of one principal, say): any applicable Deny wins, else any applicable Allow
// allows. Nil policies are skipped.
func EvaluateAll(r Request, resourcePolicy bool, policies ...*Policy) (Decision, *Explanation) {
	ctx := newContext(r)
	exp := &Explanation{Action: r.Action, Resource: r.Resource, ResourcePolicy: resourcePolicy}
	multi := len(policies) > 1
	allowed, denied := false, false
	for pi, p := range policies {
		if p == nil {
			continue
		}
		for _, st := range p.statements {
			ref := StatementRef{Policy: pi, Index: st.index, Sid: st.sid, Effect: st.effect, multi: multi}
			kind, who, reason := st.applies(r, ctx, resourcePolicy)
			if reason != "" {
				exp.Skipped = append(exp.Skipped, Skip{StatementRef: ref, Reason: reason})
				continue
			}
			ref.PrincipalKind, ref.Principal = kind, who
			exp.Applied = append(exp.Applied, ref)
			if st.effect == EffectDeny {
				denied = true
			} else {
				allowed = true
			}
		}
	}
	switch {
	case denied:
		exp.Decision = ExplicitDeny
	case allowed:
		exp.Decision = Allow
	}
	return exp.Decision, exp
}

// applies reports whether the statement applies to r; when it does not, reason says why.
func (st *statement) applies(r Request, ctx reqContext, resourcePolicy bool) (PrincipalKind, string, string) {
	kind, who := PrincipalNone, ""
	switch {
	case resourcePolicy && st.principal == nil:
		return 0, "", "no Principal: in a resource-based policy such a statement applies to nobody"
	case !resourcePolicy && st.principal != nil:
		return 0, "", "names a Principal, which an identity-based policy must not"
	case resourcePolicy:
		k, desc, ok := st.principal.match(r)
		switch {
		case st.notPrincipal && ok:
			return 0, "", fmt.Sprintf("caller %s is excluded by NotPrincipal %s", callerDesc(r), desc)
		case st.notPrincipal:
			kind, who = PrincipalNot, "not "+st.principal.String()
		case !ok:
			return 0, "", fmt.Sprintf("Principal %s does not match caller %s", st.principal, callerDesc(r))
		default:
			kind, who = k, desc
		}
	}

	if ok, _ := matchAny(st.actions, strings.ToLower(r.Action), ctx, true, false); ok == st.notAction {
		if st.notAction {
			return 0, "", fmt.Sprintf("action %s is excluded by NotAction %s", r.Action, patternList(st.actions))
		}
		return 0, "", fmt.Sprintf("action %s is not in Action %s", r.Action, patternList(st.actions))
	}

	if st.hasResource {
		ok, missing := matchAny(st.resources, r.Resource, ctx, false, true)
		if ok == st.notResource {
			note := ""
			if missing != "" {
				note = fmt.Sprintf(" (policy variable ${%s} is not in the request)", missing)
			}
			if st.notResource {
				return 0, "", fmt.Sprintf("resource %s is excluded by NotResource %s%s", r.Resource, patternList(st.resources), note)
			}
			return 0, "", fmt.Sprintf("resource %s is not in Resource %s%s", r.Resource, patternList(st.resources), note)
		}
	}

	// Every failing condition is reported, not only the first.
	var failed []string
	for _, c := range st.conds {
		if ok, why := c.eval(ctx); !ok {
			failed = append(failed, why)
		}
	}
	if len(failed) > 0 {
		return 0, "", strings.Join(failed, ", and ")
	}
	return kind, who, ""
}

// matchAny reports whether s matches one of pats, and the first policy variable that
// could not be resolved, if any.
func matchAny(pats []pattern, s string, ctx reqContext, fold, arn bool) (bool, string) {
	firstMissing := ""
	for _, p := range pats {
		if p.raw == "*" {
			return true, ""
		}
		var ok bool
		var missing string
		if arn {
			ok, missing = p.matchARN(s, ctx)
		} else {
			ok, missing = p.match(s, ctx, fold)
		}
		if ok {
			return true, ""
		}
		if firstMissing == "" {
			firstMissing = missing
		}
	}
	return false, firstMissing
}

func patternList(pats []pattern) string {
	raws := make([]string, len(pats))
	for i, p := range pats {
		raws[i] = p.raw
	}
	return quoteList(raws)
}

func callerDesc(r Request) string {
	var parts []string
	if r.Principal.ARN != "" {
		parts = append(parts, r.Principal.ARN)
	}
	if r.Principal.RoleARN != "" && r.Principal.RoleARN != r.Principal.ARN {
		parts = append(parts, "role "+r.Principal.RoleARN)
	}
	if r.Principal.Account != "" {
		parts = append(parts, "account "+r.Principal.Account)
	}
	if r.Service != "" {
		parts = append(parts, "service "+r.Service)
	}
	if len(parts) == 0 {
		return "(anonymous)"
	}
	return strings.Join(parts, ", ")
}

// reqContext is the request context with case-insensitive key names.
type reqContext map[string][]string

func newContext(r Request) reqContext {
	ctx := make(reqContext, len(r.Context)+5)
	for k, v := range r.Context {
		if len(v) > 0 {
			ctx[strings.ToLower(k)] = v
		}
	}
	def := func(k, v string) {
		if _, ok := ctx[k]; !ok && v != "" {
			ctx[k] = []string{v}
		}
	}
	p := r.Principal
	if p.RoleARN != "" {
		def("aws:principalarn", p.RoleARN)
	} else {
		def("aws:principalarn", p.ARN)
	}
	def("aws:principalaccount", p.Account)
	def("aws:principalorgid", p.OrgID)
	def("aws:principalservicename", r.Service)
	if r.Service != "" {
		def("aws:principalisawsservice", "true")
	} else if p.ARN != "" || p.Account != "" {
		def("aws:principalisawsservice", "false")
	}
	return ctx
}

func (c reqContext) get(key string) ([]string, bool) {
	v, ok := c[strings.ToLower(key)]
	return v, ok && len(v) > 0
}
