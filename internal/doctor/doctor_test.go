package doctor

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/crossbuild/crossbuild/infra/config"
)

// fake answers every API from fields a case changes.
type fake struct {
	stackStatus string
	outputs     bool
	busPolicy   string
	archive     bool
	trust       string // "" = no such role
	missing     []string
	ruleState   ebtypes.RuleState
	ruleTarget  string
	dlqDepth    string
}

func (f *fake) DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	if f.stackStatus == "" {
		return nil, errors.New("ValidationError: Stack with id crossbuild-source does not exist")
	}
	st := cfntypes.Stack{StackStatus: cfntypes.StackStatus(f.stackStatus)}
	if f.outputs {
		st.Outputs = []cfntypes.Output{{OutputKey: aws.String(config.RunsBucketOutput), OutputValue: aws.String("bucket")}}
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cfntypes.Stack{st}}, nil
}

func (f *fake) DescribeEventBus(context.Context, *eventbridge.DescribeEventBusInput, ...func(*eventbridge.Options)) (*eventbridge.DescribeEventBusOutput, error) {
	return &eventbridge.DescribeEventBusOutput{Policy: aws.String(f.busPolicy)}, nil
}

func (f *fake) ListArchives(context.Context, *eventbridge.ListArchivesInput, ...func(*eventbridge.Options)) (*eventbridge.ListArchivesOutput, error) {
	out := &eventbridge.ListArchivesOutput{}
	if f.archive {
		out.Archives = []ebtypes.Archive{{ArchiveName: aws.String("a"), State: ebtypes.ArchiveStateEnabled}}
	}
	return out, nil
}

func (f *fake) GetRole(context.Context, *iam.GetRoleInput, ...func(*iam.Options)) (*iam.GetRoleOutput, error) {
	if f.trust == "" {
		return nil, &iamtypes.NoSuchEntityException{Message: aws.String("no role")}
	}
	return &iam.GetRoleOutput{Role: &iamtypes.Role{AssumeRolePolicyDocument: aws.String(url.QueryEscape(f.trust))}}, nil
}

func (f *fake) BatchGetProjects(_ context.Context, in *codebuild.BatchGetProjectsInput, _ ...func(*codebuild.Options)) (*codebuild.BatchGetProjectsOutput, error) {
	return &codebuild.BatchGetProjectsOutput{ProjectsNotFound: f.missing}, nil
}

func (f *fake) DescribeRule(context.Context, *eventbridge.DescribeRuleInput, ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error) {
	if f.ruleState == "" {
		return nil, &ebtypes.ResourceNotFoundException{Message: aws.String("no rule")}
	}
	return &eventbridge.DescribeRuleOutput{State: f.ruleState}, nil
}

func (f *fake) ListTargetsByRule(context.Context, *eventbridge.ListTargetsByRuleInput, ...func(*eventbridge.Options)) (*eventbridge.ListTargetsByRuleOutput, error) {
	return &eventbridge.ListTargetsByRuleOutput{Targets: []ebtypes.Target{{Arn: aws.String(f.ruleTarget),
		DeadLetterConfig: &ebtypes.DeadLetterConfig{Arn: aws.String("arn:aws:sqs:eu-west-1:222222222222:dlq")}}}}, nil
}

func (f *fake) GetQueueUrl(context.Context, *sqs.GetQueueUrlInput, ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) {
	return &sqs.GetQueueUrlOutput{QueueUrl: aws.String("https://sqs/222222222222/dlq")}, nil
}

func (f *fake) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{"ApproximateNumberOfMessages": f.dlqDepth}}, nil
}

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	ctx := map[string]any{
		config.KeySourceAccount: "111111111111", config.KeySourceRegion: "eu-west-1", config.KeyExternalID: "crossbuild-ext",
		config.KeyTargets: []any{map[string]any{"accounts": []any{"222222222222"}, "regions": []any{"eu-west-1"}, "projects": []any{"build-it"}}},
	}
	cfg, err := config.Load(func(k string) any { return ctx[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func healthy(t *testing.T) *fake {
	t.Helper()
	read := func(name string) string {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	return &fake{stackStatus: "UPDATE_COMPLETE", outputs: true, busPolicy: read("bus-policy.json"), archive: true,
		trust: read("trust.json"), ruleState: ebtypes.RuleStateEnabled,
		ruleTarget: "arn:aws:events:eu-west-1:111111111111:event-bus/crossbuild", dlqDepth: "0"}
}

func TestDoctor(t *testing.T) {
	cases := []struct {
		name   string
		breaks func(*fake)
		failed string // "check subject" of the one failure; "" for none
		fix    string
	}{
		{"healthy", func(*fake) {}, "", ""},
		{"no source stack", func(f *fake) { f.stackStatus = "" }, "source stack crossbuild-source in 111111111111/eu-west-1", "make deploy-source"},
		{"rolled back", func(f *fake) { f.stackStatus = "UPDATE_ROLLBACK_COMPLETE" }, "source stack crossbuild-source in 111111111111/eu-west-1", "events"},
		{"no bucket output", func(f *fake) { f.outputs = false }, "source stack crossbuild-source in 111111111111/eu-west-1", "make deploy-source"},
		{"no archive", func(f *fake) { f.archive = false }, "source bus archive arn:aws:events:eu-west-1:111111111111:event-bus/crossbuild", "make deploy-source"},
		{"bus policy lacks the account", func(f *fake) { f.busPolicy = strings.ReplaceAll(f.busPolicy, "222222222222", "999999999999") }, "bus policy admits 222222222222", "crossbuild:targets"},
		{"no target role", func(f *fake) { f.trust = "" }, "target role arn:aws:iam::222222222222:role/crossbuild-target-role", "crossbuild-target-222222222222-eu-west-1"},
		{"trust without the poller", func(f *fake) {
			f.trust = strings.Replace(f.trust, `"arn:aws:iam::111111111111:role/crossbuild-poller",`, "", 1)
		}, "target role arn:aws:iam::222222222222:role/crossbuild-target-role", "restore the trust policy"},
		{"project missing", func(f *fake) { f.missing = []string{"build-it"} }, "projects 222222222222/eu-west-1", "create them"},
		{"rule missing", func(f *fake) { f.ruleState = "" }, "forwarding rule 222222222222/eu-west-1", "make deploy-target"},
		{"rule disabled", func(f *fake) { f.ruleState = ebtypes.RuleStateDisabled }, "forwarding rule 222222222222/eu-west-1", "enable-rule"},
		{"rule to another bus", func(f *fake) { f.ruleTarget = "arn:aws:events:eu-west-1:111111111111:event-bus/default" }, "forwarding rule 222222222222/eu-west-1", "make deploy-target"},
		{"dead letters", func(f *fake) { f.dlqDepth = "3" }, "forwarding dead-letter queue 222222222222/eu-west-1", "purge"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := healthy(t)
			tc.breaks(f)
			d := &Doctor{Config: testConfig(t), Source: Source{CloudFormation: f, Events: f},
				Target: func(context.Context, string, string) (Target, error) {
					return Target{IAM: f, CodeBuild: f, Events: f, SQS: f}, nil
				}}
			res := d.Run(context.Background())
			var out strings.Builder
			n := Write(&out, res)
			var failed []Result
			for _, r := range res {
				if !r.OK {
					failed = append(failed, r)
				}
			}
			if tc.failed == "" {
				if n != 0 {
					t.Fatalf("failures:\n%s", out.String())
				}
				return
			}
			if n != 1 || len(failed) != 1 || failed[0].Check+" "+failed[0].Subject != tc.failed || !strings.Contains(failed[0].Fix, tc.fix) {
				t.Fatalf("want one failure %q with a fix mentioning %q, got:\n%s", tc.failed, tc.fix, out.String())
			}
			if !strings.Contains(out.String(), "FAIL  "+tc.failed) || !strings.Contains(out.String(), "      fix: ") {
				t.Errorf("the report does not show the failure and its fix:\n%s", out.String())
			}
		})
	}
}

func TestDoctorWithoutAccess(t *testing.T) {
	f := healthy(t)
	d := &Doctor{Config: testConfig(t), Source: Source{CloudFormation: f, Events: f}, AccessFix: "bootstrap with --trust",
		Target: func(context.Context, string, string) (Target, error) { return Target{}, errors.New("AccessDenied") }}
	var out strings.Builder
	if n := Write(&out, d.Run(context.Background())); n != 2 || strings.Count(out.String(), "fix: bootstrap with --trust") != 2 {
		t.Fatalf("want the role and the target's checks failed for access, got:\n%s", out.String())
	}
}
