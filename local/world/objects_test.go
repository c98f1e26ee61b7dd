package world

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/crossbuild/crossbuild/local/cfn"
	"github.com/crossbuild/crossbuild/local/localaws"
	"github.com/crossbuild/crossbuild/local/s3"
	"github.com/crossbuild/crossbuild/local/sts"
)

// s3World deploys testdata/s3-assembly (roles, policies and buckets only) into the stand-ins
// it needs, behind a router on loopback: no processes are started.
func s3World(t *testing.T, mutate func(*cfn.Stack)) (*World, error) {
	t.Helper()
	stacks, err := cfn.LoadAssembly(filepath.Join("testdata", "s3-assembly"))
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(stacks[0])
	}
	w := &World{IDs: localaws.NewIdentities(), Stacks: stacks, StateMachines: map[string]string{},
		operators: map[string]aws.CredentialsProvider{}}
	w.STS = sts.New(w.IDs)
	w.S3 = s3.New(s3.Options{})
	router := localaws.NewRouter(w.IDs)
	router.Handle("s3", w.S3)
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	w.Endpoint = srv.URL
	d := &deployer{w: w}
	return w, d.deploy(context.Background())
}

func TestDeployBuckets(t *testing.T) {
	w, err := s3World(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := w.Stacks[0]
	runs, _ := s.RefOf("RunsBucketA1B2C3D4")
	if !strings.HasPrefix(runs, "crossbuild-source-runsbucketa1b2c3d4-") {
		t.Fatalf("generated bucket name %q", runs)
	}
	b, ok := w.S3.Bucket(runs)
	if !ok || b.Account != "111111111111" || b.Region != "eu-west-1" || b.Versioning {
		t.Fatalf("bucket %s = %+v", runs, b)
	}
	if !strings.Contains(string(b.Encryption), `"AES256"`) || !strings.Contains(string(b.Lifecycle), `"ExpirationInDays":30`) {
		t.Errorf("encryption %s, lifecycle %s: want them as the template gave them", b.Encryption, b.Lifecycle)
	}
	if !strings.Contains(string(b.Policy), `"aws:SecureTransport":"false"`) || !strings.Contains(string(b.Policy), "arn:aws:s3:::"+runs+"/*") {
		t.Errorf("bucket policy %s", b.Policy)
	}
	items, ok := w.S3.Bucket("crossbuild-items-111111111111-eu-west-1")
	if !ok || !items.Versioning || len(items.Policy) != 0 {
		t.Errorf("named bucket = %+v %v", items, ok)
	}

	// The state machine's role has the CDK's grantReadWrite; another role has nothing.
	ctx := context.Background()
	role, _ := s.GetAtt("StateMachineRoleB840431D", "Arn")
	objects := objectStore{s3: w.S3}
	if err := objects.PutObject(ctx, role, runs, "runs/e1/items.json", []byte(`[1,2]`)); err != nil {
		t.Fatalf("PutObject as the state machine's role (the TLS-only deny must not apply): %v", err)
	}
	if got, err := objects.GetObject(ctx, role, runs, "runs/e1/items.json"); err != nil || string(got) != "[1,2]" {
		t.Fatalf("GetObject as the state machine's role = %q %v", got, err)
	}
	var denied *s3.Error
	_, err = objects.GetObject(ctx, "arn:aws:iam::111111111111:role/crossbuild-other", runs, "runs/e1/items.json")
	if !errors.As(err, &denied) || denied.Code != "AccessDenied" || !strings.Contains(err.Error(), "assumed-role/crossbuild-other/") {
		t.Fatalf("GetObject as a role without S3 permissions: %v", err)
	}
	_, err = objects.GetObject(ctx, role, runs, "runs/e1/missing.json")
	if !errors.As(err, &denied) || denied.Code != "NoSuchKey" {
		t.Fatalf("GetObject of a missing key by a role that may list the bucket: %v", err)
	}
	if _, err := objects.GetObject(ctx, "not-an-arn", runs, "k"); err == nil {
		t.Fatal("a malformed role ARN must be an error")
	}

	// An operator reads the bucket through the SDK with w.Operator credentials.
	client := awss3.NewFromConfig(w.Operator("111111111111", "eu-west-1"))
	out, err := client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(runs), Key: aws.String("runs/e1/items.json")})
	if err != nil {
		t.Fatalf("operator GetObject: %v", err)
	}
	body, _ := io.ReadAll(out.Body)
	_ = out.Body.Close()
	if string(body) != "[1,2]" {
		t.Fatalf("operator read %q", body)
	}
	// An operator of a target account may read runs/ (the bucket policy grants its account)
	// but not write.
	target := awss3.NewFromConfig(w.Operator("222222222222", "eu-west-1"))
	if _, err := target.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(runs), Key: aws.String("runs/e1/items.json")}); err != nil {
		t.Fatalf("target operator HeadObject: %v", err)
	}
	_, err = target.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(runs), Key: aws.String("runs/x"), Body: strings.NewReader("x")})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "AccessDenied" {
		t.Fatalf("target operator PutObject: %v", err)
	}
}

func TestDeployBucketPolicyErrors(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*cfn.Stack)
		want   string
	}{
		{"two policies for one bucket", func(s *cfn.Stack) {
			s.Template.Resources["SecondPolicy"] = s.Template.Resources["RunsBucketPolicyE5F6A7B8"]
		}, "S3 keeps one per bucket"},
		{"a bucket the templates do not deploy", func(s *cfn.Stack) {
			r := s.Template.Resources["RunsBucketPolicyE5F6A7B8"]
			props := map[string]any{}
			for k, v := range r.Properties {
				props[k] = v
			}
			props["Bucket"] = "someone-elses-bucket"
			r.Properties = props
			s.Template.Resources["RunsBucketPolicyE5F6A7B8"] = r
		}, `bucket "someone-elses-bucket" is not deployed`},
		{"an invalid bucket name", func(s *cfn.Stack) {
			r := s.Template.Resources["ItemsBucket"]
			r.Properties = map[string]any{"BucketName": "Not_A_Bucket"}
			s.Template.Resources["ItemsBucket"] = r
		}, "not a valid bucket name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s3World(t, c.mutate)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("deploy error %v, want one containing %q", err, c.want)
			}
		})
	}
}
