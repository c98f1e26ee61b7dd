package lambda

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

const (
	// invokeGrace is how long past the function timeout the emulator may take to report
	// it (it resets the runtime, allowing 2 s for that) before the instance is killed.
	invokeGrace = 5 * time.Second
	// stopGrace is how long an emulator gets to stop its runtime and exit on SIGTERM.
	stopGrace = 3 * time.Second
	// startAttempts covers losing a chosen free port to another process before the
	// emulator binds it.
	startAttempts = 3
	// maxFailedStarts is how many starts in a row may fail before an instance gives up.
	maxFailedStarts = 3
	// maxResponse bounds what is read of a function's response; Lambda allows 6 MB.
	maxResponse = 6 << 20
	readyPoll   = 25 * time.Millisecond
)

// runner is what the instances of one function share.
type runner struct {
	rie, envBinary string
	spawner        *spawner
	client         *http.Client
	log            *os.File
	logger         *slog.Logger
	startTimeout   time.Duration
}

// instance is one execution environment: an emulator process, its runtime, and the
// proxy between them. One invocation at a time uses it (the pool sees to that); Close
// may stop it at any moment.
type instance struct {
	fn    *Function
	index int
	run   *runner
	proxy *runtimeProxy

	// lifecycle serialises stopping processes, so that stop returns only once any
	// concurrent kill has finished too.
	lifecycle sync.Mutex

	mu        sync.Mutex
	cmd       *exec.Cmd     // the emulator, from the moment it is spawned
	exited    chan struct{} // closed when the emulator process has been waited for
	marker    string        // environment entry unique to the emulator and its runtime
	invokeURL string        // set once the emulator serves
	stopped   bool
	failures  int  // consecutive failed starts
	fresh     bool // no invocation has reached this emulator's runtime yet
}

func newInstance(fn *Function, index int, run *runner) (*instance, error) {
	p, err := newRuntimeProxy(fn.ARN, run.log)
	if err != nil {
		return nil, err
	}
	return &instance{fn: fn, index: index, run: run, proxy: p}, nil
}

func (in *instance) String() string { return fmt.Sprintf("%s instance %d", in.fn.Name, in.index) }

// start starts the emulator and waits until it serves, trying again with other ports
// should it fail.
func (in *instance) start(ctx context.Context) error {
	in.mu.Lock()
	failures := in.failures
	in.mu.Unlock()
	if failures >= maxFailedStarts {
		return fmt.Errorf("%s failed to start %d times in a row; see its log %s", in, failures, in.run.log.Name())
	}
	var err error
	for range startAttempts {
		if err = in.startOnce(ctx); err == nil || ctx.Err() != nil || errors.Is(err, ErrClosed) {
			break
		}
		in.run.logger.Warn("emulator start failed, retrying", "function", in.fn.Name, "instance", in.index, "err", err)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if err != nil {
		in.failures++
		return err
	}
	in.failures = 0
	return nil
}

func (in *instance) startOnce(ctx context.Context) error {
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	invokeAddr, apiAddr := ports[0], ports[1]
	boot := in.fn.Bootstrap
	stream := logStreamName(time.Now())
	cmd := exec.Command(in.run.rie,
		"--log-level", "warn",
		"--runtime-api-address", apiAddr,
		"--runtime-interface-emulator-address", invokeAddr,
		// The runtime is started through env(1): it points the runtime at the proxy and
		// removes the emulator's own setting from the function's environment.
		in.run.envBinary, "-u", "AWS_LAMBDA_FUNCTION_TIMEOUT",
		"AWS_LAMBDA_RUNTIME_API="+in.proxy.Addr(),
		"_HANDLER="+filepath.Base(boot),
		boot)
	cmd.Env = in.fn.processEnv(stream)
	cmd.Dir = filepath.Dir(boot)
	cmd.Stdout, cmd.Stderr = in.run.log, in.run.log
	cmd.SysProcAttr = procAttr()
	if err := in.run.spawner.start(ctx, cmd); err != nil {
		return fmt.Errorf("start emulator for %s: %w", in, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()

	in.mu.Lock()
	in.cmd, in.exited, in.marker, in.invokeURL = cmd, exited, "AWS_LAMBDA_LOG_STREAM_NAME="+stream, ""
	stopped := in.stopped
	in.mu.Unlock()
	if stopped {
		in.kill()
		return ErrClosed
	}
	in.proxy.setTarget(apiAddr)
	if err := in.waitReady(ctx, invokeAddr, apiAddr, exited); err != nil {
		in.kill()
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd != cmd { // stopped meanwhile
		return ErrClosed
	}
	in.invokeURL = "http://" + invokeAddr + "/2015-03-31/functions/function/invocations"
	in.fresh = true
	in.run.logger.Info("emulator started", "function", in.fn.Name, "instance", in.index, "pid", cmd.Process.Pid, "invoke", invokeAddr, "runtimeApi", apiAddr)
	return nil
}

// waitReady waits until the emulator answers HTTP on its invoke address and accepts
// connections on its Runtime API address.
func (in *instance) waitReady(ctx context.Context, invokeAddr, apiAddr string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, in.run.startTimeout)
	defer cancel()
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		if in.serving(ctx, invokeAddr, apiAddr) {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("emulator for %s exited while starting; see its log %s", in, in.run.log.Name())
		case <-ctx.Done():
			return fmt.Errorf("emulator for %s not ready after %s: %w", in, in.run.startTimeout, ctx.Err())
		case <-tick.C:
		}
	}
}

func (in *instance) serving(ctx context.Context, invokeAddr, apiAddr string) bool {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", apiAddr)
	if err != nil {
		return false
	}
	_ = c.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+invokeAddr+"/", nil)
	if err != nil {
		return false
	}
	resp, err := in.run.client.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return true
}

// ensureRunning starts the emulator if it is not running (first use after a kill, or it
// exited), and returns where to send invocations.
func (in *instance) ensureRunning(ctx context.Context) (url string, exited <-chan struct{}, err error) {
	in.mu.Lock()
	stopped, cmd, url, exited := in.stopped, in.cmd, in.invokeURL, in.exited
	in.mu.Unlock()
	if stopped {
		return "", nil, ErrClosed
	}
	if cmd != nil && url != "" && !isClosed(exited) {
		return url, exited, nil
	}
	if cmd != nil {
		in.run.logger.Warn("emulator exited, restarting", "function", in.fn.Name, "instance", in.index)
		in.kill()
	}
	if err := in.start(ctx); err != nil {
		return "", nil, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.stopped {
		return "", nil, ErrClosed
	}
	return in.invokeURL, in.exited, nil
}

// kill stops the emulator so that the next invocation starts a new one.
func (in *instance) kill() {
	in.lifecycle.Lock()
	defer in.lifecycle.Unlock()
	in.mu.Lock()
	cmd, exited, marker := in.cmd, in.exited, in.marker
	in.cmd, in.exited, in.marker, in.invokeURL = nil, nil, "", ""
	in.mu.Unlock()
	stopProcess(cmd, exited, stopGrace, marker)
}

// stop stops the instance for good.
func (in *instance) stop() error {
	in.mu.Lock()
	in.stopped = true
	in.mu.Unlock()
	in.kill()
	return in.proxy.close()
}

func (in *instance) isStopped() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.stopped
}

// invocation is one request to an instance.
type invocation struct {
	requestID, traceHeader, clientContext string
	payload                               []byte
}

// outcome is what an invocation returned.
type outcome struct {
	payload []byte
	fnErr   *FunctionError
	err     error
	timing  Timing
}

// Timing is what Lambda reports of an invocation in its REPORT log line.
type Timing struct {
	// Init is the runtime's initialisation, from the invocation that started it to the
	// runtime asking for its first event (Lambda's Init Duration); zero on a warm start.
	Init time.Duration
	// Duration is from the runtime receiving the event to it posting the answer.
	Duration time.Duration
}

// invoke runs one invocation; the caller holds the instance exclusively. It is not
// cancelled with the caller: like Lambda, a started invocation runs to its end or its
// timeout. An invocation that never reached the runtime because the emulator had died
// is tried once more on a new one.
func (in *instance) invoke(inv invocation) outcome {
	res, retry := in.invokeOnce(inv)
	if retry {
		in.run.logger.Warn("invocation not delivered, retrying on a new emulator", "function", in.fn.Name, "instance", in.index, "err", res.err)
		in.kill()
		res, _ = in.invokeOnce(inv)
	}
	return res
}

// invokeOnce runs inv; retry says it failed before the runtime received it.
func (in *instance) invokeOnce(inv invocation) (res outcome, retry bool) {
	startCtx, cancel := context.WithTimeout(context.Background(), startAttempts*in.run.startTimeout)
	url, exited, err := in.ensureRunning(startCtx)
	cancel()
	if err != nil {
		if !errors.Is(err, ErrClosed) {
			err = fmt.Errorf("start %s: %w", in, err)
		}
		return outcome{err: err}, false
	}

	in.proxy.begin(inv.requestID, inv.traceHeader)
	ctx, cancel := context.WithTimeout(context.Background(), in.fn.Timeout+invokeGrace)
	defer cancel()
	started := time.Now()
	status, body, err := in.post(ctx, url, inv)
	rec := in.proxy.end(inv.requestID)
	elapsed := time.Since(started)
	timing := in.timing(started, rec)
	defer func() { res.timing = timing }()

	if err != nil {
		switch {
		case in.isStopped():
			return outcome{err: ErrClosed}, false
		case !rec.delivered && ctx.Err() == nil:
			return outcome{err: fmt.Errorf("invoke %s: %w", in, err)}, true
		case ctx.Err() != nil && !isClosed(exited):
			in.run.logger.Warn("emulator did not report the timeout; killing it", "function", in.fn.Name, "instance", in.index)
			in.kill()
			return in.timedOut(inv.requestID), false
		default:
			// The execution environment died under the invocation.
			in.kill()
			return errorOutcome(&FunctionError{Type: "Runtime.ExitError",
				Message: fmt.Sprintf("RequestId: %s Error: Runtime exited with error: execution environment stopped", inv.requestID)}, nil), false
		}
	}
	switch {
	case status == http.StatusOK && bytes.HasPrefix(body, []byte("Task timed out after")) && elapsed >= in.fn.Timeout*9/10:
		return in.timedOut(inv.requestID), false
	case len(body) > maxResponse:
		return errorOutcome(&FunctionError{Type: "Function.ResponseSizeTooLarge",
			Message: fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", maxResponse)}, nil), false
	case rec.fnErr != nil:
		return errorOutcome(rec.fnErr, body), false
	case rec.responded && status == http.StatusOK:
		return outcome{payload: body}, false
	}
	// The runtime neither answered nor timed out: the emulator reports why (the runtime
	// exited, or failed to start) in Lambda's error document.
	if fe, ok := parseFunctionError(body); ok && fe.Type != "" {
		return errorOutcome(fe, body), false
	}
	if status == http.StatusBadGateway && !rec.delivered {
		// The runtime exited before asking for its first invocation; the emulator says
		// why only in its log.
		return errorOutcome(&FunctionError{Type: "Runtime.ExitError",
			Message: fmt.Sprintf("RequestId: %s Error: Runtime exited without providing a reason", inv.requestID)}, nil), false
	}
	return outcome{err: fmt.Errorf("invoke %s: emulator answered %d without a runtime response: %.200q", in, status, body)}, false
}

// timing reads an invocation's phases from what the proxy saw. The emulator starts the
// runtime with the first invocation, so on a fresh emulator the time until the runtime
// took the event is its initialisation.
func (in *instance) timing(started time.Time, rec invocationRecord) Timing {
	var t Timing
	if rec.delivered && !rec.answeredAt.IsZero() {
		t.Duration = rec.answeredAt.Sub(rec.deliveredAt)
	}
	in.mu.Lock()
	fresh := in.fresh
	if rec.delivered {
		in.fresh = false
	}
	in.mu.Unlock()
	if fresh && rec.delivered {
		t.Init = rec.deliveredAt.Sub(started)
	}
	return t
}

func (in *instance) post(ctx context.Context, url string, inv invocation) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(inv.payload))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amzn-RequestId", inv.requestID)
	req.Header.Set("X-Amzn-Trace-Id", inv.traceHeader)
	if inv.clientContext != "" {
		req.Header.Set("X-Amz-Client-Context", inv.clientContext)
	}
	resp, err := in.run.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, body, nil
}

func (in *instance) timedOut(requestID string) outcome {
	return errorOutcome(&FunctionError{Type: "Sandbox.Timedout",
		Message: fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", requestID, in.fn.Timeout.Seconds())}, nil)
}

// errorOutcome reports fe with the runtime's own error document when there is one.
func errorOutcome(fe *FunctionError, body []byte) outcome {
	if _, ok := parseFunctionError(body); !ok {
		body = fe.payload()
	}
	return outcome{payload: body, fnErr: fe}
}

func isClosed(ch <-chan struct{}) bool {
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// freePorts picks n free ports on 127.0.0.1. Another process may take one before the
// emulator binds it; starting again covers that.
func freePorts(n int) ([]string, error) {
	addrs := make([]string, 0, n)
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

// logStreamName has the shape of Lambda's: date, version, and a random id per
// execution environment.
func logStreamName(now time.Time) string {
	return now.UTC().Format("2006/01/02") + "/[" + version + "]" + randomHex(16)
}
