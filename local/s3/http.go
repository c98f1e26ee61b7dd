package s3

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/crossbuild/crossbuild/internal/iam"
	"github.com/crossbuild/crossbuild/internal/partition"
	"github.com/crossbuild/crossbuild/local/localaws"
)

// ServeHTTP serves S3's REST API, path-style.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestIDs(w)
	w.Header().Set("Server", "AmazonS3")
	caller, ok := localaws.CallerFrom(r.Context())
	if !ok {
		writeError(w, r, accessDenied("Access Denied (anonymous requests are not served; requests reach the stand-in through localaws.Router)"))
		return
	}
	name, key := splitPath(r.URL.Path)
	op, err := Classify(r.Method, name, key, r.URL.Query(), r.Header)
	if err != nil {
		writeError(w, r, fromBackend(err, ""))
		return
	}
	if e := s.serve(w, r, caller, op); e != nil {
		writeError(w, r, e)
	}
}

// splitPath reads a path-style request path: /bucket/key.
func splitPath(path string) (bucket, key string) {
	bucket, key, _ = strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return bucket, key
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request, caller localaws.Caller, op Operation) *Error {
	switch op.Name {
	case "ListBuckets":
		return s.listBuckets(w, r, caller, op)
	case "CreateBucket":
		return s.createBucket(w, r, caller, op)
	}
	b := s.lookup(op.Bucket)
	if b == nil {
		return noSuchBucket(op.Bucket)
	}
	w.Header().Set("x-amz-bucket-region", b.Region)
	// GetBucketLocation is how a client finds the Region to sign for.
	if op.Name != "GetBucketLocation" && caller.Region != b.Region {
		return &Error{Status: http.StatusBadRequest, Code: "AuthorizationHeaderMalformed", Region: b.Region,
			Message: fmt.Sprintf("The authorization header is malformed; the region '%s' is wrong; expecting '%s'", caller.Region, b.Region)}
	}
	ctx := s.requestContext(r, b, caller.Region)
	if e := s.check(r.Context(), caller.Principal, b, op.Action, op.Resource(b.Partition), ctx); e != nil {
		return e
	}
	if op.SourceBucket != "" {
		src := s.lookup(op.SourceBucket)
		if src == nil {
			return noSuchBucket(op.SourceBucket)
		}
		action := "s3:GetObject"
		if op.SourceVersion != "" {
			action = "s3:GetObjectVersion"
		}
		if e := s.check(r.Context(), caller.Principal, src, action, resourceARN(src.Partition, op.SourceBucket, op.SourceKey),
			s.requestContext(r, src, caller.Region)); e != nil {
			return e
		}
	}

	switch op.Name {
	case "GetBucketLocation":
		constraint := b.Region
		if constraint == "us-east-1" {
			constraint = "" // S3 reports the oldest Region as no constraint
		}
		return writeXML(w, locationConstraint{Xmlns: xmlns, Value: constraint})
	case "GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy":
		if caller.Account != b.Account {
			// S3: only identities of the owner's account may manage the bucket policy.
			return methodNotAllowed(r.Method, "BUCKET POLICY")
		}
		return s.bucketPolicy(w, r, b, op)
	case "GetBucketEncryption":
		return writeXML(w, encryptionXML(b.Encryption))
	case "GetBucketLifecycleConfiguration":
		cfg, err := lifecycleXML(b.Lifecycle)
		if err != nil {
			return err
		}
		return writeXML(w, cfg)
	case "DeleteBucket":
		return s.deleteBucket(w, b)
	case "DeleteObjects":
		if e := s.checkDeleteObjects(r, caller.Principal, b, ctx); e != nil {
			return e
		}
	case "GetObject", "HeadObject":
		// Without s3:ListBucket a caller may not learn that a key is absent.
		if !r.URL.Query().Has("versionId") && !s.store.exists(b.Name, op.Key) {
			list := s.authorize(caller.Principal, b, "s3:ListBucket", resourceARN(b.Partition, b.Name, ""), ctx)
			if !list.Allowed {
				s.logDecision(r.Context(), slog.LevelInfo, "missing key reported as AccessDenied", "caller", caller.ARN,
					"bucket", b.Name, "key", op.Key, "reason", list.Reason)
				return accessDenied(list.Message)
			}
		}
	}
	return s.passThrough(w, r, b, op)
}

// check authorizes one action and logs the decision.
func (s *Service) check(ctx context.Context, p localaws.Principal, b *bucket, action, resource string, cond map[string][]string) *Error {
	d := s.authorize(p, b, action, resource, cond)
	if !d.Allowed {
		s.logDecision(ctx, slog.LevelInfo, "S3 request denied", "caller", p.ARN, "action", action, "resource", resource, "reason", d.Reason)
		if d.Message == "" {
			d.Message = "Access Denied"
		}
		return accessDenied(d.Message)
	}
	s.logDecision(ctx, slog.LevelDebug, "S3 request allowed", "caller", p.ARN, "action", action, "resource", resource, "reason", d.Reason)
	return nil
}

// dropHeaders are request headers that are not object metadata: gofakes3 would store every
// x-amz-* header with the object and send it back to whoever reads it.
var dropHeaders = []string{"X-Amz-Security-Token", "X-Amz-Date", "X-Amz-User-Agent", "X-Amz-Expected-Bucket-Owner"}

func (s *Service) passThrough(w http.ResponseWriter, r *http.Request, b *bucket, op Operation) *Error {
	r2 := r.Clone(r.Context())
	for _, h := range dropHeaders {
		r2.Header.Del(h)
	}
	switch sha := r2.Header.Get("X-Amz-Content-Sha256"); {
	case sha == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD":
		// gofakes3 decodes this aws-chunked form itself.
	case strings.HasPrefix(sha, "STREAMING-"):
		return notImplemented("aws-chunked uploads of the " + sha + " kind (sent only over HTTPS)")
	default:
		r2.Header.Del("X-Amz-Content-Sha256")
		r2.Header.Del("X-Amz-Decoded-Content-Length")
	}
	switch op.Name {
	case "GetObject", "HeadObject", "PutObject", "CopyObject", "CompleteMultipartUpload", "CreateMultipartUpload", "UploadPart":
		// Every object S3 stores is encrypted at rest, with the bucket's default unless the
		// request asks for another.
		if r.Header.Get("x-amz-server-side-encryption") == "" {
			alg, key := defaultEncryption(b.Encryption)
			w.Header().Set("x-amz-server-side-encryption", alg)
			if key != "" {
				w.Header().Set("x-amz-server-side-encryption-aws-kms-key-id", key)
			}
		}
	}
	// gofakes3 sets its own request id.
	w.Header().Del("x-amz-request-id")
	w.Header().Del("x-amz-id-2")
	s.fake.ServeHTTP(w, r2)
	return nil
}

func (s *Service) listBuckets(w http.ResponseWriter, r *http.Request, caller localaws.Caller, op Operation) *Error {
	own := &bucket{Bucket: Bucket{Account: caller.Account, Partition: partition.Of(caller.Region)}}
	if e := s.check(r.Context(), caller.Principal, own, op.Action, "*", s.requestContext(r, own, caller.Region)); e != nil {
		return e
	}
	q := r.URL.Query()
	out := listAllMyBuckets{Xmlns: xmlns, Owner: owner{ID: canonicalID(caller.Account)}}
	for _, b := range s.Buckets() {
		if b.Account != caller.Account || !strings.HasPrefix(b.Name, q.Get("prefix")) ||
			(q.Get("bucket-region") != "" && q.Get("bucket-region") != b.Region) {
			continue
		}
		out.Buckets = append(out.Buckets, bucketEntry{Name: b.Name, CreationDate: b.Created.UTC().Format(isoMillis), BucketRegion: b.Region})
	}
	return writeXML(w, out)
}

func (s *Service) createBucket(w http.ResponseWriter, r *http.Request, caller localaws.Caller, op Operation) *Error {
	if !validBucketName(op.Bucket) {
		return &Error{Status: http.StatusBadRequest, Code: "InvalidBucketName", Message: "The specified bucket is not valid.", Resource: op.Bucket}
	}
	own := &bucket{Bucket: Bucket{Account: caller.Account, Partition: partition.Of(caller.Region)}}
	if e := s.check(r.Context(), caller.Principal, own, op.Action, op.Resource(own.Partition), s.requestContext(r, own, caller.Region)); e != nil {
		return e
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return invalidArgument("reading the request body: " + err.Error())
	}
	var cfg struct {
		LocationConstraint string `xml:"LocationConstraint"`
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := xml.Unmarshal(body, &cfg); err != nil {
			return &Error{Status: http.StatusBadRequest, Code: "MalformedXML",
				Message: "The XML you provided was not well-formed or did not validate against our published schema"}
		}
	}
	if want := caller.Region; cfg.LocationConstraint != want && !(want == "us-east-1" && cfg.LocationConstraint == "") {
		msg := fmt.Sprintf("The %s location constraint is incompatible for the region specific endpoint this request was sent to.", cfg.LocationConstraint)
		if cfg.LocationConstraint == "" {
			msg = "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to."
		}
		return &Error{Status: http.StatusBadRequest, Code: "IllegalLocationConstraintException", Message: msg}
	}
	if existing := s.lookup(op.Bucket); existing != nil {
		if existing.Account == caller.Account {
			return &Error{Status: http.StatusConflict, Code: "BucketAlreadyOwnedByYou", Resource: op.Bucket,
				Message: "Your previous request to create the named bucket succeeded and you already own it."}
		}
		return &Error{Status: http.StatusConflict, Code: "BucketAlreadyExists", Resource: op.Bucket,
			Message: "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."}
	}
	if err := s.CreateBucket(Bucket{Name: op.Bucket, Account: caller.Account, Region: caller.Region, Partition: own.Partition}); err != nil {
		return &Error{Status: http.StatusConflict, Code: "OperationAborted", Message: err.Error()}
	}
	w.Header().Set("Location", "/"+op.Bucket)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Service) deleteBucket(w http.ResponseWriter, b *bucket) *Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.store.DeleteBucket(b.Name); err != nil {
		return fromBackend(err, b.Name)
	}
	delete(s.buckets, b.Name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) bucketPolicy(w http.ResponseWriter, r *http.Request, b *bucket, op Operation) *Error {
	switch op.Name {
	case "GetBucketPolicy":
		if len(b.Policy) == 0 {
			return &Error{Status: http.StatusNotFound, Code: "NoSuchBucketPolicy", Message: "The bucket policy does not exist", Resource: b.Name}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b.Policy)
		return nil
	case "PutBucketPolicy":
		// S3 limits a bucket policy to 20 KB.
		doc, err := io.ReadAll(io.LimitReader(r.Body, 20<<10+1))
		if err != nil {
			return invalidArgument("reading the request body: " + err.Error())
		}
		if len(doc) > 20<<10 {
			return &Error{Status: http.StatusBadRequest, Code: "PolicyTooLarge", Message: "Policy exceeds the maximum allowed document size."}
		}
		if _, err := iam.Parse(doc); err != nil {
			return &Error{Status: http.StatusBadRequest, Code: "MalformedPolicy", Message: err.Error()}
		}
		if err := s.SetBucketPolicy(b.Name, doc); err != nil {
			return fromBackend(err, b.Name)
		}
	case "DeleteBucketPolicy":
		if err := s.SetBucketPolicy(b.Name, nil); err != nil {
			return fromBackend(err, b.Name)
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkDeleteObjects authorizes DeleteObjects key by key. Where S3 reports a refused key in
// the result and deletes the others, the stand-in refuses the whole request.
func (s *Service) checkDeleteObjects(r *http.Request, p localaws.Principal, b *bucket, cond map[string][]string) *Error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 2<<20))
	if err != nil {
		return invalidArgument("reading the request body: " + err.Error())
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var in struct {
		Objects []struct {
			Key       string `xml:"Key"`
			VersionID string `xml:"VersionId"`
		} `xml:"Object"`
	}
	if err := xml.Unmarshal(body, &in); err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "MalformedXML",
			Message: "The XML you provided was not well-formed or did not validate against our published schema"}
	}
	if len(in.Objects) > 1000 {
		return &Error{Status: http.StatusBadRequest, Code: "MalformedXML", Message: "DeleteObjects takes at most 1000 keys"}
	}
	for _, o := range in.Objects {
		action := "s3:DeleteObject"
		if o.VersionID != "" {
			action = "s3:DeleteObjectVersion"
		}
		if e := s.check(r.Context(), p, b, action, resourceARN(b.Partition, b.Name, o.Key), cond); e != nil {
			return e
		}
	}
	return nil
}

func writeXML(w http.ResponseWriter, v any) *Error {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(v); err != nil {
		return &Error{Status: http.StatusInternalServerError, Code: "InternalError", Message: err.Error()}
	}
	w.Header().Set("Content-Type", "application/xml")
	_, _ = w.Write(buf.Bytes())
	return nil
}
