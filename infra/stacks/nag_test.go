package stacks

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

var nagRule = assertions.Match_StringLikeRegexp(str("AwsSolutions-.*"))

func describeMessages(msgs *[]*cxapi.SynthesisMessage) string {
	var out []any
	for _, m := range *msgs {
		out = append(out, map[string]any{"id": *m.Id, "data": m.Entry.Data})
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	return string(b)
}

// TestNagAwsSolutions: no stack of either app has an unsuppressed AwsSolutions error or
// warning.
func TestNagAwsSolutions(t *testing.T) {
	for _, a := range []*testApp{accountsApp, orgApp} {
		for name, stack := range a.stacks {
			t.Run(a.label+"/"+name, func(t *testing.T) {
				check(t, func() {
					ann := assertions.Annotations_FromStack(stack)
					if errs := ann.FindError(str("*"), nagRule); len(*errs) > 0 {
						t.Errorf("cdk-nag errors:\n%s", describeMessages(errs))
					}
					if warns := ann.FindWarning(str("*"), nagRule); len(*warns) > 0 {
						t.Errorf("cdk-nag warnings:\n%s", describeMessages(warns))
					}
				})
			})
		}
	}
}

// TestNagDetectsFindings proves the check above can fail: the same aspect reports an
// unsuppressed wildcard policy.
func TestNagDetectsFindings(t *testing.T) {
	check(t, func() {
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
		stack := awscdk.NewStack(app, str("nag-probe"), &awscdk.StackProps{Env: env(srcAccount, srcRegion)})
		role := awsiam.NewRole(stack, str("Probe"), &awsiam.RoleProps{AssumedBy: awsiam.NewServicePrincipal(str("lambda.amazonaws.com"), nil)})
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings("s3:*"), Resources: jsii.Strings("*")}))
		awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(nil), nil)
		errs := assertions.Annotations_FromStack(stack).FindError(str("*"), assertions.Match_StringLikeRegexp(str("AwsSolutions-IAM5.*")))
		if len(*errs) == 0 {
			t.Fatal("cdk-nag reported nothing for s3:* on *")
		}
	})
}

// TestSuppressionsHaveReasons: every suppression in every template names its rule and
// gives a reason a reviewer can check; wildcard (IAM5) ones are narrowed with applies_to.
func TestSuppressionsHaveReasons(t *testing.T) {
	var count int
	for _, a := range []*testApp{accountsApp, orgApp} {
		for name, tpl := range a.json {
			for id, raw := range tpl["Resources"].(map[string]any) {
				meta, _ := raw.(map[string]any)["Metadata"].(map[string]any)
				nag, _ := meta["cdk_nag"].(map[string]any)
				rules, _ := nag["rules_to_suppress"].([]any)
				for _, r := range rules {
					count++
					rule := r.(map[string]any)
					reason, _ := rule["reason"].(string)
					if rule["id"] == nil || len(reason) < 80 {
						t.Errorf("%s/%s: suppression %v has no substantial reason", name, id, rule["id"])
					}
					if rule["id"] == "AwsSolutions-IAM5" && len(strList(rule["applies_to"])) == 0 {
						t.Errorf("%s/%s: IAM5 suppression not narrowed with applies_to", name, id)
					}
				}
			}
		}
	}
	if count == 0 {
		t.Fatal("no suppressions found: the metadata layout changed?")
	}
}
