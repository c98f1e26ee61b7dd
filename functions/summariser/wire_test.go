package main

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/crossbuild/crossbuild/internal/runtimetest"
	"github.com/crossbuild/crossbuild/internal/s3test"
	"github.com/crossbuild/crossbuild/internal/testfixtures"
)

// The real S3 client against a local S3: ListObjectsV2 and GetObject on the wire, and the
// classification of S3's real error replies.
func TestSummariserWire(t *testing.T) {
	cases := []struct {
		name    string
		request string
		fault   *s3test.Fault
		faulted func(s3test.Request) bool
		errType string
	}{
		{"found by listing", "map-run-error", nil, nil, ""},
		{"reported manifest", "map-run", nil, nil, ""},
		{"list denied", "map-run-error", &s3test.Fault{Status: http.StatusForbidden, Code: "AccessDenied"},
			func(r s3test.Request) bool { return r.Key == "" }, "BucketUnusable"},
		{"bucket gone", "map-run", &s3test.Fault{Status: http.StatusNotFound, Code: "NoSuchBucket"},
			func(s3test.Request) bool { return true }, "BucketUnusable"},
		{"outage", "map-run", &s3test.Fault{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable"},
			func(r s3test.Request) bool { return r.Key != "" }, "TransientError"},
		{"result file gone", "map-run", &s3test.Fault{Status: http.StatusNotFound, Code: "NoSuchKey"},
			func(r s3test.Request) bool { return r.Key == testfixtures.MapRunDir+"FAILED_0.json" }, "ResultsUnreadable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := s3test.NewServer(t, testBucket)
			for k, v := range testfixtures.MapRunObjects() {
				srv.Put(testBucket, k, v)
			}
			srv.Fail = func(r s3test.Request) *s3test.Fault {
				if tc.faulted != nil && tc.faulted(r) {
					return tc.fault
				}
				return nil
			}
			client := srv.Client(2)
			h := &Handler{List: client, Objects: client, Bucket: testBucket, Log: newHandler(nil, io.Discard).Log}
			resp, err := h.Handle(context.Background(), requests(t)[tc.request])
			if got := runtimetest.ErrorName(err); got != tc.errType {
				t.Fatalf("error %v (%s), want %q", err, got, tc.errType)
			}
			if tc.errType != "" {
				return
			}
			s := resp.Output.Summary
			if s.Total != 6 || s.Succeeded != 2 || s.Failed != 3 || resp.Output.ResultsLocation.Manifest == nil || len(resp.Output.Results) != 5 {
				t.Errorf("summary %+v, %d results", s, len(resp.Output.Results))
			}
			for _, r := range srv.Requests() {
				if r.Bucket != testBucket || r.Method != http.MethodGet {
					t.Errorf("request %s %q/%q", r.Method, r.Bucket, r.Key)
				}
			}
		})
	}
}
