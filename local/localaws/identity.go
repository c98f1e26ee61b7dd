package localaws

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Principal is who signed a request.
type Principal struct {
	Account string
	// ARN of the caller: arn:aws:iam::<acct>:root, arn:aws:iam::<acct>:role/<name>, or
	// arn:aws:sts::<acct>:assumed-role/<name>/<session> for temporary credentials.
	ARN string
	// RoleARN is the IAM role behind an assumed-role session (the value of aws:PrincipalArn);
	// for other principals it equals ARN.
	RoleARN string
	// OrgID is the caller account's AWS Organization, if the local world defines one.
	OrgID string
}

// Credentials are an access key pair, with a session token for temporary ones.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

// Identities maps access key ids to principals.
type Identities struct {
	mu    sync.RWMutex
	byKey map[string]entry
	now   func() time.Time
}

type entry struct {
	p       Principal
	expires time.Time // zero for long-term keys
}

// NewIdentities returns an empty registry.
func NewIdentities() *Identities {
	return &Identities{byKey: map[string]entry{}, now: time.Now}
}

// LongTerm creates long-term credentials for p (an account root or a function's role).
func (i *Identities) LongTerm(p Principal) Credentials {
	c := Credentials{AccessKeyID: "AKIA" + randomID(8), SecretAccessKey: randomID(20)}
	i.mu.Lock()
	i.byKey[c.AccessKeyID] = entry{p: p}
	i.mu.Unlock()
	return c
}

// Temporary issues session credentials for p valid for ttl.
func (i *Identities) Temporary(p Principal, ttl time.Duration) Credentials {
	exp := i.now().Add(ttl).UTC().Truncate(time.Second)
	c := Credentials{AccessKeyID: "ASIA" + randomID(8), SecretAccessKey: randomID(20), SessionToken: randomID(32), Expiration: exp}
	i.mu.Lock()
	i.byKey[c.AccessKeyID] = entry{p: p, expires: exp}
	i.mu.Unlock()
	return c
}

// ErrUnknownKey and ErrExpiredKey are returned by Lookup.
var (
	ErrUnknownKey = fmt.Errorf("the security token included in the request is invalid")
	ErrExpiredKey = fmt.Errorf("the security token included in the request is expired")
)

// Lookup returns the principal an access key id stands for.
func (i *Identities) Lookup(accessKeyID string) (Principal, error) {
	i.mu.RLock()
	e, ok := i.byKey[accessKeyID]
	i.mu.RUnlock()
	if !ok {
		return Principal{}, ErrUnknownKey
	}
	if !e.expires.IsZero() && i.now().After(e.expires) {
		return Principal{}, ErrExpiredKey
	}
	return e.p, nil
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))[:2*n]
}

// Caller is the resolved identity and target of one request.
type Caller struct {
	Principal
	Region  string // from the credential scope
	Service string // from the credential scope: sts, codebuild, states, events, dynamodb, lambda
}

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller of the request in ctx.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}
