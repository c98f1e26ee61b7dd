package dynalitetest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Fault is how a Proxy loses the answer to a request it has already applied.
type Fault int

const (
	// Answer500 replies with an InternalServerError, which the SDK retries.
	Answer500 Fault = iota
	// DropConnection closes the connection without a reply.
	DropConnection
)

func (f Fault) String() string {
	if f == DropConnection {
		return "connection dropped"
	}
	return "500 answer"
}

// ProxyRequest is one request the proxy forwarded.
type ProxyRequest struct {
	Op   string // DynamoDB operation, e.g. "UpdateItem"
	Body []byte
	Lost bool // the write was applied but its answer was lost
}

// Proxy sits between a client and dynalite. Every request reaches dynalite; the answers to
// the requests chosen by LoseAnswers never reach the client. This is what a client sees
// when a write is applied and its response is lost on the way back.
type Proxy struct {
	URL string

	endpoint string
	mu       sync.Mutex
	match    func(op string, body []byte) bool
	left     int
	fault    Fault
	requests []ProxyRequest
}

// StartProxy starts a proxy in front of the dynalite at endpoint for the duration of the test.
func StartProxy(t testing.TB, endpoint string) *Proxy {
	t.Helper()
	p := &Proxy{endpoint: endpoint}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// LoseAnswers makes the proxy lose, with fault, the answers to the next n requests for
// which match is true.
func (p *Proxy) LoseAnswers(n int, fault Fault, match func(op string, body []byte) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.match, p.left, p.fault = match, n, fault
}

// Requests returns the requests forwarded so far.
func (p *Proxy) Requests() []ProxyRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ProxyRequest(nil), p.requests...)
}

// Count returns how many forwarded requests match.
func (p *Proxy) Count(match func(op string, body []byte) bool) int {
	n := 0
	for _, r := range p.Requests() {
		if match(r.Op, r.Body) {
			n++
		}
	}
	return n
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	p.mu.Lock()
	lose := p.left > 0 && p.match != nil && p.match(op, body)
	if lose {
		p.left--
	}
	fault := p.fault
	p.requests = append(p.requests, ProxyRequest{Op: op, Body: body, Lost: lose})
	p.mu.Unlock()

	status, header, answer, err := p.forward(r, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if lose {
		loseAnswer(w, fault)
		return
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = w.Write(answer)
}

func (p *Proxy) forward(r *http.Request, body []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.endpoint+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, answer, err
}

func loseAnswer(w http.ResponseWriter, fault Fault) {
	if fault == DropConnection {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}`)
}

// NewRetryingClient returns a DynamoDB client for endpoint that retries like a production
// client (three attempts) with a negligible backoff, so a lost answer is retried at once.
func NewRetryingClient(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "test-secret", Source: "dynalitetest"}, nil
		}),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 3
			o.MaxBackoff = time.Millisecond
		}),
	})
}
