// Package awstest points real AWS SDK clients at httptest servers. Only tests import it.
package awstest

import (
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
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				o.MaxBackoff = 5 * time.Millisecond
			})
		},
	}
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
