// Package world "deploys" a synthesized CDK app (its cloud assembly) into local stand-ins
// for AWS: one endpoint on 127.0.0.1 serving STS, Lambda, DynamoDB, Step Functions,
// EventBridge and CodeBuild for every account and Region the templates name, with the real
// state machine definition and the real Lambda binaries.
package world

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/crossbuild/crossbuild/local/asl"
	"github.com/crossbuild/crossbuild/local/cfn"
	"github.com/crossbuild/crossbuild/local/cfnapi"
	"github.com/crossbuild/crossbuild/local/codebuild"
	"github.com/crossbuild/crossbuild/local/dynalite"
	"github.com/crossbuild/crossbuild/local/eventbridge"
	"github.com/crossbuild/crossbuild/local/iamapi"
	"github.com/crossbuild/crossbuild/local/lambda"
	"github.com/crossbuild/crossbuild/local/localaws"
	"github.com/crossbuild/crossbuild/local/s3"
	"github.com/crossbuild/crossbuild/local/sfnapi"
	"github.com/crossbuild/crossbuild/local/sqs"
	"github.com/crossbuild/crossbuild/local/sts"
	"github.com/crossbuild/crossbuild/local/xray"
)

// Options configure a world.
type Options struct {
	Assembly string // the cloud assembly folder (cdk.out)
	// Functions holds the host-architecture builds: <Functions>/<name>/bootstrap, where name
	// is the function's name without FunctionPrefix.
	Functions      string
	FunctionPrefix string // default "crossbuild-"
	RIEBinary      string // the Lambda Runtime Interface Emulator
	Dynalite       string // the dynalite executable
	LogDir         string // every stand-in's and function's log goes here
	WorkDir        string // build folders; default a temporary folder

	// TimeScale speeds up the state machine's clock (Waits, heartbeats, timeouts); 1 or 0 is
	// real time. Tests use it; the demo runs in real time.
	TimeScale float64
	// PhaseDelay is how long each CodeBuild phase lasts.
	PhaseDelay time.Duration
	// EventRetryBackoff overrides EventBridge's retry backoff (tests make it tiny).
	EventRetryBackoff func(attempt int) time.Duration
	// DropEvent, when set, drops matching events on the way (the "events stop arriving"
	// scenario).
	DropEvent func(event json.RawMessage) bool
	// Intercept, when set, stands between the router and each service's stand-in: it gets
	// the service's SigV4 signing name and its handler, and returns the handler to serve.
	// The fault-injection layer (local/faults) wraps DynamoDB, Step Functions, STS and
	// CodeBuild with it; the functions cannot tell.
	Intercept func(service string, h http.Handler) http.Handler
	// EventTargets, when set, wraps the invoker EventBridge delivers events to functions
	// through (local/faults loses, repeats, reorders and delays events there).
	EventTargets func(eventbridge.LambdaInvoker) eventbridge.LambdaInvoker
	// Concurrency of each function (execution environments); default 3.
	Concurrency int
	// CodeBuildConcurrentBuilds is CodeBuild's concurrent-build quota per account, Region and
	// compute type (0: unlimited); CodeBuildQueuedBuilds its queue (0: five times the quota,
	// as CodeBuild; negative: no queue, builds beyond the quota are refused).
	CodeBuildConcurrentBuilds int
	CodeBuildQueuedBuilds     int
	// Mutate, when set, edits the templates after the assembly is loaded and before
	// anything is deployed: how a test gives one resource a variant the app does not
	// synthesize (a failing buildspec, a trust policy that refuses the starter). An error
	// stops Start. The demo never sets it.
	Mutate func(stacks []*cfn.Stack) error
}

// World is a running set of stand-ins with the assembly deployed into them.
type World struct {
	Endpoint  string
	IDs       *localaws.Identities
	STS       *sts.Service
	Lambda    *lambda.Service
	Events    *eventbridge.Service
	CodeBuild *codebuild.Service
	S3        *s3.Service  // the templates' buckets; an SDK client with w.Operator credentials reads them
	SQS       *sqs.Service // the templates' queues: their depth, and receiving and deleting their dead letters
	Engine    *asl.Engine
	SFN       *sfnapi.Handler
	Stacks    []*cfn.Stack

	// StateMachines maps a state machine's name to its ARN.
	StateMachines map[string]string
	// XRay receives the functions' trace segments (functions with active tracing send to it).
	XRay *xray.Daemon

	log       *slog.Logger
	logFile   *os.File
	server    *http.Server
	dynamo    *dynalite.Server
	workDir   string
	ownWork   bool
	operators map[string]aws.CredentialsProvider // by account
	xrayLog   *os.File

	traceMu    sync.Mutex
	traced     map[string]bool   // state machine ARNs with X-Ray tracing on
	traceRoots map[string]string // execution ARN -> X-Ray trace id

	closeOnce sync.Once
}

// Start starts every stand-in and deploys the assembly. On error everything started so far
// is stopped again.
func Start(ctx context.Context, opts Options) (_ *World, err error) {
	if opts.FunctionPrefix == "" {
		opts.FunctionPrefix = "crossbuild-"
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 3
	}
	if err := os.MkdirAll(opts.LogDir, 0o755); err != nil {
		return nil, fmt.Errorf("log folder: %w", err)
	}
	// w is not the named result: `return nil, err` must not clear it before the cleanup.
	w := &World{IDs: localaws.NewIdentities(), StateMachines: map[string]string{}, operators: map[string]aws.CredentialsProvider{},
		traced: map[string]bool{}, traceRoots: map[string]string{}}
	defer func() {
		// A template the deploy code mishandles must not leave processes behind: a panic
		// is reported as an error, and everything started is stopped.
		if r := recover(); r != nil {
			err = fmt.Errorf("deploy failed unexpectedly: %v", r)
		}
		if err != nil {
			_ = w.Close()
		}
	}()
	if w.logFile, err = os.Create(filepath.Join(opts.LogDir, "runtime.log")); err != nil {
		return nil, err
	}
	w.log = slog.New(slog.NewJSONHandler(w.logFile, &slog.HandlerOptions{Level: slog.LevelDebug}))

	w.workDir = opts.WorkDir
	if w.workDir == "" {
		if w.workDir, err = os.MkdirTemp("", "crossbuild-local-"); err != nil {
			return nil, err
		}
		w.ownWork = true
	}

	if w.Stacks, err = cfn.LoadAssembly(opts.Assembly); err != nil {
		return nil, err
	}
	if opts.Mutate != nil {
		if err := opts.Mutate(w.Stacks); err != nil {
			return nil, fmt.Errorf("mutate the templates: %w", err)
		}
	}

	// One listener for every service, bound to loopback, on a port chosen free.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	w.Endpoint = "http://" + ln.Addr().String()
	router := localaws.NewRouter(w.IDs)
	handle := func(service string, h http.Handler) {
		if opts.Intercept != nil {
			h = opts.Intercept(service, h)
		}
		router.Handle(service, h)
	}
	w.server = &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = w.server.Serve(ln) }()

	// DynamoDB: dynalite behind the router, one for the whole world.
	dynLog, err := os.Create(filepath.Join(opts.LogDir, "dynalite.log"))
	if err != nil {
		return nil, err
	}
	if w.dynamo, err = dynalite.Start(opts.Dynalite, dynLog); err != nil {
		return nil, fmt.Errorf("start dynalite: %w", err)
	}
	target, _ := url.Parse(w.dynamo.Endpoint)
	handle("dynamodb", httputil.NewSingleHostReverseProxy(target))

	if w.xrayLog, err = os.Create(filepath.Join(opts.LogDir, "xray-segments.jsonl")); err != nil {
		return nil, err
	}
	if w.XRay, err = xray.Start(w.xrayLog); err != nil {
		return nil, err
	}

	w.STS = sts.New(w.IDs)
	w.STS.Logger = w.log.With("service", "sts")
	handle("sts", w.STS)

	w.Lambda = lambda.New(lambda.Options{RIEBinary: opts.RIEBinary, LogDir: opts.LogDir, Logger: w.log.With("service", "lambda")})
	handle("lambda", w.Lambda)

	var eventTargets eventbridge.LambdaInvoker = w.Lambda
	if opts.EventTargets != nil {
		eventTargets = opts.EventTargets(eventTargets)
	}
	evOpts := eventbridge.Options{
		Evaluator:    policyEvaluator{},
		Lambda:       eventTargets,
		RetryBackoff: opts.EventRetryBackoff,
		Drop:         opts.DropEvent,
		ArchiveDir:   filepath.Join(opts.LogDir, "archives"),
		// Scheduled rules (the reconciler's) run on the world's time scale.
		ScheduleClock: newScheduleClock(opts.TimeScale),
		// EventBridge itself loses no event for being busy: the bound only keeps a runaway
		// test from exhausting memory, far above the 24 deliveries a build's events need
		// (12 events, forwarded, then delivered to the callback) times 10,000 targets.
		MaxPending: 1_000_000,
		Logger:     w.log.With("service", "events"),
	}
	w.Events = eventbridge.New(evOpts)
	handle("events", w.Events)

	w.CodeBuild = codebuild.New(w.Events, codebuild.Options{
		WorkDir: w.workDir, LogDir: filepath.Join(opts.LogDir, "builds"), PhaseDelay: opts.PhaseDelay,
		ConcurrentBuilds: opts.CodeBuildConcurrentBuilds, QueuedBuilds: opts.CodeBuildQueuedBuilds,
		Logger: w.log.With("service", "codebuild"),
	})
	handle("codebuild", w.CodeBuild)

	w.S3 = s3.New(s3.Options{Logger: w.log.With("service", "s3")})
	handle("s3", w.S3)

	// What an operator's preflight reads (and a test changes): roles' trust policies,
	// stacks' outputs, the dead-letter queues' depth.
	handle("iam", &iamapi.Handler{Roles: w.STS, Created: time.Now()})
	handle("cloudformation", &cfnapi.Handler{Stacks: w.Stacks, Created: time.Now()})
	w.SQS = sqs.New(w.Endpoint, deadLetterQueues{w.Events})
	handle("sqs", w.SQS)

	w.Engine = asl.New(asl.Options{Invoker: lambdaInvoker{svc: w.Lambda, trace: w.traceHeader}, TimeScale: opts.TimeScale,
		Objects: objectStore{s3: w.S3}})
	// Executions that end tell the account's default bus, as Step Functions does for
	// Standard workflows: the canceller's rule listens there.
	w.SFN = sfnapi.New(w.Engine, sfnapi.Options{Publisher: w.Events, Logger: w.log.With("service", "states")})
	handle("states", w.SFN)

	d := &deployer{w: w, opts: opts}
	if err := d.deploy(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// Operator returns an SDK configuration for an administrator of an account in a Region,
// as a person driving the world (the demo, a test, the AWS CLI) would use it.
func (w *World) Operator(account, region string) aws.Config {
	creds, ok := w.operators[account]
	if !ok {
		c := w.IDs.LongTerm(localaws.Principal{Account: account, ARN: operatorARN(account), RoleARN: operatorARN(account)})
		creds = credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")
		w.operators[account] = creds
	}
	return aws.Config{Region: region, BaseEndpoint: aws.String(w.Endpoint), Credentials: creds}
}

// Close stops everything: executions, builds, functions, dynalite, the listener; it removes
// the work folder it made. Logs stay.
func (w *World) Close() error {
	var errs []error
	w.closeOnce.Do(func() {
		if w.Engine != nil {
			w.Engine.Close()
		}
		if w.Events != nil {
			errs = append(errs, w.Events.Close())
		}
		if w.CodeBuild != nil {
			errs = append(errs, w.CodeBuild.Close())
		}
		if w.Lambda != nil {
			errs = append(errs, w.Lambda.Close())
		}
		if w.dynamo != nil {
			w.dynamo.Stop()
		}
		if w.XRay != nil {
			errs = append(errs, w.XRay.Close())
		}
		if w.xrayLog != nil {
			errs = append(errs, w.xrayLog.Close())
		}
		if w.server != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			errs = append(errs, w.server.Shutdown(ctx))
			cancel()
		}
		if w.ownWork && w.workDir != "" {
			errs = append(errs, os.RemoveAll(w.workDir))
		}
		if w.logFile != nil {
			errs = append(errs, w.logFile.Close())
		}
	})
	return errors.Join(errs...)
}

// StacksByName lists the deployed stacks.
func (w *World) StacksByName() []string {
	names := make([]string, 0, len(w.Stacks))
	for _, s := range w.Stacks {
		names = append(names, s.Name)
	}
	sort.Strings(names)
	return names
}

// traceHeader is the X-Ray trace header Step Functions passes to a task of a traced state
// machine: one trace per execution, so every function invocation of it shares the root.
func (w *World) traceHeader(req asl.TaskRequest) string {
	w.traceMu.Lock()
	defer w.traceMu.Unlock()
	// A Distributed Map's child runs <machine>/<label> and is traced as its machine is.
	if machine, _, _ := strings.Cut(req.StateMachineArn, "/"); !w.traced[machine] {
		return ""
	}
	root, ok := w.traceRoots[req.ExecutionArn]
	if !ok {
		root = fmt.Sprintf("1-%08x-%s", time.Now().Unix(), randomHex(12))
		w.traceRoots[req.ExecutionArn] = root
	}
	return "Root=" + root + ";Parent=" + randomHex(8) + ";Sampled=1"
}

// ExecutionTrace returns the X-Ray trace id of an execution of a traced state machine.
func (w *World) ExecutionTrace(executionARN string) (string, bool) {
	w.traceMu.Lock()
	defer w.traceMu.Unlock()
	root, ok := w.traceRoots[executionARN]
	return root, ok
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// lambdaInvoker runs the state machine's Lambda tasks on the Lambda stand-in.
type lambdaInvoker struct {
	svc   *lambda.Service
	trace func(asl.TaskRequest) string
}

func (l lambdaInvoker) Invoke(ctx context.Context, req asl.TaskRequest) (json.RawMessage, error) {
	if req.FunctionName == "" {
		return nil, &asl.TaskError{Name: asl.ErrorTaskFailed, Cause: "resource " + req.Resource + " is not a Lambda function"}
	}
	if h := l.trace(req); h != "" {
		ctx = lambda.WithTraceHeader(ctx, h)
	}
	payload := []byte(req.Payload)
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	if req.InvocationType == "Event" {
		go func() { _ = l.svc.InvokeAsync(context.WithoutCancel(ctx), req.FunctionName, payload) }()
		return json.RawMessage(`null`), nil
	}
	out, fnErr, err := l.svc.Invoke(ctx, req.FunctionName, payload)
	var nf *lambda.NotFoundError
	switch {
	case errors.As(err, &nf):
		return nil, &asl.TaskError{Name: "Lambda.ResourceNotFoundException", Cause: err.Error()}
	case err != nil:
		return nil, &asl.TaskError{Name: "Lambda.ServiceException", Cause: err.Error()}
	case fnErr != nil:
		return nil, &asl.FunctionError{Type: fnErr.Type, Message: fnErr.Message, Payload: out}
	}
	return out, nil
}

// Launch starts a world with the tools Tools finds for opts.Functions; a RIEBinary or
// Dynalite already in opts is kept.
func Launch(ctx context.Context, opts Options) (*World, error) {
	rie, dyn, err := Tools(ctx, opts.Functions)
	if err != nil {
		return nil, err
	}
	if opts.RIEBinary == "" {
		opts.RIEBinary = rie
	}
	if opts.Dynalite == "" {
		opts.Dynalite = dyn
	}
	return Start(ctx, opts)
}

// LogDir is dir, or when it is empty a new folder name .logs/<kind>-<UTC time>, where the
// commands of the local runtime keep their logs.
func LogDir(dir, kind string) string {
	if dir != "" {
		return dir
	}
	return filepath.Join(".logs", kind+"-"+time.Now().UTC().Format("20060102-150405"))
}

// Tools finds what a world needs besides the assembly and the functions: the Lambda Runtime
// Interface Emulator, built into <functions>/bin when it is not there yet, and dynalite from
// the pinned npm packages.
func Tools(ctx context.Context, functions string) (rie, dynaliteBin string, err error) {
	dir, err := filepath.Abs(filepath.Join(functions, "bin"))
	if err != nil {
		return "", "", err
	}
	if rie, err = lambda.BuildRIE(ctx, dir); err != nil {
		return "", "", fmt.Errorf("build the Lambda Runtime Interface Emulator: %w", err)
	}
	if dynaliteBin, err = dynalite.Binary(); err != nil {
		return "", "", fmt.Errorf("%w (run `make tools`)", err)
	}
	return rie, dynaliteBin, nil
}
