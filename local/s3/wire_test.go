package s3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/crossbuild/crossbuild/local/localaws"
)

// wire is the stand-in behind the router on a loopback listener, with the requests it saw.
type wire struct {
	svc *Service
	ids *localaws.Identities
	srv *httptest.Server

	mu   sync.Mutex
	seen []*http.Request
}

func newWire(t *testing.T) *wire {
	t.Helper()
	w := &wire{svc: newFixtureService(t), ids: localaws.NewIdentities()}
	router := localaws.NewRouter(w.ids)
	router.Handle("s3", w.svc)
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.seen = append(w.seen, r)
		w.mu.Unlock()
		router.ServeHTTP(rw, r)
	}))
	t.Cleanup(w.srv.Close)
	return w
}

// client is a real SDK client signing as arn in region, with nothing set for addressing.
func (w *wire) client(arn, region string) *awss3.Client {
	c := w.ids.Temporary(principal(arn), 3600e9)
	return awss3.NewFromConfig(aws.Config{
		Region:       region,
		BaseEndpoint: aws.String(w.srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
	})
}

func apiCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

const (
	writerARN   = "arn:aws:sts::111111111111:assumed-role/writer/fn"
	readerARN   = "arn:aws:sts::111111111111:assumed-role/reader/fn"
	partnerARN  = "arn:aws:sts::222222222222:assumed-role/partner/fn"
	outsiderARN = "arn:aws:sts::333333333333:assumed-role/outsider/fn"
)

func TestWireObjects(t *testing.T) {
	w := newWire(t)
	ctx := context.Background()
	writer := w.client(writerARN, "eu-west-1")

	objects := map[string]string{
		"runs/e1/items.json":            `[{"target":1}]`,
		"runs/e1/results/manifest.json": `{"ResultFiles":{}}`,
		"runs/e2/items.json":            `[]`,
	}
	for key, body := range objects {
		if _, err := writer.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("results"), Key: aws.String(key),
			Body: strings.NewReader(body), ContentType: aws.String("application/json")}); err != nil {
			t.Fatalf("PutObject %s: %v", key, err)
		}
	}
	// Path-style addressing against an IP endpoint, with nothing set on the client.
	w.mu.Lock()
	first := w.seen[0]
	w.mu.Unlock()
	if first.Host != strings.TrimPrefix(w.srv.URL, "http://") || !strings.HasPrefix(first.URL.Path, "/results/runs/") {
		t.Fatalf("request went to host %q path %q, want path-style on the endpoint", first.Host, first.URL.Path)
	}

	list, err := writer.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("results"), Prefix: aws.String("runs/e1/")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	if strings.Join(keys, ",") != "runs/e1/items.json,runs/e1/results/manifest.json" || aws.ToInt32(list.KeyCount) != 2 {
		t.Fatalf("ListObjectsV2 prefix runs/e1/ = %v (KeyCount %d)", keys, aws.ToInt32(list.KeyCount))
	}

	// The writer may not read; a reader named in the bucket policy may, in the same account.
	_, err = writer.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("results"), Key: aws.String("runs/e1/items.json")})
	if apiCode(err) != "AccessDenied" || httpStatus(err) != http.StatusForbidden ||
		!strings.Contains(err.Error(), "because no identity-based policy allows the s3:GetObject action") {
		t.Fatalf("writer GetObject: %v", err)
	}
	reader := w.client(readerARN, "eu-west-1")
	got, err := reader.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("results"), Key: aws.String("runs/e1/items.json")})
	if err != nil {
		t.Fatalf("reader GetObject (allowed by the bucket policy): %v", err)
	}
	body, _ := io.ReadAll(got.Body)
	_ = got.Body.Close()
	if string(body) != objects["runs/e1/items.json"] || aws.ToString(got.ContentType) != "application/json" ||
		got.ServerSideEncryption != s3types.ServerSideEncryptionAes256 {
		t.Fatalf("GetObject = %q, type %q, encryption %q", body, aws.ToString(got.ContentType), got.ServerSideEncryption)
	}

	// Another account: allowed where both its identity policy and the bucket policy allow.
	partner := w.client(partnerARN, "eu-west-1")
	head, err := partner.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("results"), Key: aws.String("runs/e2/items.json")})
	if err != nil || aws.ToInt64(head.ContentLength) != 2 {
		t.Fatalf("partner HeadObject: %+v %v", head, err)
	}
	_, err = partner.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("results"), Key: aws.String("runs/x"), Body: strings.NewReader("x")})
	if apiCode(err) != "AccessDenied" || !strings.Contains(err.Error(), "Access Denied") {
		t.Fatalf("partner PutObject (the bucket policy grants reads only): %v", err)
	}
	outsider := w.client(outsiderARN, "eu-west-1")
	_, err = outsider.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("results"), Key: aws.String("runs/e1/items.json")})
	if apiCode(err) != "AccessDenied" || httpStatus(err) != http.StatusForbidden {
		t.Fatalf("outsider GetObject: %v", err)
	}
	if strings.Contains(err.Error(), "User:") {
		t.Errorf("a caller of another account learns why: %v", err)
	}

	// A missing key: NotFound for whoever may list the bucket, AccessDenied for others.
	_, err = partner.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("results"), Key: aws.String("nope")})
	var nf *s3types.NotFound
	if !errors.As(err, &nf) {
		t.Fatalf("HeadObject of a missing key with s3:ListBucket: %v", err)
	}
	_, err = reader.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("results"), Key: aws.String("nope")})
	if apiCode(err) != "AccessDenied" || !strings.Contains(err.Error(), "perform: s3:ListBucket") {
		t.Fatalf("GetObject of a missing key without s3:ListBucket: %v", err)
	}
	_, err = partner.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("results"), Key: aws.String("nope")})
	var nsk *s3types.NoSuchKey
	if !errors.As(err, &nsk) {
		t.Fatalf("GetObject of a missing key with s3:ListBucket: %v", err)
	}
}

func TestWireBucket(t *testing.T) {
	w := newWire(t)
	ctx := context.Background()
	writer := w.client(writerARN, "eu-west-1")

	loc, err := writer.GetBucketLocation(ctx, &awss3.GetBucketLocationInput{Bucket: aws.String("results")})
	if err != nil || loc.LocationConstraint != "eu-west-1" {
		t.Fatalf("GetBucketLocation = %+v %v", loc, err)
	}
	if _, err := writer.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String("results")}); err != nil {
		t.Fatalf("HeadBucket: %v", err)
	}
	_, err = writer.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String("missing-bucket")})
	var nf *s3types.NotFound
	if !errors.As(err, &nf) {
		t.Fatalf("HeadBucket of a missing bucket: %v", err)
	}
	// A request signed for another Region than the bucket's.
	_, err = w.client(writerARN, "us-east-1").PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("results"), Key: aws.String("k"), Body: strings.NewReader("x")})
	if apiCode(err) != "AuthorizationHeaderMalformed" || !strings.Contains(err.Error(), "expecting 'eu-west-1'") {
		t.Fatalf("wrong Region: %v", err)
	}
	// A key the runtime never issued.
	bad := awss3.NewFromConfig(aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(w.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAUNKNOWN", "x", "")})
	_, err = bad.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("results")})
	if apiCode(err) != "InvalidAccessKeyId" {
		t.Fatalf("unknown key: %v", err)
	}
	// A subresource the stand-in does not serve is refused, not read as a listing.
	_, err = writer.GetBucketAcl(ctx, &awss3.GetBucketAclInput{Bucket: aws.String("results")})
	if apiCode(err) != "NotImplemented" {
		t.Fatalf("GetBucketAcl: %v", err)
	}

	root := w.client("arn:aws:iam::111111111111:root", "eu-west-1")
	enc, err := root.GetBucketEncryption(ctx, &awss3.GetBucketEncryptionInput{Bucket: aws.String("results")})
	if err != nil || enc.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != s3types.ServerSideEncryptionAes256 {
		t.Fatalf("GetBucketEncryption = %+v %v", enc, err)
	}
	lc, err := root.GetBucketLifecycleConfiguration(ctx, &awss3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("results")})
	if err != nil || len(lc.Rules) != 1 || aws.ToString(lc.Rules[0].ID) != "expire-runs" || aws.ToInt32(lc.Rules[0].Expiration.Days) != 90 ||
		aws.ToString(lc.Rules[0].Filter.Prefix) != "runs/" || aws.ToInt32(lc.Rules[0].AbortIncompleteMultipartUpload.DaysAfterInitiation) != 7 {
		t.Fatalf("GetBucketLifecycleConfiguration = %+v %v", lc, err)
	}
	pol, err := root.GetBucketPolicy(ctx, &awss3.GetBucketPolicyInput{Bucket: aws.String("results")})
	if err != nil || !strings.Contains(aws.ToString(pol.Policy), "PartnerAccount") {
		t.Fatalf("GetBucketPolicy = %v", err)
	}
	buckets, err := root.ListBuckets(ctx, &awss3.ListBucketsInput{})
	if err != nil || len(buckets.Buckets) != 2 || aws.ToString(buckets.Buckets[0].BucketRegion) != "eu-west-1" {
		t.Fatalf("ListBuckets = %+v %v", buckets, err)
	}
	if other, err := w.client(outsiderARN, "eu-west-1").ListBuckets(ctx, &awss3.ListBucketsInput{}); err != nil || len(other.Buckets) != 0 {
		t.Fatalf("ListBuckets of another account = %+v %v", other, err)
	}

	// A grant added through PutBucketPolicy takes effect at once.
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::333333333333:root"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::results/inbox/*"}]}`
	if _, err := root.PutBucketPolicy(ctx, &awss3.PutBucketPolicyInput{Bucket: aws.String("results"), Policy: aws.String(doc)}); err != nil {
		t.Fatalf("PutBucketPolicy: %v", err)
	}
	outsider := w.client(outsiderARN, "eu-west-1")
	if _, err := outsider.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("results"), Key: aws.String("inbox/a"), Body: strings.NewReader("a")}); err != nil {
		t.Fatalf("outsider PutObject after the grant: %v", err)
	}
	_, err = outsider.PutBucketPolicy(ctx, &awss3.PutBucketPolicyInput{Bucket: aws.String("results"), Policy: aws.String(doc)})
	if apiCode(err) != "AccessDenied" {
		t.Fatalf("outsider PutBucketPolicy: %v", err)
	}
	_, err = root.PutBucketPolicy(ctx, &awss3.PutBucketPolicyInput{Bucket: aws.String("results"), Policy: aws.String(`{"Statement":[{"Effect":"Allow"}]}`)})
	if apiCode(err) != "MalformedPolicy" {
		t.Fatalf("a policy that does not parse: %v", err)
	}

	// CreateBucket by an identity allowed to: owned by the caller's account, in its Region.
	limited := w.client("arn:aws:sts::111111111111:assumed-role/limited/fn", "eu-west-1")
	if _, err := limited.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("scratch"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintEuWest1}}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	if b, ok := w.svc.Bucket("scratch"); !ok || b.Account != "111111111111" || b.Region != "eu-west-1" {
		t.Fatalf("created bucket = %+v", b)
	}
	_, err = writer.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("another"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintEuWest1}})
	if apiCode(err) != "AccessDenied" {
		t.Fatalf("CreateBucket without s3:CreateBucket: %v", err)
	}
	_, err = w.client(outsiderARN, "eu-west-1").CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("scratch"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintEuWest1}})
	var exists *s3types.BucketAlreadyExists
	if !errors.As(err, &exists) {
		t.Fatalf("CreateBucket of a name another account holds: %v", err)
	}
	if _, err := limited.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String("scratch")}); err != nil {
		t.Fatalf("DeleteBucket: %v", err)
	}
	if _, ok := w.svc.Bucket("scratch"); ok {
		t.Fatal("the deleted bucket is still there")
	}
}

// An overwrite replaces the object's metadata, as on S3: the checksum of the first body must
// not be served with the second.
func TestWireOverwriteReplacesMetadata(t *testing.T) {
	w := newWire(t)
	ctx := context.Background()
	limited := w.client("arn:aws:sts::111111111111:assumed-role/limited/fn", "eu-west-1")
	if _, err := limited.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("results"), Key: aws.String("runs/k"),
		Body: strings.NewReader("first"), ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256,
		Metadata: map[string]string{"stage": "one"}}); err != nil {
		t.Fatal(err)
	}
	role := principal("arn:aws:sts::111111111111:assumed-role/limited/states")
	if err := w.svc.PutObject(ctx, role, "results", "runs/k", []byte("second")); err != nil {
		t.Fatal(err)
	}
	got, err := limited.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("results"), Key: aws.String("runs/k"),
		ChecksumMode: s3types.ChecksumModeEnabled})
	if err != nil {
		t.Fatalf("GetObject after the overwrite: %v", err)
	}
	body, err := io.ReadAll(got.Body)
	_ = got.Body.Close()
	if err != nil || string(body) != "second" || len(got.Metadata) != 0 {
		t.Fatalf("body %q err %v metadata %v", body, err, got.Metadata)
	}
	direct, err := w.svc.GetObject(ctx, role, "results", "runs/k")
	if err != nil || !bytes.Equal(direct, []byte("second")) {
		t.Fatalf("Service.GetObject = %q %v", direct, err)
	}
	_, err = w.svc.GetObject(ctx, principal(outsiderARN), "results", "runs/k")
	var e *Error
	if !errors.As(err, &e) || e.Code != "AccessDenied" {
		t.Fatalf("Service.GetObject across accounts: %v", err)
	}
}
