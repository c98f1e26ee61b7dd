// Package s3test is a tiny in-memory S3 for wire-level tests: real aws-sdk-go-v2 S3 clients
// send PutObject, GetObject and ListObjectsV2 to it over HTTP on 127.0.0.1 (path-style
// addressing). Only tests import it.
package s3test

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/crossbuild/crossbuild/internal/awstest"
)

// Fault is an error reply the server gives instead of serving a request.
type Fault struct {
	Status int
	Code   string
}

// Request is one request the server received.
type Request struct {
	Method string
	Bucket string
	Key    string
	Query  url.Values
	Header http.Header
}

// Server is the in-memory S3.
type Server struct {
	*httptest.Server
	// Fail, when set, may answer a request with an error instead.
	Fail func(Request) *Fault
	// PageSize bounds ListObjectsV2 pages (default 1000, as S3).
	PageSize int

	mu       sync.Mutex
	buckets  map[string]map[string]object
	requests []Request
}

type object struct {
	body     []byte
	modified time.Time
}

// NewServer starts a server on 127.0.0.1 with the named (empty) buckets.
func NewServer(t testing.TB, buckets ...string) *Server {
	t.Helper()
	s := &Server{buckets: make(map[string]map[string]object), PageSize: 1000}
	for _, b := range buckets {
		s.buckets[b] = make(map[string]object)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Client returns a real S3 client for the server, with attempts tries per call, configured
// as the functions' main does. The SDK addresses an endpoint that is an IP address
// path-style by itself, as it does the local runtime's.
func (s *Server) Client(attempts int) *s3.Client {
	return s3.NewFromConfig(awstest.Config(s.URL, attempts))
}

// Put stores an object.
func (s *Server) Put(bucket, key string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buckets[bucket][key] = object{body: append([]byte(nil), body...), modified: time.Now()}
}

// Object returns a stored object.
func (s *Server) Object(bucket, key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.buckets[bucket][key]
	return o.body, ok
}

// Requests returns what the server received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	req := Request{Method: r.Method, Bucket: bucket, Key: key, Query: r.URL.Query(), Header: r.Header.Clone()}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	if s.Fail != nil {
		if f := s.Fail(req); f != nil {
			writeError(w, f.Status, f.Code)
			return
		}
	}
	s.mu.Lock()
	objects, ok := s.buckets[bucket]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "NoSuchBucket")
		return
	}
	switch {
	case r.Method == http.MethodPut && key != "":
		body, err := readBody(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, "IncompleteBody")
			return
		}
		s.mu.Lock()
		objects[key] = object{body: body, modified: time.Now()}
		s.mu.Unlock()
		w.Header().Set("ETag", `"etag"`)
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodGet && key != "":
		s.mu.Lock()
		o, ok := objects[key]
		s.mu.Unlock()
		if !ok {
			writeError(w, http.StatusNotFound, "NoSuchKey")
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(o.body)))
		w.Header().Set("Last-Modified", o.modified.UTC().Format(http.TimeFormat))
		_, _ = w.Write(o.body)
	case r.Method == http.MethodGet && req.Query.Get("list-type") == "2":
		s.list(w, bucket, objects, req.Query)
	default:
		writeError(w, http.StatusNotImplemented, "NotImplemented")
	}
}

type listResult struct {
	XMLName               xml.Name `xml:"ListBucketResult"`
	Name                  string
	Prefix                string
	KeyCount              int
	MaxKeys               int
	IsTruncated           bool
	NextContinuationToken string `xml:",omitempty"`
	Contents              []listEntry
}

type listEntry struct {
	Key          string
	LastModified string
	Size         int
}

func (s *Server) list(w http.ResponseWriter, bucket string, objects map[string]object, q url.Values) {
	prefix, after := q.Get("prefix"), q.Get("continuation-token")
	s.mu.Lock()
	var keys []string
	for k := range objects {
		if strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	res := listResult{Name: bucket, Prefix: prefix, MaxKeys: s.PageSize}
	if len(keys) > s.PageSize {
		keys = keys[:s.PageSize]
		res.IsTruncated = true
		res.NextContinuationToken = keys[len(keys)-1]
	}
	for _, k := range keys {
		o := objects[k]
		res.Contents = append(res.Contents, listEntry{Key: k, LastModified: o.modified.UTC().Format(time.RFC3339Nano), Size: len(o.body)})
	}
	s.mu.Unlock()
	res.KeyCount = len(res.Contents)
	w.Header().Set("Content-Type", "application/xml")
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(res)
}

// readBody reads a request body, decoding the aws-chunked encoding the SDK uses when it
// sends a checksum as a trailer.
func readBody(r *http.Request) ([]byte, error) {
	if !strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") {
		return io.ReadAll(r.Body)
	}
	br := bufio.NewReader(r.Body)
	var out bytes.Buffer
	for range 1 << 20 {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		sizeHex, _, _ := strings.Cut(strings.TrimSpace(line), ";")
		n, err := strconv.ParseInt(sizeHex, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("chunk size %q: %w", line, err)
		}
		if n == 0 {
			return out.Bytes(), nil // trailers follow; they are not checked
		}
		if _, err := io.CopyN(&out, br, n); err != nil {
			return nil, err
		}
		if _, err := br.ReadString('\n'); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("too many chunks")
}

func writeError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, "%s<Error><Code>%s</Code><Message>%s</Message><RequestId>test</RequestId></Error>", xml.Header, code, code)
}
