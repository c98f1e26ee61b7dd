package main

import (
	"strings"
	"testing"
)

// TestExports: the lines a shell evaluates set what the AWS CLI and the SDKs read (endpoint,
// keys, Region) and clear what would override them; target keys are comments.
func TestExports(t *testing.T) {
	lines := exports("http://127.0.0.1:4566", "eu-west-1", keys{account: "111111111111", accessKeyID: "AKIA1", secretAccessKey: "s1"},
		[]keys{{account: "222222222222", accessKeyID: "AKIA2", secretAccessKey: "s2"}})
	want := []string{
		"export AWS_ENDPOINT_URL=http://127.0.0.1:4566",
		"export AWS_ACCESS_KEY_ID=AKIA1",
		"export AWS_SECRET_ACCESS_KEY=s1",
		"export AWS_REGION=eu-west-1",
		"export AWS_DEFAULT_REGION=eu-west-1",
		"unset AWS_SESSION_TOKEN AWS_PROFILE",
		"# those keys are an administrator of the source account 111111111111; of the target accounts:",
		"#   222222222222: AWS_ACCESS_KEY_ID=AKIA2 AWS_SECRET_ACCESS_KEY=s2",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("exports:\n%s", strings.Join(lines, "\n"))
	}
}
