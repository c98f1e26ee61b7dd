// Package sts is crossbuild's local stand-in for AWS STS: AssumeRole, with role trust
// policies evaluated by package iam, and GetCallerIdentity, over the STS query protocol
// (form-encoded requests, XML responses, Version 2011-06-15) so that real SDK clients and
// stscreds.AssumeRoleProvider work against it unchanged.
//
// Serve it through localaws.Router, which resolves the caller from the access key id. The
// credentials AssumeRole issues are registered with the same localaws.Identities, so
// requests signed with them reach every stand-in as the assumed-role session.
//
// What AWS checks and this stand-in checks too: the parameter constraints of the STS API
// reference (ValidationError, 400); that the role exists and its trust policy allows the
// caller (AccessDenied, 403, with AWS's message, which does not say why: the reason is
// logged through Service.Logger); that root users cannot assume roles; DurationSeconds
// against the role's maximum session duration and, for role chaining (a caller that is
// itself an assumed-role session, as every Lambda function is), against one hour; and,
// when Service.IdentityPolicies is set, the caller's own identity-based policies, as AWS
// requires for cross-account access and for trust policies that trust a whole account.
//
// Session policies, session tags, source identities and MFA parameters are refused with
// NotImplemented rather than ignored, since ignoring them would make sessions broader
// than on AWS.
package sts

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/crossbuild/crossbuild/internal/awsarn"
	"github.com/crossbuild/crossbuild/internal/iam"
	"github.com/crossbuild/crossbuild/local/localaws"
)

// APIVersion is the only STS API version served.
const APIVersion = "2011-06-15"

// Session duration limits.
const (
	MinSession        = 15 * time.Minute
	DefaultSession    = time.Hour
	MaxSessionLimit   = 12 * time.Hour // the largest MaxSessionDuration a role may have
	RoleChainingLimit = time.Hour
)

// Role is an IAM role that can be assumed.
type Role struct {
	ARN     string // arn:aws:iam::<account>:role/<path><name>
	Account string // defaults to the ARN's account
	Name    string // defaults to the ARN's role name
	Trust   *iam.Policy
	// TrustDocument is the trust policy's text, as IAM's GetRole returns it.
	TrustDocument json.RawMessage
	// MaxSession is the role's MaxSessionDuration: 1 to 12 hours, default 1 hour.
	MaxSession time.Duration
	// OrgID is the AWS Organization of the role's account, carried by its sessions.
	OrgID string
}

type role struct {
	Role
	id string // the role's unique id, AROA...
}

// Service is the STS stand-in.
type Service struct {
	ids *localaws.Identities

	// IdentityPolicies, when set, returns the identity-based policies attached to the
	// caller's role (principalRoleARN is the caller's RoleARN). AssumeRole then also
	// requires, as AWS does, that they allow sts:AssumeRole on the role when the role is in
	// another account or its trust policy trusts the caller only through its account, and
	// that they do not explicitly deny it. A caller with no policies is allowed nothing.
	IdentityPolicies func(principalRoleARN string) []*iam.Policy

	// Logger, when set, records each AssumeRole decision with the policy explanation that
	// the AWS-shaped error message leaves out.
	Logger *slog.Logger

	// Now is the clock for aws:CurrentTime and aws:EpochTime; nil means time.Now.
	Now func() time.Time

	proto *localaws.QueryProtocol

	mu    sync.RWMutex
	roles map[string]*role
}

// New returns an STS stand-in that issues credentials into ids.
func New(ids *localaws.Identities) *Service {
	s := &Service{ids: ids, roles: map[string]*role{}}
	s.proto = &localaws.QueryProtocol{Service: "STS", Version: APIVersion, Xmlns: xmlns, AllowGet: true,
		Actions: map[string]localaws.QueryAction{"AssumeRole": s.assumeRole, "GetCallerIdentity": s.getCallerIdentity}}
	return s
}

// servedPartitions are the partitions whose roles the stand-in serves.
var servedPartitions = map[string]bool{"aws": true, "aws-cn": true, "aws-us-gov": true}

var (
	sessionRe = regexp.MustCompile(`^[\w+=,.@-]*$`)
	extIDRe   = regexp.MustCompile(`^[\w+=,.@:/-]*$`)
)

// AddRole registers a role. The ARN must be a well-formed role ARN agreeing with Account
// and Name when they are given, Trust is required, and MaxSession must be within 1 to 12
// hours (0 means 1 hour).
func (s *Service) AddRole(r Role) error {
	a, err := awsarn.ParseRole(r.ARN)
	if err != nil || !servedPartitions[a.Partition] {
		return fmt.Errorf("sts: add role: %q is not a role ARN (arn:aws:iam::<12-digit account>:role/<path/><name>)", r.ARN)
	}
	if r.Account == "" {
		r.Account = a.Account
	} else if r.Account != a.Account {
		return fmt.Errorf("sts: add role %s: account %q does not match the ARN's %q", r.ARN, r.Account, a.Account)
	}
	if r.Name == "" {
		r.Name = a.Name
	} else if r.Name != a.Name {
		return fmt.Errorf("sts: add role %s: name %q does not match the ARN's %q", r.ARN, r.Name, a.Name)
	}
	if r.Trust == nil {
		return fmt.Errorf("sts: add role %s: a trust policy is required", r.ARN)
	}
	if r.MaxSession == 0 {
		r.MaxSession = DefaultSession
	}
	if r.MaxSession < time.Hour || r.MaxSession > MaxSessionLimit {
		return fmt.Errorf("sts: add role %s: MaxSession %v is outside 1h to 12h", r.ARN, r.MaxSession)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.roles[r.ARN]; dup {
		return fmt.Errorf("sts: add role: %s already exists", r.ARN)
	}
	s.roles[r.ARN] = &role{Role: r, id: uniqueID("AROA", r.ARN)}
	return nil
}

// RoleByName returns the role of an account with a name (IAM role names are unique per
// account, whatever the path).
func (s *Service) RoleByName(account, name string) (Role, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, r := range s.roles {
		if r.Account == account && r.Name == name {
			return r.Role, true
		}
	}
	return Role{}, false
}

// SetTrust replaces a role's trust policy, as IAM's UpdateAssumeRolePolicy does.
func (s *Service) SetTrust(arn string, doc json.RawMessage) error {
	trust, err := iam.Parse(doc)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.roles[arn]
	if !ok {
		return fmt.Errorf("sts: role %s does not exist", arn)
	}
	// A new entry rather than a change in place: AssumeRole reads a role after the lock.
	next := *r
	next.Trust, next.TrustDocument = trust, append(json.RawMessage(nil), doc...)
	s.roles[arn] = &next
	return nil
}

func (s *Service) role(arn string) (*role, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.roles[arn]
	return r, ok
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// ServeHTTP serves the STS query protocol.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.proto.ServeHTTP(w, r)
}

func (s *Service) getCallerIdentity(_ *http.Request, caller localaws.Caller) (any, error) {
	return getCallerIdentityResult{Arn: caller.ARN, UserID: s.userID(caller.Principal), Account: caller.Account}, nil
}

// userID is GetCallerIdentity's UserId: the account id for the root user, "<role id>:<session>"
// for an assumed-role session, the unique id for a role or user.
func (s *Service) userID(p localaws.Principal) string {
	switch {
	case strings.HasSuffix(p.ARN, ":root"):
		return p.Account
	case strings.Contains(p.ARN, ":assumed-role/"):
		session := p.ARN[strings.LastIndex(p.ARN, "/")+1:]
		return s.roleID(p.RoleARN) + ":" + session
	case strings.Contains(p.ARN, ":role/"):
		return s.roleID(p.ARN)
	}
	return uniqueID("AIDA", p.ARN)
}

func (s *Service) roleID(arn string) string {
	if r, ok := s.role(arn); ok {
		return r.id
	}
	return uniqueID("AROA", arn)
}

// uniqueID is a stable IAM-style unique id (prefix plus 17 characters) for an ARN.
func uniqueID(prefix, arn string) string {
	sum := sha256.Sum256([]byte(arn))
	return prefix + strings.ToUpper(hex.EncodeToString(sum[:]))[:17]
}
