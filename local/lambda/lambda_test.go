package lambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/local/lambda"
)

func TestInvokeEchoesWithLambdasEnvironment(t *testing.T) {
	fx := newFixture(t)
	f := fx.function("echo")
	f.Env["AWS_ACCESS_KEY_ID"] = "AKIAEXAMPLE"
	f.Env["AWS_SECRET_ACCESS_KEY"] = "secret"
	f = fx.add(t, f)

	const root = "1-5759e988-bd862e3fe1be46a994272793"
	ctx := lambda.WithTraceHeader(t.Context(), "Root="+root+";Parent=53995c3f42cd8ad8;Sampled=1")
	r := invokeOK(t, ctx, fx.svc, "echo", `{"action":"echo","data":{"k":"v"}}`)

	if r.Echo.Action != "echo" || r.Echo.Data["k"] != "v" {
		t.Errorf("echo = %+v", r.Echo)
	}
	for k, want := range map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        "echo",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_LOG_FORMAT":           "JSON",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/echo",
		"AWS_REGION":                      testRegion,
		"AWS_DEFAULT_REGION":              testRegion,
		"TEMPLATE_VAR":                    "from-template",
		"AWS_ENDPOINT_URL":                "http://127.0.0.1:4566",
		"AWS_ACCESS_KEY_ID":               "AKIAEXAMPLE",
		"LAMBDA_TASK_ROOT":                filepath.Dir(fnBinary),
		"TZ":                              ":UTC",
	} {
		if got := r.Env[k]; got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// Not Lambda's: the host's HOME (the SDK would read its shared config) and the
	// emulator's own timeout setting.
	for _, k := range []string{"HOME", "AWS_LAMBDA_FUNCTION_TIMEOUT"} {
		if v, ok := r.Env[k]; ok {
			t.Errorf("%s is set (%q)", k, v)
		}
	}
	if !strings.HasPrefix(r.Env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:") {
		t.Errorf("AWS_LAMBDA_RUNTIME_API = %q", r.Env["AWS_LAMBDA_RUNTIME_API"])
	}
	if r.InvokedARN != f.ARN {
		t.Errorf("invoked ARN = %q, want %q", r.InvokedARN, f.ARN)
	}
	traceRE := regexp.MustCompile(`^Root=` + root + `;Parent=[0-9a-f]{16};Sampled=1$`)
	if tr := r.Env["_X_AMZN_TRACE_ID"]; !traceRE.MatchString(tr) || strings.Contains(tr, "53995c3f42cd8ad8") || r.TraceHeader != tr {
		t.Errorf("trace header: env %q, context %q; want the caller's root with a new parent", tr, r.TraceHeader)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(r.RequestID) {
		t.Errorf("request id %q is not a UUID", r.RequestID)
	}
	if r.DeadlineSeconds <= 0 || r.DeadlineSeconds > 3 {
		t.Errorf("deadline in %.3f s, want within the 3 s timeout", r.DeadlineSeconds)
	}

	// Without a caller's trace, a new unsampled trace (PassThrough tracing).
	r2 := invokeOK(t, t.Context(), fx.svc, f.ARN, `{}`)
	if tr := r2.Env["_X_AMZN_TRACE_ID"]; !regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$`).MatchString(tr) || strings.Contains(tr, root) {
		t.Errorf("new trace header = %q", tr)
	}
	if r2.PID != r.PID {
		t.Errorf("second invocation ran in pid %d, not the warm runtime %d", r2.PID, r.PID)
	}

	// What the function prints goes to its log file.
	log, err := os.ReadFile(filepath.Join(fx.logDir, "lambda-echo-"+testAccount+"-"+testRegion+".log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "function=echo template=from-template endpoint=http://127.0.0.1:4566") {
		t.Errorf("log lacks the function's output:\n%s", log)
	}
}

func TestNamedErrorIsAFunctionError(t *testing.T) {
	fx := newFixture(t)
	fx.add(t, fx.function("failing"))
	out, fnErr, err := fx.svc.Invoke(t.Context(), "failing", []byte(`{"action":"error","message":"boom"}`))
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if fnErr == nil || fnErr.Type != "MyError" || fnErr.Message != "my error: boom" {
		t.Fatalf("function error = %+v, want MyError", fnErr)
	}
	var doc lambda.FunctionError
	if err := json.Unmarshal(out, &doc); err != nil || doc != *fnErr {
		t.Errorf("payload %s, want the error document", out)
	}

	// A function that returns an error document as its result has not failed.
	out, fnErr, err = fx.svc.Invoke(t.Context(), "failing", []byte(`{"action":"echo","data":{"errorType":"NotAnError"}}`))
	if err != nil || fnErr != nil {
		t.Errorf("echo of an error-shaped value: err %v, function error %v (%s)", err, fnErr, out)
	}

	err = fx.svc.InvokeAsync(t.Context(), "failing", []byte(`{"action":"error","message":"async"}`))
	var fe *lambda.FunctionError
	if !errors.As(err, &fe) || fe.Type != "MyError" {
		t.Errorf("InvokeAsync error = %v, want a *FunctionError MyError", err)
	}
	if err := fx.svc.InvokeAsync(t.Context(), "failing", []byte(`{}`)); err != nil {
		t.Errorf("InvokeAsync of a succeeding call: %v", err)
	}
}

// barrier answers each caller once want callers wait at once, or after patience; it
// records the most callers that ever waited together.
type barrier struct {
	want     int
	patience time.Duration

	mu       sync.Mutex
	waiting  int
	peak     int
	release  chan struct{}
	released bool // by reaching want, not by patience
}

func (b *barrier) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	b.mu.Lock()
	b.waiting++
	b.peak = max(b.peak, b.waiting)
	if b.waiting >= b.want && !b.released {
		b.released = true
		close(b.release)
	}
	release := b.release
	b.mu.Unlock()
	select {
	case <-release:
	case <-time.After(b.patience):
	}
	b.mu.Lock()
	b.waiting--
	b.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func TestFunctionsAndInstancesRunSideBySide(t *testing.T) {
	fx := newFixture(t)
	a := fx.function("wide")
	a.Concurrency = 3
	fx.add(t, a)
	fx.add(t, fx.function("narrow"))

	// Three instances of one function and one of another meet at the barrier: only
	// possible if all four run at once. A fifth invocation (of the function with three
	// instances) must wait for a free instance, so no more than four ever meet.
	b := &barrier{want: 4, patience: 20 * time.Second, release: make(chan struct{})}
	srv := httptest.NewServer(b)
	defer srv.Close()
	payload := fmt.Sprintf(`{"action":"barrier","url":%q}`, srv.URL)

	names := []string{"wide", "wide", "wide", "narrow", "wide"}
	results := make([]response, len(names))
	var wg sync.WaitGroup
	start := time.Now()
	for i, name := range names {
		wg.Go(func() { results[i] = invokeOK(t, t.Context(), fx.svc, name, payload) })
	}
	wg.Wait()
	elapsed := time.Since(start)

	b.mu.Lock()
	peak, released := b.peak, b.released
	b.mu.Unlock()
	if !released || peak != 4 {
		t.Fatalf("barrier: released %v, peak %d callers at once; want four at once and never five", released, peak)
	}
	if elapsed >= b.patience {
		t.Errorf("took %s: callers waited out the barrier's patience", elapsed)
	}
	pids := map[int]bool{}
	for i, r := range results {
		if names[i] == "wide" {
			pids[r.PID] = true
		}
	}
	if len(pids) != 3 {
		t.Errorf("the wide function ran in %d runtimes, want 3", len(pids))
	}

	// Every listener of the emulators, runtimes and this process is on 127.0.0.1.
	procs := append(processesWith(fx.marker), os.Getpid())
	var emulators int
	for _, pid := range procs {
		if exePath(pid) == rieBinary {
			emulators++
		}
		for _, addr := range listeners(t, pid) {
			if !strings.HasPrefix(addr, "127.0.0.1:") {
				t.Errorf("pid %d (%s) listens on %s", pid, exePath(pid), addr)
			}
		}
	}
	if emulators != 4 {
		t.Errorf("%d emulator processes, want 4", emulators)
	}
}

func TestTimeoutStopsTheFunction(t *testing.T) {
	fx := newFixture(t)
	f := fx.function("slow")
	f.Timeout = time.Second
	fx.add(t, f)
	before := invokeOK(t, t.Context(), fx.svc, "slow", `{}`)

	const sleep = 4 * time.Second
	start := time.Now()
	out, fnErr, err := fx.svc.Invoke(t.Context(), "slow", fmt.Appendf(nil, `{"action":"sleep","millis":%d}`, sleep.Milliseconds()))
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	msgRE := regexp.MustCompile(`^RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds$`)
	if fnErr == nil || fnErr.Type != "Sandbox.Timedout" || !msgRE.MatchString(fnErr.Message) {
		t.Fatalf("function error = %+v, want Sandbox.Timedout", fnErr)
	}
	if !strings.Contains(string(out), `"errorType":"Sandbox.Timedout"`) {
		t.Errorf("payload %s", out)
	}
	if elapsed < time.Second || elapsed >= sleep {
		t.Errorf("the invocation took %s: want at least the timeout and less than the function's sleep", elapsed)
	}
	after := invokeOK(t, t.Context(), fx.svc, "slow", `{}`)
	if after.PID == before.PID || alive(before.PID) {
		t.Errorf("runtime %d still serves after a timeout; Lambda replaces it", before.PID)
	}
}

func TestCrashedRuntimeAndEmulatorAreReplaced(t *testing.T) {
	fx := newFixture(t)
	fx.add(t, fx.function("crashy"))
	first := invokeOK(t, t.Context(), fx.svc, "crashy", `{}`)

	_, fnErr, err := fx.svc.Invoke(t.Context(), "crashy", []byte(`{"action":"exit"}`))
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if fnErr == nil || fnErr.Type != "Runtime.ExitError" || !strings.Contains(fnErr.Message, "exit status 3") {
		t.Fatalf("function error = %+v, want Runtime.ExitError with the exit status", fnErr)
	}
	second := invokeOK(t, t.Context(), fx.svc, "crashy", `{}`)
	if second.PID == first.PID {
		t.Errorf("the crashed runtime %d answered again", first.PID)
	}

	// Kill the emulator itself: the next invocation starts a new one, and the runtime
	// the dead emulator left behind is stopped.
	var emulator int
	for _, pid := range processesWith(fx.marker) {
		if exePath(pid) == rieBinary {
			emulator = pid
		}
	}
	if emulator == 0 {
		t.Fatal("no emulator process found")
	}
	if err := syscall.Kill(emulator, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(emulator) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	third := invokeOK(t, t.Context(), fx.svc, "crashy", `{}`)
	if third.PID == second.PID {
		t.Errorf("the runtime of the killed emulator answered")
	}
	deadline = time.Now().Add(5 * time.Second)
	for alive(second.PID) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(second.PID) {
		t.Errorf("runtime %d of the killed emulator is still running", second.PID)
	}
}

func TestCloseAndCancelStopEveryProcess(t *testing.T) {
	requireBinaries(t)
	marker := fmt.Sprintf("close-%d", time.Now().UnixNano())
	svc := lambda.New(lambda.Options{RIEBinary: rieBinary, StartTimeout: 10 * time.Second})
	defer svc.Close()
	fx := &fixture{svc: svc, marker: marker}

	f := fx.function("kept")
	f.Concurrency = 2
	fx.add(t, f)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	short := fx.function("short")
	if err := svc.Add(ctx, short); err != nil {
		t.Fatal(err)
	}
	invokeOK(t, t.Context(), svc, "kept", `{}`)
	invokeOK(t, t.Context(), svc, "short", `{}`)
	// Two emulators and a runtime for "kept" (one instance invoked), an emulator and a
	// runtime for "short".
	if n := len(processesWith(marker)); n != 5 {
		t.Fatalf("%d processes before stopping, want 5", n)
	}

	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for len(processesWith(marker)) != 3 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(processesWith(marker)); n != 3 {
		t.Errorf("%d processes after cancelling one function's context, want 3", n)
	}
	if _, _, err := svc.Invoke(t.Context(), "short", []byte(`{}`)); !errors.Is(err, lambda.ErrClosed) {
		t.Errorf("invoking a stopped function: %v, want ErrClosed", err)
	}

	if err := svc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if left := processesWith(marker); len(left) > 0 {
		t.Errorf("processes left right after Close: %v", left)
	}
	if _, _, err := svc.Invoke(t.Context(), "kept", []byte(`{}`)); !errors.Is(err, lambda.ErrClosed) {
		t.Errorf("invoking after Close: %v, want ErrClosed", err)
	}
	if err := svc.Add(t.Context(), fx.function("late")); !errors.Is(err, lambda.ErrClosed) {
		t.Errorf("Add after Close: %v, want ErrClosed", err)
	}
}

func TestInitFailureIsReported(t *testing.T) {
	fx := newFixture(t)
	f := fx.function("broken")
	f.Env["FAIL_INIT"] = "TABLE_NAME is not set"
	fx.add(t, f)
	// Each invocation tries a cold start again, as Lambda does, and fails the same way.
	for range 2 {
		out, fnErr, err := fx.svc.Invoke(t.Context(), "broken", []byte(`{}`))
		if err != nil {
			t.Fatalf("Invoke: %v", err)
		}
		if fnErr == nil || fnErr.Type != "Runtime.ExitError" || !strings.Contains(string(out), `"errorType":"Runtime.ExitError"`) {
			t.Fatalf("function error %+v, payload %s; want Runtime.ExitError", fnErr, out)
		}
	}
	log, err := os.ReadFile(filepath.Join(fx.logDir, "lambda-broken-"+testAccount+"-"+testRegion+".log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), "refusing to start: TABLE_NAME is not set"); n != 2 {
		t.Errorf("the log holds the function's reason %d times, want 2:\n%s", n, log)
	}
}

func TestTimingSeparatesInitFromTheInvocation(t *testing.T) {
	fx := newFixture(t)
	f := fx.function("slowstart")
	f.Env["INIT_DELAY_MS"] = "300"
	fx.add(t, f)
	const work = 100 * time.Millisecond
	payload := []byte(fmt.Sprintf(`{"action":"sleep","millis":%d}`, work.Milliseconds()))
	_, fnErr, cold, err := fx.svc.InvokeTimed(t.Context(), "slowstart", payload)
	if err != nil || fnErr != nil {
		t.Fatalf("cold invoke: %v %+v", err, fnErr)
	}
	if cold.Init < 300*time.Millisecond {
		t.Errorf("cold start Init = %s, want at least the function's 300 ms initialisation", cold.Init)
	}
	if cold.Duration < work || cold.Duration >= cold.Init+work {
		t.Errorf("cold start Duration = %s, want the invocation's %s without the initialisation (Init %s)", cold.Duration, work, cold.Init)
	}
	_, _, warm, err := fx.svc.InvokeTimed(t.Context(), "slowstart", payload)
	if err != nil {
		t.Fatal(err)
	}
	if warm.Init != 0 || warm.Duration < work {
		t.Errorf("warm start timing %+v, want no Init and a Duration of at least %s", warm, work)
	}
}

func TestAddRefusesWhatLambdaWould(t *testing.T) {
	fx := newFixture(t)
	fx.add(t, fx.function("once"))
	if err := fx.svc.Add(t.Context(), fx.function("once")); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second Add of a function: %v", err)
	}
	reserved := fx.function("reserved")
	reserved.Env["AWS_LAMBDA_FUNCTION_NAME"] = "other"
	if err := fx.svc.Add(t.Context(), reserved); err == nil || !strings.Contains(err.Error(), "reserved keys: AWS_LAMBDA_FUNCTION_NAME") {
		t.Errorf("Add with a reserved variable: %v", err)
	}
	// The same name in another account is another function; a bare name is then ambiguous.
	other := fx.function("once")
	other.Account = "222222222222"
	fx.add(t, other)
	if _, _, err := fx.svc.Invoke(t.Context(), "once", []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "use an ARN") {
		t.Errorf("Invoke by an ambiguous name: %v", err)
	}
	invokeOK(t, t.Context(), fx.svc, "222222222222:function:once", `{}`)
	if got := fx.svc.Functions(); len(got) != 2 {
		t.Errorf("Functions() = %v", got)
	}

	noRIE := lambda.New(lambda.Options{RIEBinary: filepath.Join(t.TempDir(), "missing")})
	defer noRIE.Close()
	if err := noRIE.Add(t.Context(), fx.function("x")); err == nil || !strings.Contains(err.Error(), "Options.RIEBinary") {
		t.Errorf("Add without an emulator: %v", err)
	}
}

func TestBuildRIEExplainsAMissingGo(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := lambda.BuildRIE(t.Context(), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "the go command is needed") {
		t.Errorf("BuildRIE without go: %v", err)
	}
}
