// Package assume assumes target roles and caches their credentials across warm invocations.
package assume

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/crossbuild/crossbuild/internal/awserr"
	"github.com/crossbuild/crossbuild/internal/failure"
)

// STSAPI is the one STS operation used.
type STSAPI interface {
	AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)
}

// ExpiryWindow is how long before expiry cached credentials are refreshed, so a build
// started at the end of a session never signs with credentials about to lapse.
const ExpiryWindow = 2 * time.Minute

// maxEntries bounds the cache: a warm sandbox serving many executions must not grow forever.
const maxEntries = 256

type key struct{ role, session string }

// Roles hands out credentials for target roles. Entries are keyed by role and session
// name: the session name carries the execution, so CloudTrail in the target account shows
// which execution acted, while all targets of one execution that share a role (and every
// retry) reuse one AssumeRole.
type Roles struct {
	sts        STSAPI
	externalID string
	duration   time.Duration

	mu    sync.Mutex
	cache map[key]*aws.CredentialsCache
	order []key // insertion order, for eviction
}

// NewRoles returns a credential cache. duration is the session lifetime (900 s minimum).
func NewRoles(client STSAPI, externalID string, duration time.Duration) *Roles {
	return &Roles{sts: client, externalID: externalID, duration: duration, cache: map[key]*aws.CredentialsCache{}}
}

// Credentials returns a provider for roleARN whose credentials were retrieved (or are still
// valid), so that a refused AssumeRole is reported here as *failure.AssumeRoleFailed (or
// *failure.TransientError for throttling and outages) rather than later, while signing
// another service's request.
func (r *Roles) Credentials(ctx context.Context, roleARN, sessionName string) (aws.CredentialsProvider, error) {
	c := r.entry(roleARN, sessionName)
	if _, err := c.Retrieve(ctx); err != nil {
		if awserr.IsRetryable(err) {
			return nil, &failure.TransientError{Op: "assume role " + roleARN, Err: err}
		}
		return nil, &failure.AssumeRoleFailed{RoleARN: roleARN, Err: err}
	}
	return c, nil
}

func (r *Roles) entry(roleARN, sessionName string) *aws.CredentialsCache {
	k := key{roleARN, sessionName}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.cache[k]; ok {
		return c
	}
	if len(r.order) >= maxEntries {
		delete(r.cache, r.order[0])
		r.order = r.order[1:]
	}
	p := stscreds.NewAssumeRoleProvider(r.sts, roleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = sessionName
		o.ExternalID = aws.String(r.externalID)
		o.Duration = r.duration
	})
	c := aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = ExpiryWindow })
	r.cache[k] = c
	r.order = append(r.order, k)
	return c
}

var sessionUnsafe = regexp.MustCompile(`[^\w+=,.@-]`)

// SessionPrefix starts every session name crossbuild uses; IsCrossbuildSession relies on
// it, and so does the source bus archive's pattern (infra/stacks).
const SessionPrefix = "crossbuild"

const sessionPrefix = SessionPrefix

// maxSessionName is STS's limit on a role session name.
const maxSessionName = 64

// SessionName derives a role session name (2-64 characters of [\w+=,.@-]) from an
// execution ARN: "crossbuild-<execution name>", shortened with a hash suffix when too long
// so two long names never collide.
func SessionName(executionARN string) string {
	name := executionARN
	if i := strings.LastIndex(executionARN, ":"); i >= 0 {
		name = executionARN[i+1:]
	}
	name = sessionUnsafe.ReplaceAllString(name, "-")
	s := sessionPrefix + "-" + name
	if name == "" {
		s = sessionPrefix
	}
	if len(s) <= maxSessionName {
		return s
	}
	sum := sha256.Sum256([]byte(executionARN))
	return s[:maxSessionName-9] + "-" + hex.EncodeToString(sum[:4])
}

// IsCrossbuildSession reports whether name is a role session name SessionName can produce,
// so that a build's initiator tells whether crossbuild could have started it. It does not
// say which execution: the hashed long form cannot be reversed.
func IsCrossbuildSession(name string) bool {
	if len(name) > maxSessionName || sessionUnsafe.MatchString(name) {
		return false
	}
	return name == sessionPrefix || (len(name) > len(sessionPrefix)+1 && strings.HasPrefix(name, sessionPrefix+"-"))
}

// Validate checks settings at cold start.
func Validate(externalID string, duration time.Duration) error {
	if len(externalID) < 2 || len(externalID) > 1224 || !externalIDRe.MatchString(externalID) {
		return fmt.Errorf("external id must be 2-1224 characters of letters, digits and +=,.@:/-")
	}
	// A Lambda function's credentials are themselves a role session, so assuming the
	// target role is role chaining, which AWS caps at one hour.
	if duration < 15*time.Minute || duration > time.Hour {
		return fmt.Errorf("session duration must be between 900 and 3600 seconds (role chaining limit)")
	}
	return nil
}

var externalIDRe = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
