// Package awstest points real AWS SDK clients at httptest servers. Only tests import it.
package awstest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Config returns a config whose clients send to endpoint with static credentials and at
// most attempts tries (backoff shortened so retry tests stay fast).
func Config(endpoint string, attempts int) aws.Config {
	return aws.Config{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:   HTTPClient(),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				o.MaxBackoff = 5 * time.Millisecond
			})
		},
	}
}

// HTTPClient is an HTTP client for SDK clients in tests that allow one attempt. The SDK
// closes a request's body as soon as the response headers arrive, which races with the
// transport still finishing the write of that request: the transport then closes the
// connection under the response being read ("use of closed network connection", seen here
// on bodies over 4 KiB about once in 300 calls; aws/aws-sdk-go-v2#2737). The SDK retries
// that error by default; a test that counts requests cannot, so this client hands the
// transport its own copy of every request body.
func HTTPClient() *http.Client {
	return &http.Client{Transport: ownBody{http.DefaultTransport.(*http.Transport).Clone()}}
}

type ownBody struct{ next http.RoundTripper }

func (o ownBody) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return o.next.RoundTrip(r)
	}
	b, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	r = r.Clone(r.Context())
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return o.next.RoundTrip(r)
}

// Request is one request a Server received.
type Request struct {
	Target string // X-Amz-Target for JSON protocols
	Query  string // Action for query protocols
	Body   []byte
}

// Reply is one canned response.
type Reply struct {
	Status      int
	ContentType string
	Body        string
}

// Server answers requests with canned replies chosen by a function, and records them.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	requests []Request
}

// NewServer starts a server on 127.0.0.1 that calls reply for each request.
func NewServer(t testing.TB, reply func(Request) Reply) *Server {
	t.Helper()
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := Request{Target: r.Header.Get("X-Amz-Target"), Body: body, Query: queryAction(body)}
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.mu.Unlock()
		rep := reply(req)
		if rep.ContentType != "" {
			w.Header().Set("Content-Type", rep.ContentType)
		}
		w.Header().Set("X-Amzn-Requestid", "test-request-id")
		if rep.Status == 0 {
			rep.Status = http.StatusOK
		}
		w.WriteHeader(rep.Status)
		_, _ = w.Write([]byte(rep.Body))
	}))
	t.Cleanup(s.Close)
	return s
}

// Requests returns what the server received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// queryAction reads the Action of a query-protocol (form-encoded) request.
func queryAction(body []byte) string {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return ""
	}
	return v.Get("Action")
}

// JSON is a JSON 1.0/1.1 protocol reply.
func JSON(status int, body string) Reply {
	return Reply{Status: status, ContentType: "application/x-amz-json-1.1", Body: body}
}

// JSONError is an AWS JSON protocol error reply.
func JSONError(status int, code, message string) Reply {
	return JSON(status, `{"__type":"`+code+`","message":"`+message+`"}`)
}

// XML is a query protocol reply.
func XML(status int, body string) Reply {
	return Reply{Status: status, ContentType: "text/xml", Body: body}
}
