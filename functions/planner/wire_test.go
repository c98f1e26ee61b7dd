package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/crossbuild/crossbuild/internal/plan"
	"github.com/crossbuild/crossbuild/internal/runtimetest"
	"github.com/crossbuild/crossbuild/internal/s3test"
)

// The real S3 client against a local S3: path-style requests on the wire, the items file
// as stored, and the classification of S3's real error replies.
func TestPlannerWire(t *testing.T) {
	cases := []struct {
		name    string
		request string
		fault   *s3test.Fault
		method  string // the faulted method
		errType string
	}{
		{"inline", "walkthrough", nil, "", ""},
		{"from s3", "from-s3", nil, "", ""},
		{"missing object", "missing-object", nil, "", "InvalidInput"},
		{"read denied", "from-s3", &s3test.Fault{Status: http.StatusForbidden, Code: "AccessDenied"}, http.MethodGet, "InvalidInput"},
		{"bucket gone", "from-s3", &s3test.Fault{Status: http.StatusNotFound, Code: "NoSuchBucket"}, http.MethodGet, "BucketUnusable"},
		{"write denied", "walkthrough", &s3test.Fault{Status: http.StatusForbidden, Code: "AccessDenied"}, http.MethodPut, "BucketUnusable"},
		{"outage", "walkthrough", &s3test.Fault{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable"}, http.MethodPut, "TransientError"},
		{"slow down", "from-s3", &s3test.Fault{Status: http.StatusServiceUnavailable, Code: "SlowDown"}, http.MethodGet, "TransientError"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := s3test.NewServer(t, testBucket)
			srv.Put(testBucket, "fleet/targets.json", fixture(t, "fleet-targets.json"))
			srv.Fail = func(r s3test.Request) *s3test.Fault {
				if r.Method == tc.method {
					return tc.fault
				}
				return nil
			}
			client := srv.Client(2)
			h := &Handler{Targets: client, Items: client, Bucket: testBucket, Defaults: testDefaults, Log: newHandler(nil, io.Discard).Log}
			p, err := h.Handle(context.Background(), requests(t)[tc.request])
			if got := runtimetest.ErrorName(err); got != tc.errType {
				t.Fatalf("error %v (%s), want %q", err, got, tc.errType)
			}
			if tc.errType != "" {
				return
			}
			body, ok := srv.Object(testBucket, p.Items.Key)
			var items []plan.Item
			if !ok || json.Unmarshal(body, &items) != nil || len(items) != p.Count {
				t.Fatalf("items file %q (%v) for plan %+v", body, ok, p)
			}
			for _, r := range srv.Requests() {
				if r.Bucket != testBucket {
					t.Errorf("request %s %q/%q is not path-style on the deployment's bucket", r.Method, r.Bucket, r.Key)
				}
			}
		})
	}
}
