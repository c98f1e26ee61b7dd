package e2e

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/crossbuild/crossbuild/infra/config"
	"github.com/crossbuild/crossbuild/internal/doctor"
	"github.com/crossbuild/crossbuild/local/world"
)

// The doctor on the local runtime: a fresh deployment passes every check; then four things
// are broken through the AWS APIs, as an operator would break them (a target role's trust,
// a forwarding rule, the bus policy, a project), and the doctor names each, with its fix,
// and nothing else.
func TestDoctorFindsBrokenSetups(t *testing.T) {
	tw := startWorld(t, world.Options{})
	cfg := deployedConfig(t)
	src := tw.Operator(sourceAccount, sourceRegion)
	d := &doctor.Doctor{
		Config: cfg,
		Source: doctor.Source{CloudFormation: cloudformation.NewFromConfig(src), Events: eventbridge.NewFromConfig(src)},
		Target: func(_ context.Context, account, region string) (doctor.Target, error) {
			c := tw.Operator(account, region)
			return doctor.Target{IAM: iam.NewFromConfig(c), CodeBuild: codebuild.NewFromConfig(c),
				Events: eventbridge.NewFromConfig(c), SQS: sqs.NewFromConfig(c)}, nil
		},
		AccessFix: "give the doctor read access",
	}
	run := func() ([]doctor.Result, string) {
		res := d.Run(t.Context())
		var out strings.Builder
		doctor.Write(&out, res)
		return res, out.String()
	}

	res, out := run()
	if failed := failures(res); len(failed) > 0 || len(res) < 8 {
		t.Fatalf("a fresh deployment fails %d of %d checks:\n%s", len(failed), len(res), out)
	}
	t.Logf("healthy:\n%s", out)

	const (
		roleAccount, roleRegion = "222222222222", "eu-west-1"
		ruleAccount, ruleRegion = "333333333333", "us-east-1"
		project                 = "sample-codebuild-project"
	)
	ctx := t.Context()
	// A trust policy with another ExternalId.
	roleIAM := iam.NewFromConfig(tw.Operator(roleAccount, roleRegion))
	role, err := roleIAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(cfg.TargetRoleName)})
	if err != nil {
		t.Fatal(err)
	}
	trust, err := url.QueryUnescape(aws.ToString(role.Role.AssumeRolePolicyDocument))
	if err != nil || !strings.Contains(trust, cfg.ExternalID) {
		t.Fatalf("trust policy %q (%v) does not carry the ExternalId", trust, err)
	}
	if _, err := roleIAM.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(cfg.TargetRoleName),
		PolicyDocument: aws.String(strings.ReplaceAll(trust, cfg.ExternalID, "another-external-id"))}); err != nil {
		t.Fatal(err)
	}
	// The forwarding rule disabled.
	if _, err := eventbridge.NewFromConfig(tw.Operator(ruleAccount, ruleRegion)).DisableRule(ctx,
		&eventbridge.DisableRuleInput{Name: aws.String(config.ForwardRuleName)}); err != nil {
		t.Fatal(err)
	}
	// The bus policy without the rule's account.
	srcEvents := eventbridge.NewFromConfig(src)
	bus, err := srcEvents.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String(config.EventBusName)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srcEvents.PutPermission(ctx, &eventbridge.PutPermissionInput{EventBusName: aws.String(config.EventBusName),
		Policy: aws.String(withoutAccount(t, aws.ToString(bus.Policy), ruleAccount))}); err != nil {
		t.Fatal(err)
	}
	// A project deleted.
	if _, err := codebuild.NewFromConfig(tw.Operator(roleAccount, roleRegion)).DeleteProject(ctx,
		&codebuild.DeleteProjectInput{Name: aws.String(project)}); err != nil {
		t.Fatal(err)
	}

	res, out = run()
	t.Logf("broken:\n%s", out)
	want := map[string]string{
		"target role " + cfg.TargetRoleARN(roleAccount):     "restore the trust policy",
		"forwarding rule " + ruleAccount + "/" + ruleRegion: "enable-rule",
		"bus policy admits " + ruleAccount:                  "deploy the source stack",
		"projects " + roleAccount + "/" + roleRegion:        "create them",
	}
	failed := failures(res)
	for name, fix := range want {
		r, ok := failed[name]
		switch {
		case !ok:
			t.Errorf("the doctor does not report %q:\n%s", name, out)
		case !strings.Contains(r.Fix, fix):
			t.Errorf("%s: fix %q does not say %q", name, r.Fix, fix)
		}
	}
	for name := range failed {
		if _, expected := want[name]; !expected {
			t.Errorf("the doctor also fails %q:\n%s", name, out)
		}
	}
	if !strings.Contains(out, "4 failed") {
		t.Errorf("the summary does not count 4 failures:\n%s", out)
	}
}

// failures maps each failed check to its result, by check and subject.
func failures(res []doctor.Result) map[string]doctor.Result {
	out := map[string]doctor.Result{}
	for _, r := range res {
		if !r.OK {
			out[r.Check+" "+r.Subject] = r
		}
	}
	return out
}

// deployedConfig is the configuration the assembly was synthesized with: infra/cdk.json.
func deployedConfig(t *testing.T) *config.Config {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "infra", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Context map[string]any }
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(func(k string) any { return doc.Context[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// withoutAccount removes an account's principals from a resource policy.
func withoutAccount(t *testing.T, policy, account string) string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		t.Fatal(err)
	}
	for _, raw := range doc["Statement"].([]any) {
		st := raw.(map[string]any)
		p, _ := st["Principal"].(map[string]any)
		var keep []any
		switch v := p["AWS"].(type) {
		case string:
			if !strings.Contains(v, account) {
				keep = append(keep, v)
			}
		case []any:
			for _, a := range v {
				if s, _ := a.(string); !strings.Contains(s, account) {
					keep = append(keep, a)
				}
			}
		}
		if p != nil {
			p["AWS"] = keep
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
