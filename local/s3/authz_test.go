package s3

import (
	"net/http/httptest"
	"strings"
	"testing"
)

type authzCase struct {
	Name     string `json:"name"`
	Caller   string `json:"caller"`
	Action   string `json:"action"`
	Bucket   string `json:"bucket"`
	Key      string `json:"key"`
	Query    string `json:"query"`
	Insecure bool   `json:"insecure"`
	Allowed  bool   `json:"allowed"`
	// Message must occur in the AccessDenied message of a refused request.
	Message string `json:"message"`
}

func TestAuthorize(t *testing.T) {
	var cases []authzCase
	readJSON(t, "authorize.json", &cases)
	s := newFixtureService(t)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			b := s.lookup(c.Bucket)
			if b == nil {
				t.Fatalf("no bucket %s", c.Bucket)
			}
			s.InsecureTransport = c.Insecure
			defer func() { s.InsecureTransport = false }()
			r := httptest.NewRequest("GET", "/"+c.Bucket+"?"+c.Query, nil)
			d := s.authorize(principal(c.Caller), b, c.Action, resourceARN(b.Partition, c.Bucket, c.Key), s.requestContext(r, b, "eu-west-1"))
			if d.Allowed != c.Allowed {
				t.Fatalf("allowed = %v, want %v\nmessage: %s\nreason: %s", d.Allowed, c.Allowed, d.Message, d.Reason)
			}
			if !c.Allowed && !strings.Contains(d.Message, c.Message) {
				t.Fatalf("message %q\n does not contain %q", d.Message, c.Message)
			}
			if !c.Allowed && c.Message == "Access Denied" && d.Message != "Access Denied" {
				t.Fatalf("a caller outside the owner's account gets no detail, got %q", d.Message)
			}
		})
	}
}

// The condition keys a request carries, with the transport reported as TLS.
func TestRequestContext(t *testing.T) {
	s := newFixtureService(t)
	b := s.lookup("results")
	r := httptest.NewRequest("PUT", "/results/runs/a.json?x-id=PutObject", nil)
	r.Header.Set("x-amz-server-side-encryption", "aws:kms")
	ctx := s.requestContext(r, b, "eu-west-1")
	want := map[string]string{
		"aws:SecureTransport":             "true",
		"s3:TlsVersion":                   "1.3",
		"aws:ResourceAccount":             "111111111111",
		"aws:RequestedRegion":             "eu-west-1",
		"aws:SourceIp":                    "192.0.2.1", // httptest's remote address
		"aws:CurrentTime":                 "2026-11-26T10:00:00Z",
		"s3:x-amz-server-side-encryption": "aws:kms",
	}
	for k, v := range want {
		if got := ctx[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %v, want %q", k, got, v)
		}
	}
	if _, ok := ctx["s3:prefix"]; ok {
		t.Error("s3:prefix must be absent when the request has no prefix")
	}
	s.InsecureTransport = true
	ctx = s.requestContext(nil, b, "")
	if ctx["aws:SecureTransport"][0] != "false" || ctx["s3:TlsVersion"] != nil || ctx["aws:RequestedRegion"] != nil {
		t.Errorf("insecure context without a request = %v", ctx)
	}
}
