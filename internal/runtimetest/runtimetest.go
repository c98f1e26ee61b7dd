// Package runtimetest runs a Lambda handler under aws-lambda-go's own Runtime API client and
// reports what that client sent back: the response, or the error document whose errorType
// Step Functions matches in Retry and Catch.
//
// The name an error gets is decided inside aws-lambda-go, in the invoke loop a deployed
// function runs; checking a handler's returned error in-process would test a copy of that
// logic, not the runtime. So Invoke re-runs the calling test in a child process of the test
// binary, where the handler is served by lambda.StartHandler against a Runtime API on
// 127.0.0.1, and collects one result per payload.
package runtimetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/crossbuild/crossbuild/internal/failure"
)

// childEnv marks the child process that serves the handler.
const childEnv = "CROSSBUILD_RUNTIMETEST_CHILD"

// timeout bounds one Invoke call: the child's start and every invocation.
const timeout = 60 * time.Second

const invocationPath = "/2018-06-01/runtime/invocation/"

// Result is what the runtime posted for one invocation.
type Result struct {
	Payload      []byte // the response, when the handler succeeded
	ErrorType    string // the error document's errorType, when it failed
	ErrorMessage string
}

// Failed reports whether the invocation ended with an error document.
func (r Result) Failed() bool { return r.ErrorType != "" || r.ErrorMessage != "" }

// Invoke serves h through the real runtime and invokes it once per payload, in order.
// In the child process it serves h and never returns, so the calling test must build h
// the same way on both sides and call Invoke before any assertion on its results.
func Invoke(t *testing.T, h lambda.Handler, payloads ...[]byte) []Result {
	t.Helper()
	if os.Getenv(childEnv) != "" {
		lambda.StartHandler(h) // exits the process when the Runtime API goes away
		return nil
	}
	api := newRuntimeAPI(payloads)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: timeout}
	go func() { _ = srv.Serve(ln) }()

	var stderr bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run="+runPattern(t.Name()), "-test.count=1", "-test.timeout="+timeout.String())
	cmd.Env = append(os.Environ(),
		childEnv+"=1",
		"AWS_LAMBDA_RUNTIME_API="+ln.Addr().String(),
		"AWS_LAMBDA_FUNCTION_NAME=runtimetest",
		"_LAMBDA_SERVER_PORT=", // never the go1.x RPC mode
	)
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", os.Args[0], err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()

	select {
	case <-api.done:
	case <-exited:
		t.Fatalf("the function process exited after %d of %d invocations:\n%s", api.served(), len(payloads), stderr.String())
	case <-time.After(timeout):
		t.Fatalf("no answer to %d of %d invocations within %s:\n%s", len(payloads)-api.served(), len(payloads), timeout, stderr.String())
	}
	return api.results
}

// runPattern selects exactly the named test, subtests included, for -test.run.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// runtimeAPI is the part of the Lambda Runtime API the invoke loop uses: next, response
// and error. After the last payload, next blocks until the server shuts down.
type runtimeAPI struct {
	payloads [][]byte
	results  []Result
	done     chan struct{}

	mu       sync.Mutex
	next     int // payloads handed out
	answered int
}

func newRuntimeAPI(payloads [][]byte) *runtimeAPI {
	a := &runtimeAPI{payloads: payloads, results: make([]Result, len(payloads)), done: make(chan struct{})}
	if len(payloads) == 0 {
		close(a.done)
	}
	return a
}

func (a *runtimeAPI) served() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.answered
}

func (a *runtimeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, invocationPath)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if rest == "next" && r.Method == http.MethodGet {
		a.serveNext(w, r)
		return
	}
	id, kind, ok := strings.Cut(rest, "/")
	i, err := strconv.Atoi(id)
	if !ok || err != nil || r.Method != http.MethodPost || (kind != "response" && kind != "error") {
		http.NotFound(w, r)
		return
	}
	var body bytes.Buffer
	if _, err := body.ReadFrom(r.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	res := Result{Payload: body.Bytes()}
	if kind == "error" {
		var doc struct {
			Type    string `json:"errorType"`
			Message string `json:"errorMessage"`
		}
		if err := json.Unmarshal(body.Bytes(), &doc); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		res = Result{ErrorType: doc.Type, ErrorMessage: doc.Message}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if i < 0 || i >= len(a.results) {
		http.NotFound(w, r)
		return
	}
	a.results[i] = res
	a.answered++
	if a.answered == len(a.payloads) {
		close(a.done)
	}
	w.WriteHeader(http.StatusAccepted)
}

func (a *runtimeAPI) serveNext(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	i := a.next
	if i < len(a.payloads) {
		a.next++
	}
	a.mu.Unlock()
	if i >= len(a.payloads) {
		<-r.Context().Done() // no more work: hold the loop until the process is killed
		return
	}
	h := w.Header()
	h.Set("Lambda-Runtime-Aws-Request-Id", strconv.Itoa(i))
	h.Set("Lambda-Runtime-Deadline-Ms", fmt.Sprint(time.Now().Add(timeout).UnixMilli()))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:111111111111:function:runtimetest")
	_, _ = w.Write(a.payloads[i])
}

// ErrorName returns the errorType the runtime sends for err once it leaves failure.Report:
// "" for nil, the failure's table name, or for an error with no failure in its chain a
// label that is no table name, so a test expecting success or a failure cannot pass on it.
// TestRuntimeSendsTableNames in internal/failure holds this to the runtime.
func ErrorName(err error) string {
	if err == nil {
		return ""
	}
	if name := failure.Name(err); name != "" {
		return name
	}
	return fmt.Sprintf("unnamed %T", err)
}
