package lambda

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Runtime API paths the proxy looks at.
const (
	runtimeNextPath   = "/2018-06-01/runtime/invocation/next"
	runtimeInvokePath = "/2018-06-01/runtime/invocation/"
	maxErrorDocument  = 1 << 20
)

// invocationRecord is what the proxy learns of one invocation from the runtime.
type invocationRecord struct {
	traceHeader string
	delivered   bool           // the runtime received the invocation
	responded   bool           // the runtime posted a result
	fnErr       *FunctionError // the runtime posted an error
	// deliveredAt is when the runtime received the invocation from its next call;
	// answeredAt when it posted the result or error.
	deliveredAt, answeredAt time.Time
}

// runtimeProxy stands between the runtime and the emulator's Runtime API. It adds the
// trace header and the real function ARN to each invocation the runtime receives, and
// records whether the runtime answered with a result or an error.
type runtimeProxy struct {
	arn string
	ln  net.Listener
	srv *http.Server

	mu      sync.Mutex
	target  *url.URL // the emulator's Runtime API; changes when the emulator restarts
	records map[string]*invocationRecord
}

func newRuntimeProxy(arn string, logTo io.Writer) (*runtimeProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the Runtime API proxy: %w", err)
	}
	p := &runtimeProxy{arn: arn, ln: ln, records: map[string]*invocationRecord{}}
	errLog := log.New(logTo, "runtime-api-proxy: ", log.LstdFlags)
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			p.mu.Lock()
			t := p.target
			p.mu.Unlock()
			if t != nil {
				r.SetURL(t)
			}
		},
		ModifyResponse: p.decorateNext,
		ErrorLog:       errLog,
	}
	p.srv = &http.Server{
		Handler:           p.observe(rp),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          errLog,
	}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Addr is what the runtime gets as AWS_LAMBDA_RUNTIME_API.
func (p *runtimeProxy) Addr() string { return p.ln.Addr().String() }

func (p *runtimeProxy) setTarget(hostport string) {
	p.mu.Lock()
	p.target = &url.URL{Scheme: "http", Host: hostport}
	p.mu.Unlock()
}

func (p *runtimeProxy) begin(requestID, traceHeader string) {
	p.mu.Lock()
	p.records[requestID] = &invocationRecord{traceHeader: traceHeader}
	p.mu.Unlock()
}

// end forgets the invocation and returns what was learnt of it.
func (p *runtimeProxy) end(requestID string) invocationRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	rec := p.records[requestID]
	delete(p.records, requestID)
	if rec == nil {
		return invocationRecord{}
	}
	return *rec
}

// close is called once the runtime is gone, so no request is worth waiting for.
func (p *runtimeProxy) close() error {
	if err := p.srv.Close(); err != nil {
		return fmt.Errorf("close the Runtime API proxy: %w", err)
	}
	return nil
}

// observe records the runtime's answers before passing them on.
func (p *runtimeProxy) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, verb, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, runtimeInvokePath), "/")
		if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, runtimeInvokePath) && ok {
			switch verb {
			case "response":
				now := time.Now()
				p.update(id, func(rec *invocationRecord) { rec.responded, rec.answeredAt = true, now })
			case "error":
				body, err := io.ReadAll(io.LimitReader(r.Body, maxErrorDocument))
				if err != nil {
					http.Error(w, "read error document: "+err.Error(), http.StatusBadRequest)
					return
				}
				fe, isDoc := parseFunctionError(body)
				if !isDoc {
					fe = &FunctionError{Message: strings.TrimSpace(string(body))}
				}
				if fe.Type == "" {
					fe.Type = r.Header.Get("Lambda-Runtime-Function-Error-Type")
				}
				now := time.Now()
				p.update(id, func(rec *invocationRecord) { rec.fnErr, rec.answeredAt = fe, now })
				r.Body = io.NopCloser(bytes.NewReader(body))
				r.ContentLength = int64(len(body))
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (p *runtimeProxy) update(id string, f func(*invocationRecord)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if rec := p.records[id]; rec != nil {
		f(rec)
	}
}

// decorateNext gives the runtime what Lambda sends with each invocation and the classic
// emulator does not: the trace header and the function's own ARN.
func (p *runtimeProxy) decorateNext(resp *http.Response) error {
	if resp.Request == nil || resp.Request.URL.Path != runtimeNextPath || resp.StatusCode != http.StatusOK {
		return nil
	}
	resp.Header.Set("Lambda-Runtime-Invoked-Function-Arn", p.arn)
	p.mu.Lock()
	defer p.mu.Unlock()
	rec := p.records[resp.Header.Get("Lambda-Runtime-Aws-Request-Id")]
	if rec == nil {
		return nil
	}
	rec.delivered, rec.deliveredAt = true, time.Now()
	if rec.traceHeader != "" {
		resp.Header.Set("Lambda-Runtime-Trace-Id", rec.traceHeader)
	}
	return nil
}
