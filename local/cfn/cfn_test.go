package cfn

import (
	"strings"
	"testing"
)

func load(t *testing.T) *Stack {
	t.Helper()
	stacks, err := LoadAssembly("testdata/assembly")
	if err != nil {
		t.Fatal(err)
	}
	if len(stacks) != 1 {
		t.Fatalf("stacks = %d", len(stacks))
	}
	return stacks[0]
}

func TestLoadAssembly(t *testing.T) {
	s := load(t)
	if s.Name != "crossbuild-source" || s.Account != "111111111111" || s.Region != "eu-west-1" || s.Partition != "aws" {
		t.Fatalf("stack = %+v", s)
	}
	if got := s.ResourcesOfType("AWS::IAM::Role"); strings.Join(got, ",") != "GeneratedRole,StarterRole" {
		t.Errorf("roles = %v", got)
	}
	dir, err := s.AssetDir("Starter")
	if err != nil || !strings.HasSuffix(dir, "asset.abc123") {
		t.Errorf("asset dir %q %v", dir, err)
	}
	if _, err := LoadAssembly("testdata/missing"); err == nil {
		t.Error("a missing assembly must be an error")
	}
}

func TestResolve(t *testing.T) {
	s := load(t)
	props, err := s.Properties("Starter")
	if err != nil {
		t.Fatal(err)
	}
	env := props["Environment"].(map[string]any)["Variables"].(map[string]any)
	table, _ := s.RefOf("Tokens")
	want := map[string]any{
		"TABLE_NAME":        table,
		"ALLOWED_ROLE_ARNS": "arn:aws:iam::*:role/crossbuild-target",
		"BUS":               "arn:aws:events:eu-west-1:111111111111:event-bus/crossbuild",
		"REGION_NOTE":       "ireland",
		"SUB_VARS":          table + "/eu-west-1/${Literal}",
		"FIRST":             "b",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %v, want %v", k, env[k], v)
		}
	}
	if _, ok := env["DROPPED"]; ok {
		t.Error("AWS::NoValue must remove the key")
	}
	if !strings.HasPrefix(table, "crossbuild-source-Tokens-") || len(table) != len("crossbuild-source-Tokens-")+12 {
		t.Errorf("generated table name %q", table)
	}
	if props["Role"] != "arn:aws:iam::111111111111:role/crossbuild-starter" {
		t.Errorf("role = %v", props["Role"])
	}
	code := props["Code"].(map[string]any)
	if code["S3Bucket"] != "cdk-hnb659fds-assets-111111111111-eu-west-1" {
		t.Errorf("bucket = %v", code["S3Bucket"])
	}
}

func TestRefsAndAttributes(t *testing.T) {
	s := load(t)
	cases := []struct{ id, attr, want string }{
		{"GeneratedRole", "Arn", "arn:aws:iam::111111111111:role/service/crossbuild-source-GeneratedRole-"},
		{"Machine", "", "arn:aws:states:eu-west-1:111111111111:stateMachine:crossbuild"},
		{"CallbackRule", "", "crossbuild|crossbuild-source-CallbackRule-"},
		{"CallbackRule", "Arn", "arn:aws:events:eu-west-1:111111111111:rule/crossbuild/crossbuild-source-CallbackRule-"},
		{"Dlq", "", "https://sqs.eu-west-1.amazonaws.com/111111111111/crossbuild-source-Dlq-"},
		{"Dlq", "Arn", "arn:aws:sqs:eu-west-1:111111111111:crossbuild-source-Dlq-"},
		{"Bus", "Name", "crossbuild"},
	}
	for _, tc := range cases {
		var (
			got string
			err error
		)
		if tc.attr == "" {
			got, err = s.RefOf(tc.id)
		} else {
			got, err = s.GetAtt(tc.id, tc.attr)
		}
		if err != nil || !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s.%s = %q %v, want prefix %q", tc.id, tc.attr, got, err, tc.want)
		}
	}
	again, _ := s.RefOf("Dlq")
	first, _ := s.RefOf("Dlq")
	if again != first {
		t.Error("generated names must be stable")
	}
}

func TestUnsupportedIsAnError(t *testing.T) {
	s := load(t)
	cases := []struct{ name, want string }{
		{"import value", "Fn::ImportValue is not supported"},
		{"unknown type", "AWS::AppSync::GraphQLApi is not supported"},
		{"unknown attribute", "GetAtt Tokens.Nope"},
		{"unknown ref", `unknown name "Nope"`},
	}
	errs := map[string]error{}
	_, errs["import value"] = s.Properties("Weird")
	_, errs["unknown type"] = s.RefOf("Unknown")
	_, errs["unknown attribute"] = s.GetAtt("Tokens", "Nope")
	_, errs["unknown ref"] = s.Resolve(map[string]any{"Ref": "Nope"}, "X")
	for _, tc := range cases {
		if err := errs[tc.name]; err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "crossbuild-source") {
			t.Errorf("%s: %v, want an error mentioning %q and the stack", tc.name, err, tc.want)
		}
	}
}

// Buckets are named and referenced as CloudFormation does: Ref is the name (generated ones
// in lowercase, as bucket names must be), GetAtt Arn has neither Region nor account.
func TestBuckets(t *testing.T) {
	s := &Stack{Name: "crossbuild-source", Account: "111111111111", Region: "eu-west-1", Partition: "aws", Template: Template{
		Resources: map[string]Resource{
			"ResultsBucketA95A2103": {Type: "AWS::S3::Bucket"},
			"Named": {Type: "AWS::S3::Bucket", Properties: map[string]any{
				"BucketName": map[string]any{"Fn::Sub": "crossbuild-${AWS::AccountId}-${AWS::Region}"}}},
			"VeryLongLogicalIdOfABucketThatCloudFormationMustShortenA1B2C3D4": {Type: "AWS::S3::Bucket"},
			"Policy": {Type: "AWS::S3::BucketPolicy", Properties: map[string]any{
				"Bucket": map[string]any{"Ref": "ResultsBucketA95A2103"},
				"PolicyDocument": map[string]any{"Statement": []any{map[string]any{
					"Resource": []any{
						map[string]any{"Fn::GetAtt": []any{"ResultsBucketA95A2103", "Arn"}},
						map[string]any{"Fn::Join": []any{"", []any{map[string]any{"Fn::GetAtt": []any{"ResultsBucketA95A2103", "Arn"}}, "/*"}}},
					}}}}}},
		}}}
	name, err := s.RefOf("ResultsBucketA95A2103")
	if err != nil || !strings.HasPrefix(name, "crossbuild-source-resultsbucketa95a2103-") || name != strings.ToLower(name) || len(name) > 63 {
		t.Fatalf("generated bucket name %q %v", name, err)
	}
	long, _ := s.RefOf("VeryLongLogicalIdOfABucketThatCloudFormationMustShortenA1B2C3D4")
	if len(long) != 63 || long != strings.ToLower(long) {
		t.Errorf("shortened bucket name %q (%d characters)", long, len(long))
	}
	cases := []struct{ id, attr, want string }{
		{"Named", "", "crossbuild-111111111111-eu-west-1"},
		{"Named", "Arn", "arn:aws:s3:::crossbuild-111111111111-eu-west-1"},
		{"Named", "DomainName", "crossbuild-111111111111-eu-west-1.s3.amazonaws.com"},
		{"Named", "RegionalDomainName", "crossbuild-111111111111-eu-west-1.s3.eu-west-1.amazonaws.com"},
		{"ResultsBucketA95A2103", "Arn", "arn:aws:s3:::" + name},
	}
	for _, tc := range cases {
		got, err := s.GetAtt(tc.id, tc.attr)
		if tc.attr == "" {
			got, err = s.RefOf(tc.id)
		}
		if err != nil || got != tc.want {
			t.Errorf("%s.%s = %q %v, want %q", tc.id, tc.attr, got, err, tc.want)
		}
	}
	props, err := s.Properties("Policy")
	if err != nil {
		t.Fatal(err)
	}
	res := props["PolicyDocument"].(map[string]any)["Statement"].([]any)[0].(map[string]any)["Resource"].([]any)
	if props["Bucket"] != name || res[0] != "arn:aws:s3:::"+name || res[1] != "arn:aws:s3:::"+name+"/*" {
		t.Errorf("bucket policy properties = %v", props)
	}
}
