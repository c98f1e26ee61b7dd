package s3

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		method, path, query string
		header              map[string]string
		name, action        string
		resource            string
		errCode             string
	}{
		{"GET", "/", "", nil, "ListBuckets", "s3:ListAllMyBuckets", "*", ""},
		{"PUT", "/", "", nil, "", "", "", "MethodNotAllowed"},
		{"GET", "/b", "list-type=2&prefix=runs/", nil, "ListObjectsV2", "s3:ListBucket", "arn:aws:s3:::b", ""},
		{"GET", "/b", "prefix=runs/", nil, "ListObjects", "s3:ListBucket", "arn:aws:s3:::b", ""},
		{"HEAD", "/b", "", nil, "HeadBucket", "s3:ListBucket", "arn:aws:s3:::b", ""},
		{"PUT", "/b", "", nil, "CreateBucket", "s3:CreateBucket", "arn:aws:s3:::b", ""},
		{"DELETE", "/b", "", nil, "DeleteBucket", "s3:DeleteBucket", "arn:aws:s3:::b", ""},
		{"GET", "/b", "location", nil, "GetBucketLocation", "s3:GetBucketLocation", "arn:aws:s3:::b", ""},
		{"GET", "/b", "policy", nil, "GetBucketPolicy", "s3:GetBucketPolicy", "arn:aws:s3:::b", ""},
		{"PUT", "/b", "policy", nil, "PutBucketPolicy", "s3:PutBucketPolicy", "arn:aws:s3:::b", ""},
		{"DELETE", "/b", "policy", nil, "DeleteBucketPolicy", "s3:DeleteBucketPolicy", "arn:aws:s3:::b", ""},
		{"GET", "/b", "encryption", nil, "GetBucketEncryption", "s3:GetEncryptionConfiguration", "arn:aws:s3:::b", ""},
		{"PUT", "/b", "encryption", nil, "", "", "", "NotImplemented"},
		{"GET", "/b", "lifecycle", nil, "GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration", "arn:aws:s3:::b", ""},
		{"GET", "/b", "versioning", nil, "GetBucketVersioning", "s3:GetBucketVersioning", "arn:aws:s3:::b", ""},
		{"PUT", "/b", "versioning", nil, "PutBucketVersioning", "s3:PutBucketVersioning", "arn:aws:s3:::b", ""},
		{"GET", "/b", "versions", nil, "ListObjectVersions", "s3:ListBucketVersions", "arn:aws:s3:::b", ""},
		{"GET", "/b", "uploads", nil, "ListMultipartUploads", "s3:ListBucketMultipartUploads", "arn:aws:s3:::b", ""},
		{"POST", "/b", "delete", nil, "DeleteObjects", "s3:DeleteObject", "arn:aws:s3:::b", ""},
		{"POST", "/b", "", nil, "", "", "", "NotImplemented"},
		{"GET", "/b", "acl", nil, "", "", "", "NotImplemented"},
		{"GET", "/b", "tagging", nil, "", "", "", "NotImplemented"},
		{"PATCH", "/b", "", nil, "", "", "", "MethodNotAllowed"},
		{"GET", "/b/runs/e1/items.json", "x-id=GetObject", nil, "GetObject", "s3:GetObject", "arn:aws:s3:::b/runs/e1/items.json", ""},
		{"HEAD", "/b/k", "", nil, "HeadObject", "s3:GetObject", "arn:aws:s3:::b/k", ""},
		{"GET", "/b/k", "versionId=v1", nil, "GetObject", "s3:GetObjectVersion", "arn:aws:s3:::b/k", ""},
		{"HEAD", "/b/k", "versionId=v1", nil, "HeadObject", "s3:GetObjectVersion", "arn:aws:s3:::b/k", ""},
		{"PUT", "/b/k", "x-id=PutObject", nil, "PutObject", "s3:PutObject", "arn:aws:s3:::b/k", ""},
		{"PUT", "/b/k", "", map[string]string{"x-amz-copy-source": "/src/a%20b.json"}, "CopyObject", "s3:PutObject", "arn:aws:s3:::b/k", ""},
		{"PUT", "/b/k", "", map[string]string{"x-amz-copy-source": "src"}, "", "", "", "InvalidArgument"},
		{"DELETE", "/b/k", "", nil, "DeleteObject", "s3:DeleteObject", "arn:aws:s3:::b/k", ""},
		{"DELETE", "/b/k", "versionId=v1", nil, "DeleteObject", "s3:DeleteObjectVersion", "arn:aws:s3:::b/k", ""},
		{"POST", "/b/k", "uploads", nil, "CreateMultipartUpload", "s3:PutObject", "arn:aws:s3:::b/k", ""},
		{"PUT", "/b/k", "partNumber=1&uploadId=u", nil, "UploadPart", "s3:PutObject", "arn:aws:s3:::b/k", ""},
		{"PUT", "/b/k", "partNumber=1&uploadId=u", map[string]string{"x-amz-copy-source": "src/k"}, "UploadPartCopy", "s3:PutObject", "arn:aws:s3:::b/k", ""},
		{"POST", "/b/k", "uploadId=u", nil, "CompleteMultipartUpload", "s3:PutObject", "arn:aws:s3:::b/k", ""},
		{"DELETE", "/b/k", "uploadId=u", nil, "AbortMultipartUpload", "s3:AbortMultipartUpload", "arn:aws:s3:::b/k", ""},
		{"GET", "/b/k", "uploadId=u", nil, "ListParts", "s3:ListMultipartUploadParts", "arn:aws:s3:::b/k", ""},
		{"GET", "/b/k", "tagging", nil, "", "", "", "NotImplemented"},
		{"PUT", "/b/k", "acl", nil, "", "", "", "NotImplemented"},
		{"POST", "/b/k", "select&select-type=2", nil, "", "", "", "NotImplemented"},
		{"POST", "/b/k", "", nil, "", "", "", "NotImplemented"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path+"?"+c.query, func(t *testing.T) {
			q, err := url.ParseQuery(c.query)
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			for k, v := range c.header {
				h.Set(k, v)
			}
			bucket, key := splitPath(c.path)
			op, err := Classify(c.method, bucket, key, q, h)
			if c.errCode != "" {
				var e *Error
				if !errors.As(err, &e) || e.Code != c.errCode {
					t.Fatalf("error %v, want %s", err, c.errCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if op.Name != c.name || op.Action != c.action || op.Resource("aws") != c.resource {
				t.Fatalf("got %s %s %s, want %s %s %s", op.Name, op.Action, op.Resource("aws"), c.name, c.action, c.resource)
			}
		})
	}
}

func TestParseCopySource(t *testing.T) {
	cases := []struct{ in, bucket, key, version string }{
		{"/src/runs/a%20b.json", "src", "runs/a b.json", ""},
		{"src/k?versionId=v9", "src", "k", "v9"},
		{"src%2Fk", "src", "k", ""},
	}
	for _, c := range cases {
		b, k, v, err := parseCopySource(c.in)
		if err != nil || b != c.bucket || k != c.key || v != c.version {
			t.Errorf("parseCopySource(%q) = %q %q %q %v", c.in, b, k, v, err)
		}
	}
}
