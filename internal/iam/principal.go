package iam

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// PrincipalKind says how a statement's Principal matched a request.
type PrincipalKind int

// Principal kinds.
const (
	PrincipalNone    PrincipalKind = iota // identity-based policy: no principal involved
	PrincipalAny                          // "*" or {"AWS": "*"}
	PrincipalAccount                      // an account id or arn:aws:iam::<account>:root
	PrincipalARN                          // a role, user or session ARN
	PrincipalService                      // a service principal such as events.amazonaws.com
	PrincipalNot                          // NotPrincipal: the caller is not among those listed
)

func (k PrincipalKind) String() string {
	switch k {
	case PrincipalAny:
		return "any principal"
	case PrincipalAccount:
		return "account"
	case PrincipalARN:
		return "principal ARN"
	case PrincipalService:
		return "service principal"
	case PrincipalNot:
		return "NotPrincipal"
	}
	return "none"
}

type principalSet struct {
	any       bool
	aws       []awsPrincipal
	service   []string
	federated []string
	canonical []string
}

type awsPrincipal struct {
	raw     string
	kind    PrincipalKind // PrincipalAccount or PrincipalARN; PrincipalNone for unique ids
	account string
	role    bool // an IAM role ARN: matches the role's sessions too
}

var (
	accountRe  = regexp.MustCompile(`^[0-9]{12}$`)
	rootARNRe  = regexp.MustCompile(`^arn:[a-z-]+:iam::([0-9]{12}):root$`)
	iamARNRe   = regexp.MustCompile(`^arn:[a-z-]+:iam::([0-9]{12}):(role|user)/[\x21-\x7e]+$`)
	stsARNRe   = regexp.MustCompile(`^arn:[a-z-]+:sts::([0-9]{12}):(assumed-role|federated-user)/[\x21-\x7e]+$`)
	uniqueIDRe = regexp.MustCompile(`^(AROA|AIDA)[A-Z0-9]{8,}$`)
	serviceRe  = regexp.MustCompile(`^[a-z0-9.-]+\.[a-z0-9.-]+$`)
)

// parsePrincipal reads "*" or {"AWS": ..., "Service": ..., "Federated": ..., "CanonicalUser": ...}.
func parsePrincipal(raw json.RawMessage, field string) (*principalSet, error) {
	if firstByte(raw) == '"' {
		s, err := str(raw, field)
		if err != nil {
			return nil, err
		}
		if s != "*" {
			return nil, perr(field, "%q: a principal string must be \"*\"; name principals as {\"AWS\": ...} or {\"Service\": ...}", s)
		}
		return &principalSet{any: true}, nil
	}
	m, err := object(raw, field)
	if err != nil {
		return nil, perr(field, "must be \"*\" or an object with AWS, Service, Federated or CanonicalUser")
	}
	if len(m) == 0 {
		return nil, perr(field, "names no principal")
	}
	ps := &principalSet{}
	for _, k := range sortedKeys(m) {
		f := field + "." + k
		vals, err := strOrList(m[k], f)
		if err != nil {
			return nil, err
		}
		for i, v := range vals {
			fi := fmt.Sprintf("%s[%d]", f, i)
			if v == "" {
				return nil, perr(fi, "is empty")
			}
			switch k {
			case "AWS":
				if v == "*" {
					ps.any = true
					continue
				}
				ap, err := parseAWSPrincipal(v)
				if err != nil {
					return nil, perr(fi, "%v", err)
				}
				ps.aws = append(ps.aws, ap)
			case "Service":
				if !serviceRe.MatchString(v) {
					return nil, perr(fi, "%q is not a service principal such as \"events.amazonaws.com\"", v)
				}
				ps.service = append(ps.service, v)
			case "Federated":
				if strings.ContainsAny(v, "*?") {
					return nil, perr(fi, "%q: wildcards are not allowed in a principal", v)
				}
				ps.federated = append(ps.federated, v)
			case "CanonicalUser":
				ps.canonical = append(ps.canonical, v)
			default:
				return nil, perr(f, "unknown principal type (want AWS, Service, Federated or CanonicalUser)")
			}
		}
	}
	return ps, nil
}

func parseAWSPrincipal(v string) (awsPrincipal, error) {
	if strings.ContainsAny(v, "*?") {
		return awsPrincipal{}, fmt.Errorf("%q: wildcards are not allowed in a principal other than \"*\" alone; match patterns with a condition on aws:PrincipalArn", v)
	}
	if accountRe.MatchString(v) {
		return awsPrincipal{raw: v, kind: PrincipalAccount, account: v}, nil
	}
	if m := rootARNRe.FindStringSubmatch(v); m != nil {
		return awsPrincipal{raw: v, kind: PrincipalAccount, account: m[1]}, nil
	}
	if m := iamARNRe.FindStringSubmatch(v); m != nil {
		return awsPrincipal{raw: v, kind: PrincipalARN, account: m[1], role: m[2] == "role"}, nil
	}
	if m := stsARNRe.FindStringSubmatch(v); m != nil {
		return awsPrincipal{raw: v, kind: PrincipalARN, account: m[1]}, nil
	}
	if uniqueIDRe.MatchString(v) {
		// What IAM shows in place of a deleted principal: it matches nobody.
		return awsPrincipal{raw: v, kind: PrincipalNone}, nil
	}
	return awsPrincipal{}, fmt.Errorf("%q is not an account id, arn:<partition>:iam::<account>:root, or an IAM role, user or STS session ARN", v)
}

// match reports how the set names the request's caller, with a description of the entry
// that matched.
func (ps *principalSet) match(r Request) (PrincipalKind, string, bool) {
	if ps.any {
		return PrincipalAny, `"*"`, true
	}
	p := r.Principal
	if p.Account != "" || p.ARN != "" {
		for _, a := range ps.aws {
			switch a.kind {
			case PrincipalAccount:
				if p.Account == a.account {
					return PrincipalAccount, "AWS " + a.raw, true
				}
			case PrincipalARN:
				// A role ARN stands for the role's sessions: compare with the role behind
				// the caller's session as well as with the caller's own ARN.
				if p.ARN == a.raw || (a.role && p.RoleARN == a.raw) {
					return PrincipalARN, "AWS " + a.raw, true
				}
			}
		}
	}
	if r.Service != "" {
		for _, s := range ps.service {
			if strings.EqualFold(s, r.Service) {
				return PrincipalService, "Service " + s, true
			}
		}
	}
	// Federated and CanonicalUser principals name identity providers and S3 canonical
	// users, which the local world does not have: they match no request.
	return PrincipalNone, "", false
}

func (ps *principalSet) String() string {
	if ps.any {
		return `"*"`
	}
	var parts []string
	for _, a := range ps.aws {
		parts = append(parts, "AWS "+a.raw)
	}
	for _, s := range ps.service {
		parts = append(parts, "Service "+s)
	}
	for _, f := range ps.federated {
		parts = append(parts, "Federated "+f)
	}
	for _, c := range ps.canonical {
		parts = append(parts, "CanonicalUser "+c)
	}
	return strings.Join(parts, ", ")
}
