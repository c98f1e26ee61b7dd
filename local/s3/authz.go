package s3

import (
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/crossbuild/crossbuild/internal/iam"
	"github.com/crossbuild/crossbuild/local/localaws"
)

// decision is the outcome of authorizing one action, with what S3 would tell the caller
// and the full account for the log.
type decision struct {
	Allowed bool
	// Message is the AccessDenied message S3 gives the caller.
	Message string
	// Reason explains the decision in terms of the policies' statements.
	Reason string
}

var rootARNRe = regexp.MustCompile(`^arn:[a-z-]+:iam::[0-9]{12}:root$`)

// authorize decides whether p may perform action on resource (an ARN in bucket b), with
// the request's condition keys in ctx. It follows IAM's evaluation logic for S3: an
// explicit Deny anywhere denies; in the bucket owner's account an Allow from either the
// identity-based policies or the bucket policy suffices; across accounts both must allow.
func (s *Service) authorize(p localaws.Principal, b *bucket, action, resource string, ctx map[string][]string) decision {
	req := iam.Request{Principal: p, Action: action, Resource: resource, Context: ctx}
	sameAccount := p.Account == b.Account
	root := rootARNRe.MatchString(p.ARN)

	// The root user holds every identity-based permission of its account.
	idDecision, idWhy := iam.Allow, "the account's root user"
	if !root {
		var exp *iam.Explanation
		idDecision, exp = iam.EvaluateAll(req, false, s.identityPolicies(p.RoleARN)...)
		idWhy = exp.String()
	}
	resDecision, resWhy := iam.ImplicitDeny, "the bucket has no policy"
	var resExp *iam.Explanation
	if b.policy != nil {
		resDecision, resExp = b.policy.Evaluate(req, true)
		resWhy = resExp.String()
	}
	reason := "identity-based policies: " + idWhy + "; bucket policy: " + resWhy

	deny := func(why string) decision {
		msg := "Access Denied"
		if sameAccount {
			// S3 explains refusals to callers of the owner's account only.
			msg = fmt.Sprintf("User: %s is not authorized to perform: %s on resource: \"%s\" %s", p.ARN, action, resource, why)
		}
		return decision{Message: msg, Reason: reason}
	}
	switch {
	case idDecision == iam.ExplicitDeny:
		return deny("with an explicit deny in an identity-based policy")
	case resDecision == iam.ExplicitDeny:
		// The root user of the owner's account keeps the bucket policy operations, so a
		// policy that locks everyone out can be repaired.
		if root && sameAccount && strings.HasSuffix(action, "BucketPolicy") {
			return decision{Allowed: true, Reason: "the owner account's root user may always manage the bucket policy; " + reason}
		}
		return deny("with an explicit deny in a resource-based policy")
	case sameAccount:
		if idDecision == iam.Allow || (resDecision == iam.Allow && !onlyThroughAccount(resExp)) {
			return decision{Allowed: true, Reason: reason}
		}
		return deny(fmt.Sprintf("because no identity-based policy allows the %s action", action))
	case idDecision != iam.Allow:
		return deny(fmt.Sprintf("because no identity-based policy allows the %s action", action))
	case resDecision != iam.Allow:
		return deny(fmt.Sprintf("because no resource-based policy allows the %s action", action))
	}
	return decision{Allowed: true, Reason: reason}
}

// onlyThroughAccount reports whether every Allow statement that applied named the caller
// only by its account: that delegates to the account's identity-based policies, which must
// then allow the request too.
func onlyThroughAccount(exp *iam.Explanation) bool {
	for _, st := range exp.Applied {
		if st.Effect == iam.EffectAllow && st.PrincipalKind != iam.PrincipalAccount {
			return false
		}
	}
	return true
}

// requestContext is the condition keys of one request. r is nil for calls that do not come
// over HTTP (the Step Functions stand-in reading and writing objects as a role).
func (s *Service) requestContext(r *http.Request, b *bucket, region string) map[string][]string {
	now := s.now().UTC()
	ctx := map[string][]string{
		"aws:CurrentTime":     {now.Format(time.RFC3339)},
		"aws:EpochTime":       {strconv.FormatInt(now.Unix(), 10)},
		"aws:SecureTransport": {strconv.FormatBool(!s.InsecureTransport)},
		"s3:signatureversion": {"AWS4-HMAC-SHA256"},
		"s3:authType":         {"REST-HEADER"},
	}
	if !s.InsecureTransport {
		ctx["s3:TlsVersion"] = []string{"1.3"}
	}
	if region != "" {
		ctx["aws:RequestedRegion"] = []string{region}
	}
	if b != nil {
		ctx["aws:ResourceAccount"] = []string{b.Account}
		ctx["s3:ResourceAccount"] = []string{b.Account}
	}
	if r == nil {
		return ctx
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		ctx["aws:SourceIp"] = []string{host}
	}
	if ua := r.Header.Get("User-Agent"); ua != "" {
		ctx["aws:UserAgent"] = []string{ua}
	}
	q := r.URL.Query()
	for _, k := range []string{"prefix", "delimiter", "max-keys", "versionId"} {
		if _, ok := q[k]; ok {
			ctx["s3:"+strings.ToLower(k)] = []string{q.Get(k)}
		}
	}
	for _, h := range []string{"x-amz-acl", "x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id",
		"x-amz-storage-class", "x-amz-copy-source", "x-amz-metadata-directive", "x-amz-content-sha256", "x-amz-object-ownership"} {
		if v := r.Header.Get(h); v != "" {
			ctx["s3:"+h] = []string{v}
		}
	}
	return ctx
}
