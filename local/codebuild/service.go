package codebuild

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/crossbuild/crossbuild/local/localaws"
)

// Publisher puts events on an account's and Region's default event bus. The EventBridge
// stand-in implements it.
type Publisher interface {
	PublishDefault(ctx context.Context, account, region string, event json.RawMessage) error
}

// Options tune a Service. The zero value works.
type Options struct {
	// WorkDir is where build directories are made (a temporary folder of its own inside
	// it); the OS temporary directory by default. Everything under it is removed by Close.
	WorkDir string
	// LogDir receives one log file per build, kept after Close. Empty: logs live in the
	// work folder and go with it.
	LogDir string
	// Clock gives the times builds and events report; time.Now by default.
	Clock func() time.Time
	// PhaseDelay is spent in every phase, so that a watcher sees builds progress and
	// events arrive apart. Zero in tests.
	PhaseDelay time.Duration
	// TimeoutUnit is how long one minute of a build's timeout lasts; time.Minute by
	// default. Tests shrink it to reach TIMED_OUT quickly.
	TimeoutUnit time.Duration
	// Shell runs the commands; /bin/sh by default. A buildspec's `env: shell: bash`
	// switches to bash.
	Shell string
	// Logger receives the stand-in's own diagnostics; discarded by default.
	Logger *slog.Logger

	// ConcurrentBuilds is CodeBuild's "concurrently running builds" quota, counted per
	// account, Region and compute type as CodeBuild counts it; 0 is unlimited. A build
	// started beyond it waits in QUEUED for a running one to finish.
	ConcurrentBuilds int
	// QueuedBuilds is how many builds may wait in QUEUED at once: 0 means five times
	// ConcurrentBuilds, CodeBuild's own rule; a negative value lets none wait. A StartBuild
	// beyond it fails with AccountLimitExceededException.
	QueuedBuilds int
	// Quotas replaces ConcurrentBuilds and QueuedBuilds for the accounts and Regions it
	// names, as a quota increase (or a new account's low quota) does in AWS.
	Quotas map[Scope]Quota
}

// closeWait bounds how long Close waits for stopped builds to wind down.
const closeWait = 10 * time.Second

// Service is the CodeBuild stand-in: projects, builds, and the HTTP API over them.
type Service struct {
	pub  Publisher
	opts Options
	log  *slog.Logger

	// ctx ends with Close: it stops every build and cuts publishing short.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	root     string // work folder, made on first use
	projects map[projectKey]Project
	numbers  map[projectKey]int64
	builds   map[buildKey]*build
	tokens   map[tokenKey]tokenUse
	// tokenOrder lists token uses oldest first, so that expired ones are dropped without
	// scanning every token at each StartBuild.
	tokenOrder []tokenEntry
	pools      map[poolKey]*pool

	api *localaws.JSONProtocol
}

type tokenEntry struct {
	key tokenKey
	at  time.Time
}

type projectKey struct{ account, region, name string }

type buildKey struct{ account, region, id string }

type tokenKey struct{ account, region, project, token string }

// tokenUse remembers the build an idempotency token started and the request it came with.
type tokenUse struct {
	buildID     string
	fingerprint string
	at          time.Time
}

// New returns a Service publishing its events through pub (nil: events are dropped).
func New(pub Publisher, opts Options) *Service {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.TimeoutUnit <= 0 {
		opts.TimeoutUnit = time.Minute
	}
	if opts.Shell == "" {
		opts.Shell = "/bin/sh"
	}
	if opts.WorkDir == "" {
		opts.WorkDir = os.TempDir()
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{
		pub: pub, opts: opts, log: log, ctx: ctx, cancel: cancel,
		projects: map[projectKey]Project{},
		numbers:  map[projectKey]int64{},
		builds:   map[buildKey]*build{},
		tokens:   map[tokenKey]tokenUse{},
		pools:    map[poolKey]*pool{},
	}
	s.api = s.protocol()
	return s
}

// AddProject defines a project, as deploying a template would.
func (s *Service) AddProject(p Project) error {
	p, err := p.withDefaults()
	if err != nil {
		return err
	}
	k := projectKey{p.Account, p.Region, p.Name}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.projects[k]; ok {
		return &ProjectExistsError{Account: p.Account, Region: p.Region, Name: p.Name}
	}
	s.projects[k] = p
	return nil
}

// BuildInfo is what the stand-in knows about a build.
type BuildInfo struct {
	ID, ARN                  string
	Account, Region, Project string
	Number                   int64
	// Status is IN_PROGRESS, SUCCEEDED, FAILED, FAULT, STOPPED or TIMED_OUT.
	Status       string
	CurrentPhase string
	Phases       []PhaseInfo
	// Env holds the project's variables with the StartBuild overrides laid over them,
	// as BatchGetBuilds reports them.
	Env           []EnvVar
	Initiator     string
	SourceVersion string
	Start, End    time.Time
	Complete      bool
	// LogPath is the build's log file: its commands' output and CodeBuild's own lines.
	// Empty for a build whose buildspec runs nothing, which keeps no log.
	LogPath string
	// WorkDir is the build's CODEBUILD_SRC_DIR; what the build wrote there stays
	// readable until Close. Empty for a build whose buildspec runs nothing.
	WorkDir      string
	LogsDeepLink string
}

// PhaseInfo is one phase of a build.
type PhaseInfo struct {
	Type, Status string // Status is empty while the phase runs
	Start, End   time.Time
	Contexts     []PhaseContext
}

// PhaseContext explains how a phase ended, e.g. {COMMAND_EXECUTION_ERROR, "Error while
// executing command: exit 1. Reason: exit status 1"}.
type PhaseContext struct {
	StatusCode, Message string
}

// Build returns a build of an account and Region by id (project:uuid) or ARN.
func (s *Service) Build(account, region, id string) (BuildInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.lookup(account, region, id)
	if b == nil {
		return BuildInfo{}, false
	}
	return b.info(), true
}

// Wait blocks until a build completes or ctx ends, and returns it.
func (s *Service) Wait(ctx context.Context, account, region, id string) (BuildInfo, error) {
	s.mu.Lock()
	b := s.lookup(account, region, id)
	s.mu.Unlock()
	if b == nil {
		return BuildInfo{}, fmt.Errorf("build %s not found in account %s, %s", id, account, region)
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		return BuildInfo{}, fmt.Errorf("wait for build %s: %w", id, ctx.Err())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return b.info(), nil
}

// lookup finds a build by id or ARN. s.mu is held.
func (s *Service) lookup(account, region, id string) *build {
	if b, ok := s.builds[buildKey{account, region, id}]; ok {
		return b
	}
	if a, ok := parseBuildARN(id); ok && a.account == account && a.region == region {
		return s.builds[buildKey{account, region, a.id}]
	}
	return nil
}

// workRoot returns the service's work folder, making it on first use. s.mu is held.
func (s *Service) workRoot() (string, error) {
	if s.root != "" {
		return s.root, nil
	}
	if err := os.MkdirAll(s.opts.WorkDir, 0o755); err != nil {
		return "", fmt.Errorf("make work dir: %w", err)
	}
	root, err := os.MkdirTemp(s.opts.WorkDir, "codebuild-")
	if err != nil {
		return "", fmt.Errorf("make work dir: %w", err)
	}
	s.root = root
	return root, nil
}

// ErrCloseTimeout is returned by Close when builds did not wind down in time.
var ErrCloseTimeout = errors.New("codebuild: builds still running after close timeout")

// Close stops every running build (killing its processes), waits for them to end and
// removes the work folder. Log files under Options.LogDir are kept.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()

	s.cancel()
	s.mu.Lock()
	s.drainQueues()
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	timer := time.NewTimer(closeWait)
	defer timer.Stop()
	var err error
	select {
	case <-done:
	case <-timer.C:
		err = ErrCloseTimeout
	}

	s.mu.Lock()
	root := s.root
	s.mu.Unlock()
	if root != "" {
		if rmErr := os.RemoveAll(root); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("remove work dir: %w", rmErr))
		}
	}
	return err
}

// Builds lists every build of every account, oldest first: what a watcher (the demo, a
// test) follows without knowing build ids in advance.
func (s *Service) Builds() []BuildInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]BuildInfo, 0, len(s.builds))
	for _, b := range s.builds {
		out = append(out, b.info())
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].ARN < out[j].ARN
	})
	return out
}
