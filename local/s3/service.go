package s3

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/crossbuild/crossbuild/internal/iam"
)

// Bucket is a bucket and what the deployer knows of it.
type Bucket struct {
	Name      string
	Account   string // the owner
	Region    string
	Partition string // default "aws"
	Created   time.Time
	// Versioning turns on object versions (CloudFormation's VersioningConfiguration
	// Status "Enabled").
	Versioning bool
	// Encryption and Lifecycle are CloudFormation's BucketEncryption and
	// LifecycleConfiguration as the template gave them: recorded and reported through
	// GetBucketEncryption and GetBucketLifecycleConfiguration, not applied (objects are not
	// encrypted and never expire).
	Encryption json.RawMessage
	Lifecycle  json.RawMessage
	// Policy is the bucket policy; empty for none.
	Policy json.RawMessage
}

type bucket struct {
	Bucket
	policy *iam.Policy
}

// Options configure the stand-in.
type Options struct {
	Logger *slog.Logger
	// Now is the clock for aws:CurrentTime and object times; nil means time.Now.
	Now func() time.Time
}

// Service is the S3 stand-in.
type Service struct {
	store *store
	fake  http.Handler
	log   *slog.Logger
	now   func() time.Time

	// InsecureTransport reports requests with aws:SecureTransport "false", as what they
	// are on the wire, instead of as the HTTPS requests they stand for.
	InsecureTransport bool

	mu       sync.RWMutex
	buckets  map[string]*bucket
	identity func(roleARN string) []*iam.Policy
}

// New returns an S3 stand-in with no buckets.
func New(opts Options) *Service {
	s := &Service{log: opts.Logger, now: opts.Now, buckets: map[string]*bucket{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.store = &store{Backend: s3mem.New(s3mem.WithTimeSource(clock{s.now})), now: s.now}
	s.fake = gofakes3.New(s.store,
		gofakes3.WithTimeSource(clock{s.now}),
		gofakes3.WithLogger(fakeLog{s.log}),
	).Server()
	return s
}

// SetIdentityPolicies gives the stand-in the identity-based policies of each role (by role
// ARN; an assumed-role session is decided with its role's). A principal without policies is
// allowed nothing by them.
func (s *Service) SetIdentityPolicies(f func(roleARN string) []*iam.Policy) {
	s.mu.Lock()
	s.identity = f
	s.mu.Unlock()
}

var (
	bucketNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	// Names S3 refuses although bucketNameRe admits them: adjacent dots, IP addresses.
	badBucketNameRe = regexp.MustCompile(`\.\.|^\d+\.\d+\.\d+\.\d+$`)
)

func validBucketName(name string) bool {
	return bucketNameRe.MatchString(name) && !badBucketNameRe.MatchString(name)
}

// CreateBucket creates a bucket owned by b.Account in b.Region, with its policy if given.
// Bucket names are global, as on S3.
func (s *Service) CreateBucket(b Bucket) error {
	if !validBucketName(b.Name) {
		return fmt.Errorf("s3: create bucket %q: not a valid bucket name (3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit)", b.Name)
	}
	if b.Account == "" || b.Region == "" {
		return fmt.Errorf("s3: create bucket %s: owner account and Region are required", b.Name)
	}
	if b.Partition == "" {
		b.Partition = "aws"
	}
	if b.Created.IsZero() {
		b.Created = s.now().UTC()
	}
	nb := &bucket{Bucket: b}
	if len(b.Policy) > 0 {
		p, err := iam.Parse(b.Policy)
		if err != nil {
			return fmt.Errorf("s3: create bucket %s: bucket policy: %w", b.Name, err)
		}
		nb.policy = p
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.buckets[b.Name]; dup {
		return fmt.Errorf("s3: create bucket %s: it already exists", b.Name)
	}
	if err := s.store.CreateBucket(b.Name); err != nil {
		return fmt.Errorf("s3: create bucket %s: %w", b.Name, err)
	}
	if b.Versioning {
		if err := s.store.SetVersioningConfiguration(b.Name, gofakes3.VersioningConfiguration{Status: gofakes3.VersioningEnabled}); err != nil {
			return fmt.Errorf("s3: create bucket %s: versioning: %w", b.Name, err)
		}
	}
	s.buckets[b.Name] = nb
	return nil
}

// SetBucketPolicy replaces a bucket's policy; an empty document removes it.
func (s *Service) SetBucketPolicy(name string, doc json.RawMessage) error {
	var p *iam.Policy
	if len(doc) > 0 {
		var err error
		if p, err = iam.Parse(doc); err != nil {
			return fmt.Errorf("s3: bucket %s: bucket policy: %w", name, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[name]
	if !ok {
		return fmt.Errorf("s3: bucket %s does not exist", name)
	}
	// Buckets are replaced, not changed in place: readers hold the old value.
	nb := *b
	nb.Policy, nb.policy = append(json.RawMessage(nil), doc...), p
	if len(doc) == 0 {
		nb.Policy = nil
	}
	s.buckets[name] = &nb
	return nil
}

// Bucket returns what is known of a bucket.
func (s *Service) Bucket(name string) (Bucket, bool) {
	b := s.lookup(name)
	if b == nil {
		return Bucket{}, false
	}
	return b.Bucket, true
}

// Buckets lists every bucket, by name.
func (s *Service) Buckets() []Bucket {
	s.mu.RLock()
	out := make([]Bucket, 0, len(s.buckets))
	for _, b := range s.buckets {
		out = append(out, b.Bucket)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (s *Service) lookup(name string) *bucket {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.buckets[name]
}

func (s *Service) identityPolicies(roleARN string) []*iam.Policy {
	s.mu.RLock()
	f := s.identity
	s.mu.RUnlock()
	if f == nil || roleARN == "" {
		return nil
	}
	return f(roleARN)
}

func (s *Service) logDecision(ctx context.Context, level slog.Level, msg string, attrs ...any) {
	s.log.Log(ctx, level, msg, attrs...)
}

// clock adapts the stand-in's clock to gofakes3.
type clock struct{ now func() time.Time }

func (c clock) Now() time.Time                  { return c.now() }
func (c clock) Since(t time.Time) time.Duration { return c.now().Sub(t) }

// fakeLog sends gofakes3's own messages to the stand-in's logger.
type fakeLog struct{ log *slog.Logger }

func (l fakeLog) Print(level gofakes3.LogLevel, v ...any) {
	switch level {
	case gofakes3.LogErr:
		l.log.Error("gofakes3", "message", fmt.Sprint(v...))
	case gofakes3.LogWarn:
		l.log.Warn("gofakes3", "message", fmt.Sprint(v...))
	}
}
