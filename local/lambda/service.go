package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options configure the service.
type Options struct {
	RIEBinary string // the emulator, e.g. from BuildRIE
	// LogDir receives one log file per function, lambda-<name>-<account>-<region>.log,
	// with the stdout and stderr of its emulators and runtimes. Empty discards them.
	LogDir       string
	StartTimeout time.Duration // for one emulator to serve; default 15 s
	Logger       *slog.Logger  // the service's own events (starts, restarts, failed Event invocations); default discards
}

// Payload limits of the Invoke API.
const (
	maxSyncPayload  = 6 << 20
	maxAsyncPayload = 1 << 20
)

// Service runs functions and invokes them.
type Service struct {
	opts    Options
	spawner *spawner
	client  *http.Client
	bg      context.Context // Event invocations run under it; cancelled by Close
	stopBG  context.CancelFunc

	mu     sync.Mutex
	fns    map[string]*deployed // by ARN; nil while being added
	closed bool
	adding sync.WaitGroup // Adds in progress
	events sync.WaitGroup // Event invocations in progress
}

// deployed is a function that has been added.
type deployed struct {
	fn   Function
	pool *pool
	log  *os.File
	done chan struct{} // closed when stopped

	stopOnce sync.Once
	stopErr  error
}

// New returns a service with no functions.
func New(opts Options) *Service {
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 15 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	bg, stop := context.WithCancel(context.Background())
	return &Service{
		opts:    opts,
		spawner: newSpawner(),
		// Only ever talks to emulators on 127.0.0.1: no proxy from the environment.
		client: &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second}},
		bg:     bg,
		stopBG: stop,
		fns:    map[string]*deployed{},
	}
}

// Add deploys f: it starts its instances and waits until each serves (each within
// Options.StartTimeout). The function's processes run until Close or until ctx is
// cancelled, whichever comes first.
func (s *Service) Add(ctx context.Context, f Function) error {
	if !supported {
		return errors.New("the Lambda stand-in needs Linux")
	}
	fn, err := f.normalize()
	if err != nil {
		return err
	}
	if err := checkExecutable("runtime interface emulator (Options.RIEBinary)", s.opts.RIEBinary); err != nil {
		return err
	}
	envBinary, err := exec.LookPath("env")
	if err != nil {
		return fmt.Errorf("find env(1), which starts each runtime: %w", err)
	}
	if err := s.reserve(fn.ARN); err != nil {
		return err
	}
	defer s.adding.Done()
	// Close aborts a start in progress.
	startCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.bg, cancel)()
	d, err := s.start(startCtx, &fn, envBinary)
	s.mu.Lock()
	if err != nil || s.closed {
		delete(s.fns, fn.ARN)
		s.mu.Unlock()
		if err == nil {
			err = ErrClosed
			_ = d.stop()
		}
		return err
	}
	s.fns[fn.ARN] = d
	s.mu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
			s.opts.Logger.Info("context done, stopping function", "function", fn.ARN)
			_ = d.stop()
		case <-d.done:
		}
	}()
	return nil
}

// reserve claims arn so that two Adds of one function cannot race.
func (s *Service) reserve(arn string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if _, dup := s.fns[arn]; dup {
		return fmt.Errorf("function %s already exists", arn)
	}
	s.fns[arn] = nil
	s.adding.Add(1)
	return nil
}

func (s *Service) start(ctx context.Context, fn *Function, envBinary string) (*deployed, error) {
	logFile, err := s.openLog(fn)
	if err != nil {
		return nil, err
	}
	run := &runner{rie: s.opts.RIEBinary, envBinary: envBinary, spawner: s.spawner, client: s.client,
		log: logFile, logger: s.opts.Logger, startTimeout: s.opts.StartTimeout}
	instances := make([]*instance, 0, fn.Concurrency)
	for i := range fn.Concurrency {
		in, err := newInstance(fn, i, run)
		if err != nil {
			_ = newPool(instances).close()
			_ = logFile.Close()
			return nil, fmt.Errorf("function %s: %w", fn.ARN, err)
		}
		instances = append(instances, in)
	}
	d := &deployed{fn: *fn, pool: newPool(instances), log: logFile, done: make(chan struct{})}
	errs := make([]error, len(instances))
	var wg sync.WaitGroup
	for i, in := range instances {
		wg.Go(func() { errs[i] = in.start(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		_ = d.stop()
		return nil, fmt.Errorf("function %s: %w", fn.ARN, err)
	}
	return d, nil
}

func (s *Service) openLog(fn *Function) (*os.File, error) {
	if s.opts.LogDir == "" {
		return os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	}
	if err := os.MkdirAll(s.opts.LogDir, 0o755); err != nil {
		return nil, fmt.Errorf("log folder: %w", err)
	}
	name := filepath.Join(s.opts.LogDir, fmt.Sprintf("lambda-%s-%s-%s.log", fn.Name, fn.Account, fn.Region))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("log of %s: %w", fn.ARN, err)
	}
	return f, nil
}

func (d *deployed) stop() error {
	d.stopOnce.Do(func() {
		d.stopErr = d.pool.close()
		if err := d.log.Close(); err != nil {
			d.stopErr = errors.Join(d.stopErr, err)
		}
		close(d.done)
	})
	return d.stopErr
}

// Close stops every function's processes and waits for them to exit.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	fns := make([]*deployed, 0, len(s.fns))
	for _, d := range s.fns {
		if d != nil {
			fns = append(fns, d)
		}
	}
	s.mu.Unlock()
	s.stopBG()
	s.adding.Wait()
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, d := range fns {
		wg.Go(func() { errs[i] = d.stop() })
	}
	wg.Wait()
	s.events.Wait() // Event invocations end once their instances are stopped
	s.spawner.close()
	s.client.CloseIdleConnections()
	return errors.Join(errs...)
}

// Functions lists the ARNs of the added functions.
func (s *Service) Functions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for arn, d := range s.fns {
		if d != nil {
			out = append(out, arn)
		}
	}
	sort.Strings(out)
	return out
}

// Invoke runs the function synchronously (invocation type RequestResponse). out is the
// function's response or, when fnErr is set, Lambda's error document. err reports why
// the function could not be invoked. Pass the caller's trace header with WithTraceHeader.
func (s *Service) Invoke(ctx context.Context, nameOrARN string, payload []byte) (out []byte, fnErr *FunctionError, err error) {
	d, err := s.resolve(nameOrARN)
	if err != nil {
		return nil, nil, err
	}
	res := s.invoke(ctx, d, payload, maxSyncPayload, invocation{requestID: newRequestID(), traceHeader: traceHeaderFrom(ctx)})
	return res.payload, res.fnErr, res.err
}

// InvokeTimed is Invoke that also returns the invocation's timing as Lambda reports it.
func (s *Service) InvokeTimed(ctx context.Context, nameOrARN string, payload []byte) (out []byte, fnErr *FunctionError, t Timing, err error) {
	d, err := s.resolve(nameOrARN)
	if err != nil {
		return nil, nil, Timing{}, err
	}
	res := s.invoke(ctx, d, payload, maxSyncPayload, invocation{requestID: newRequestID(), traceHeader: traceHeaderFrom(ctx)})
	return res.payload, res.fnErr, res.timing, res.err
}

// InvokeAsync is an Event invocation as EventBridge makes it, run to its end: nil when
// the function succeeded, an error wrapping *FunctionError when it failed, and other
// errors when it could not be invoked. The caller applies its own retry policy.
func (s *Service) InvokeAsync(ctx context.Context, nameOrARN string, payload []byte) error {
	d, err := s.resolve(nameOrARN)
	if err != nil {
		return err
	}
	res := s.invoke(ctx, d, payload, maxAsyncPayload, invocation{requestID: newRequestID(), traceHeader: traceHeaderFrom(ctx)})
	if res.err != nil {
		return res.err
	}
	if res.fnErr != nil {
		return fmt.Errorf("function %s: %w", d.fn.ARN, res.fnErr)
	}
	return nil
}

// invoke checks the payload, takes a free instance and runs the invocation. Should ctx
// end first, the invocation still runs to its end, as in Lambda, and only the wait for
// its result is abandoned.
func (s *Service) invoke(ctx context.Context, d *deployed, payload []byte, limit int, inv invocation) outcome {
	if err := checkPayload(payload, limit); err != nil {
		return outcome{err: err}
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	inv.payload = payload
	inv.traceHeader = invocationTraceHeader(inv.traceHeader, d.fn.ActiveTracing, time.Now())
	in, err := d.pool.acquire(ctx, d.fn.Timeout+invokeGrace+s.opts.StartTimeout, d.fn.ARN)
	if err != nil {
		if errors.Is(err, ErrClosed) {
			err = fmt.Errorf("function %s: %w", d.fn.ARN, err)
		}
		return outcome{err: err}
	}
	done := make(chan outcome, 1)
	go func() {
		res := in.invoke(inv)
		d.pool.release(in)
		done <- res
	}()
	select {
	case res := <-done:
		return res
	case <-ctx.Done():
		return outcome{err: ctx.Err()}
	}
}

// RequestError is an invalid Invoke request; Code is the Lambda API's error code.
type RequestError struct {
	Code, Message string
	Status        int
}

func (e *RequestError) Error() string { return e.Code + ": " + e.Message }

func checkPayload(p []byte, limit int) error {
	if len(p) > limit {
		return &RequestError{Code: "RequestTooLargeException", Status: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", limit)}
	}
	if len(p) > 0 && !json.Valid(p) {
		return &RequestError{Code: "InvalidRequestContentException", Status: http.StatusBadRequest,
			Message: "Could not parse request body into json: the payload is not valid JSON"}
	}
	return nil
}

// resolve finds a function by name, partial ARN or ARN among all accounts and Regions;
// a bare name must be unambiguous.
func (s *Service) resolve(nameOrARN string) (*deployed, error) {
	ref, err := parseFunctionRef(nameOrARN)
	if err != nil {
		return nil, &RequestError{Code: "InvalidParameterValueException", Status: http.StatusBadRequest, Message: err.Error()}
	}
	if ref.Qualifier != "" && ref.Qualifier != version {
		return nil, &NotFoundError{Function: nameOrARN}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []*deployed
	for _, d := range s.fns {
		if d != nil && d.fn.Name == ref.Name && (ref.Account == "" || ref.Account == d.fn.Account) && (ref.Region == "" || ref.Region == d.fn.Region) {
			found = append(found, d)
		}
	}
	switch len(found) {
	case 0:
		return nil, &NotFoundError{Function: nameOrARN}
	case 1:
		return found[0], nil
	}
	arns := make([]string, len(found))
	for i, d := range found {
		arns[i] = d.fn.ARN
	}
	sort.Strings(arns)
	return nil, &RequestError{Code: "InvalidParameterValueException", Status: http.StatusBadRequest,
		Message: fmt.Sprintf("%q names several functions (%s): use an ARN", nameOrARN, strings.Join(arns, ", "))}
}

// lookup finds the function an Invoke request names, in the caller's account and
// Region unless an ARN says otherwise.
func (s *Service) lookup(ref functionRef, account, region string) (*deployed, bool) {
	if ref.Account != "" {
		account = ref.Account
	}
	if ref.Region != "" {
		region = ref.Region
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.fns[FunctionARN(region, account, ref.Name)]
	return d, d != nil
}

// startEvent runs an Event invocation in the background.
func (s *Service) startEvent(d *deployed, inv invocation) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.events.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.events.Done()
		res := s.invoke(s.bg, d, inv.payload, maxAsyncPayload, inv)
		switch {
		case res.err != nil && !errors.Is(res.err, ErrClosed) && !errors.Is(res.err, context.Canceled):
			s.opts.Logger.Error("event invocation failed", "function", d.fn.ARN, "requestId", inv.requestID, "err", res.err)
		case res.fnErr != nil:
			s.opts.Logger.Warn("event invocation returned an error", "function", d.fn.ARN, "requestId", inv.requestID,
				"errorType", res.fnErr.Type, "errorMessage", res.fnErr.Message)
		}
	}()
	return nil
}
