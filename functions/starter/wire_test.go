package main

import (
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"

	"github.com/crossbuild/crossbuild/internal/awstest"
	"github.com/crossbuild/crossbuild/internal/runtimetest"
)

// The real CodeBuild client against a local server: request shape on the wire and the
// classification of CodeBuild's real error codes.
func TestStartBuildWire(t *testing.T) {
	ok := awstest.JSON(200, `{"build":{"id":"`+testBuildID+`","arn":"`+testBuildARN+`","buildStatus":"IN_PROGRESS","startTime":1795680000.123}}`)
	cases := []struct {
		name    string
		reply   awstest.Reply
		errType string
	}{
		{"started", ok, ""},
		{"account limit", awstest.JSONError(400, "AccountLimitExceededException", "Cannot have more than 1 builds in queue for the account"), "BuildQuotaExceeded"},
		{"throttled", awstest.JSONError(400, "ThrottlingException", "Rate exceeded"), "BuildQuotaExceeded"},
		{"project missing", awstest.JSONError(400, "ResourceNotFoundException", "Project cannot be found"), "StartBuildFailed"},
		{"invalid input", awstest.JSONError(400, "InvalidInputException", "Invalid environment variable"), "StartBuildFailed"},
		{"access denied", awstest.JSONError(400, "AccessDeniedException", "not authorized to perform codebuild:StartBuild"), "StartBuildFailed"},
		{"outage", awstest.JSONError(503, "ServiceUnavailableException", "down"), "TransientError"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := awstest.NewServer(t, func(awstest.Request) awstest.Reply { return tc.reply })
			f := newFixture(t, io.Discard)
			f.h.CodeBuild = func(region string, creds aws.CredentialsProvider) CodeBuildAPI {
				return codebuild.NewFromConfig(awstest.Config(srv.URL, 2), func(o *codebuild.Options) {
					o.Region = region
					o.Credentials = creds
				})
			}
			d, err := f.h.Handle(context.Background(), requests(t)["event"])
			if got := runtimetest.ErrorName(err); got != tc.errType {
				t.Fatalf("error %v (%s), want %q", err, got, tc.errType)
			}
			reqs := srv.Requests()
			if len(reqs) == 0 || reqs[0].Target != "CodeBuild_20161006.StartBuild" {
				t.Fatalf("requests %+v", reqs)
			}
			var body struct {
				ProjectName                  string `json:"projectName"`
				IdempotencyToken             string `json:"idempotencyToken"`
				EnvironmentVariablesOverride []struct{ Name, Value, Type string }
			}
			if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
				t.Fatal(err)
			}
			if body.ProjectName != "sample-codebuild-project" || len(body.IdempotencyToken) != 64 || len(body.EnvironmentVariablesOverride) != 5 {
				t.Errorf("wire body %s", reqs[0].Body)
			}
			if tc.errType == "" && (d.BuildARN != testBuildARN || len(f.store.created) != 1) {
				t.Errorf("descriptor %+v records %d", d, len(f.store.created))
			}
			if tc.errType != "" && len(f.store.created) != 0 {
				t.Errorf("a record was written for a build that did not start")
			}
		})
	}
}
