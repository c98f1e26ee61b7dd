package sts

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crossbuild/crossbuild/internal/awsarn"
	"github.com/crossbuild/crossbuild/internal/iam"
	"github.com/crossbuild/crossbuild/local/localaws"
)

// unsupported are AssumeRole parameters (or prefixes of list parameters) this stand-in
// refuses rather than ignores.
var unsupported = []string{"Policy", "PolicyArns.", "Tags.", "TransitiveTagKeys.", "SerialNumber", "TokenCode", "SourceIdentity", "ProvidedContexts."}

type assumeInput struct {
	roleARN, session, externalID string
	role                         awsarn.Role
	hasExternalID                bool
	duration                     time.Duration // 0: not given
}

// assumeRole is the AssumeRole action: read the request, decide, issue.
func (s *Service) assumeRole(r *http.Request, caller localaws.Caller) (any, error) {
	in, err := parseAssumeInput(r.Form)
	if err != nil {
		return nil, err
	}
	target, trustExp, err := s.authorize(r.Context(), caller, in, s.requestContext(r, caller, in))
	if err != nil {
		return nil, err
	}
	duration, err := sessionDuration(caller, target, in)
	if err != nil {
		return nil, err
	}
	sessionARN := fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", in.role.Partition, target.Account, target.Name, in.session)
	creds := s.ids.Temporary(localaws.Principal{
		Account: target.Account,
		ARN:     sessionARN,
		RoleARN: target.ARN,
		OrgID:   target.OrgID,
	}, duration)
	s.log(r.Context(), slog.LevelDebug, "AssumeRole allowed", "caller", caller.ARN, "role", target.ARN, "session", sessionARN, "reason", trustExp.String())
	return assumeRoleResult{
		AssumedRoleUser: assumedRoleUser{Arn: sessionARN, AssumedRoleID: target.id + ":" + in.session},
		Credentials: xmlCredentials{
			AccessKeyID:     creds.AccessKeyID,
			SecretAccessKey: creds.SecretAccessKey,
			SessionToken:    creds.SessionToken,
			Expiration:      creds.Expiration.UTC().Format(time.RFC3339),
		},
	}, nil
}

// parseAssumeInput refuses the parameters this stand-in does not emulate and checks the
// others against the STS API reference.
func parseAssumeInput(f url.Values) (assumeInput, error) {
	for k := range f {
		for _, u := range unsupported {
			if k == u || (strings.HasSuffix(u, ".") && strings.HasPrefix(k, u)) {
				return assumeInput{}, localaws.BadRequest("NotImplemented",
					"the local STS does not emulate %s: the session would get other permissions than on AWS", strings.TrimSuffix(u, "."))
			}
		}
	}
	in, problems := readAssumeInput(f)
	if len(problems) > 0 {
		noun := "error"
		if len(problems) > 1 {
			noun = "errors"
		}
		return assumeInput{}, validation(fmt.Sprintf("%d validation %s detected: %s", len(problems), noun, strings.Join(problems, "; ")))
	}
	role, err := awsarn.ParseRole(in.roleARN)
	if err != nil || !servedPartitions[role.Partition] {
		return assumeInput{}, validation("Request ARN is invalid")
	}
	in.role = role
	return in, nil
}

// authorize decides whether caller may assume the role in: the role's trust policy and,
// when IdentityPolicies is set, the caller's own policies. A denial is logged with its
// reason and answered with AWS's message, which does not give it.
func (s *Service) authorize(ctx context.Context, caller localaws.Caller, in assumeInput, reqCtx map[string][]string) (*role, *iam.Explanation, error) {
	denied := func(reason string, attrs ...any) error {
		s.log(ctx, slog.LevelInfo, "AssumeRole denied", append([]any{"caller", caller.ARN, "role", in.roleARN, "reason", reason}, attrs...)...)
		return localaws.Errorf(http.StatusForbidden, "AccessDenied",
			"User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.ARN, in.roleARN)
	}
	if strings.HasSuffix(caller.ARN, ":root") {
		s.log(ctx, slog.LevelInfo, "AssumeRole denied", "caller", caller.ARN, "role", in.roleARN, "reason", "root user")
		return nil, nil, localaws.Errorf(http.StatusForbidden, "AccessDenied", "Roles may not be assumed by root accounts.")
	}
	target, ok := s.role(in.roleARN)
	if !ok {
		return nil, nil, denied("no such role")
	}
	req := iam.Request{Principal: caller.Principal, Action: "sts:AssumeRole", Resource: target.ARN, Context: reqCtx}
	trust, trustExp := target.Trust.Evaluate(req, true)
	if trust != iam.Allow {
		return nil, nil, denied("trust policy: "+trustExp.String(), "decision", trust.String())
	}
	if s.IdentityPolicies == nil {
		return target, trustExp, nil
	}
	id, idExp := iam.EvaluateAll(req, false, s.IdentityPolicies(caller.RoleARN)...)
	needed := caller.Account != target.Account || onlyThroughAccount(trustExp)
	switch {
	case id == iam.ExplicitDeny:
		return nil, nil, denied("identity policy: "+idExp.String(), "decision", id.String())
	case needed && id != iam.Allow:
		why := "the role is in another account"
		if caller.Account == target.Account {
			why = "the trust policy trusts the caller's account, not the caller"
		}
		return nil, nil, denied("identity policy ("+why+"): "+idExp.String(), "decision", id.String())
	}
	return target, trustExp, nil
}

// sessionDuration is the session's length: the one asked for, within the role's maximum
// and, for role chaining, within one hour.
func sessionDuration(caller localaws.Caller, target *role, in assumeInput) (time.Duration, error) {
	duration := in.duration
	if duration == 0 {
		duration = DefaultSession
	}
	if duration > target.MaxSession {
		return 0, validation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	if strings.Contains(caller.ARN, ":assumed-role/") && duration > RoleChainingLimit {
		return 0, validation("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	return duration, nil
}

// onlyThroughAccount reports whether every Allow statement that applied trusted the caller
// by account (the account id or its root ARN) rather than by name: then AWS requires the
// caller's own identity policy to allow the call, in the same account too.
func onlyThroughAccount(exp *iam.Explanation) bool {
	for _, s := range exp.Applied {
		if s.Effect == iam.EffectAllow && s.PrincipalKind != iam.PrincipalAccount {
			return false
		}
	}
	return true
}

// readAssumeInput checks AssumeRole's parameters against the constraints of the STS API
// reference, reporting problems in AWS's words.
func readAssumeInput(f url.Values) (assumeInput, []string) {
	var in assumeInput
	var problems []string
	bad := func(value, member, constraint string) {
		v := "null"
		if value != "\x00" {
			v = "'" + value + "'"
		}
		problems = append(problems, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: Member must %s", v, member, constraint))
	}

	in.roleARN = f.Get("RoleArn")
	switch n := len(in.roleARN); {
	case !f.Has("RoleArn"):
		bad("\x00", "roleArn", "not be null")
	case n < 20:
		bad(in.roleARN, "roleArn", "have length greater than or equal to 20")
	case n > 2048:
		bad(in.roleARN, "roleArn", "have length less than or equal to 2048")
	}

	in.session = f.Get("RoleSessionName")
	switch n := len(in.session); {
	case !f.Has("RoleSessionName"):
		bad("\x00", "roleSessionName", "not be null")
	case n < 2:
		bad(in.session, "roleSessionName", "have length greater than or equal to 2")
	case n > 64:
		bad(in.session, "roleSessionName", "have length less than or equal to 64")
	case !sessionRe.MatchString(in.session):
		bad(in.session, "roleSessionName", `satisfy regular expression pattern: [\w+=,.@-]*`)
	}

	if f.Has("DurationSeconds") {
		v := f.Get("DurationSeconds")
		n, err := strconv.ParseInt(v, 10, 32)
		switch {
		case err != nil:
			bad(v, "durationSeconds", "be an integer")
		case n < int64(MinSession/time.Second):
			bad(v, "durationSeconds", "have value greater than or equal to 900")
		case n > int64(MaxSessionLimit/time.Second):
			bad(v, "durationSeconds", "have value less than or equal to 43200")
		default:
			in.duration = time.Duration(n) * time.Second
		}
	}

	if f.Has("ExternalId") {
		in.externalID, in.hasExternalID = f.Get("ExternalId"), true
		switch n := len(in.externalID); {
		case n < 2:
			bad(in.externalID, "externalId", "have length greater than or equal to 2")
		case n > 1224:
			bad(in.externalID, "externalId", "have length less than or equal to 1224")
		case !extIDRe.MatchString(in.externalID):
			bad(in.externalID, "externalId", `satisfy regular expression pattern: [\w+=,.@:\/-]*`)
		}
	}
	return in, problems
}

// requestContext is the request context AWS evaluates a trust policy with.
func (s *Service) requestContext(r *http.Request, caller localaws.Caller, in assumeInput) map[string][]string {
	now := s.now().UTC()
	principalARN := caller.RoleARN
	if principalARN == "" {
		principalARN = caller.ARN
	}
	ctx := map[string][]string{
		"aws:PrincipalArn":     {principalARN},
		"aws:PrincipalAccount": {caller.Account},
		"sts:RoleSessionName":  {in.session},
		"aws:CurrentTime":      {now.Format(time.RFC3339)},
		"aws:EpochTime":        {strconv.FormatInt(now.Unix(), 10)},
		"aws:SecureTransport":  {strconv.FormatBool(r.TLS != nil)},
	}
	if caller.OrgID != "" {
		ctx["aws:PrincipalOrgID"] = []string{caller.OrgID}
	}
	if in.hasExternalID {
		ctx["sts:ExternalId"] = []string{in.externalID}
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		ctx["aws:SourceIp"] = []string{host}
	}
	return ctx
}

func validation(msg string) error {
	return localaws.BadRequest("ValidationError", "%s", msg)
}

func (s *Service) log(ctx context.Context, level slog.Level, msg string, attrs ...any) {
	if s.Logger != nil {
		s.Logger.Log(ctx, level, msg, attrs...)
	}
}
