// Package doctor checks a deployed crossbuild installation for what makes cross-account
// setups fail, with read-only calls: the source stack and its outputs, the source bus, its
// policy and archive, and in every target account and Region the target role's trust, the
// projects, the forwarding rule and its dead-letter queue. Each check says how to fix what
// it finds.
package doctor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/crossbuild/crossbuild/infra/config"
)

// CloudFormationAPI reads the source stack.
type CloudFormationAPI interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

// SourceEventsAPI reads the source bus and its archives.
type SourceEventsAPI interface {
	DescribeEventBus(ctx context.Context, in *eventbridge.DescribeEventBusInput, optFns ...func(*eventbridge.Options)) (*eventbridge.DescribeEventBusOutput, error)
	ListArchives(ctx context.Context, in *eventbridge.ListArchivesInput, optFns ...func(*eventbridge.Options)) (*eventbridge.ListArchivesOutput, error)
}

// TargetEventsAPI reads a target account's forwarding rule.
type TargetEventsAPI interface {
	DescribeRule(ctx context.Context, in *eventbridge.DescribeRuleInput, optFns ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error)
	ListTargetsByRule(ctx context.Context, in *eventbridge.ListTargetsByRuleInput, optFns ...func(*eventbridge.Options)) (*eventbridge.ListTargetsByRuleOutput, error)
}

// IAMAPI reads the target role.
type IAMAPI interface {
	GetRole(ctx context.Context, in *iam.GetRoleInput, optFns ...func(*iam.Options)) (*iam.GetRoleOutput, error)
}

// CodeBuildAPI reads the projects.
type CodeBuildAPI interface {
	BatchGetProjects(ctx context.Context, in *codebuild.BatchGetProjectsInput, optFns ...func(*codebuild.Options)) (*codebuild.BatchGetProjectsOutput, error)
}

// SQSAPI reads the forwarding dead-letter queue's depth.
type SQSAPI interface {
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// Source holds the clients of the source account and Region.
type Source struct {
	CloudFormation CloudFormationAPI
	Events         SourceEventsAPI
}

// Target holds the clients of one target account and Region, with read access there.
type Target struct {
	IAM       IAMAPI
	CodeBuild CodeBuildAPI
	Events    TargetEventsAPI
	SQS       SQSAPI
}

// TargetAccess returns clients for a target account and Region. An error (credentials
// refused, say) fails that target's checks with the error and a fix about access.
type TargetAccess func(ctx context.Context, account, region string) (Target, error)

// Doctor checks one deployment.
type Doctor struct {
	Config *config.Config
	Source Source
	Target TargetAccess
	// AccessFix is the one-line fix when Target fails (it depends on how access is given).
	AccessFix string
}

// Result is one check's outcome.
type Result struct {
	Check   string // what was checked
	Subject string // where: a stack, an account/Region, an ARN
	OK      bool
	Detail  string
	Fix     string // one line, when !OK
}

// Run performs every check, in a fixed order, and returns every result.
func (d *Doctor) Run(ctx context.Context) []Result {
	var out []Result
	out = append(out, d.sourceStack(ctx))
	busRes, policy := d.sourceBus(ctx)
	out = append(out, busRes)
	if busRes.OK {
		out = append(out, d.archive(ctx))
		for _, account := range d.Config.TargetAccounts() {
			out = append(out, d.busAdmits(policy, account))
		}
	}
	access := map[[2]string]Target{}
	accessErr := map[[2]string]error{}
	targetFor := func(account, region string) (Target, error) {
		k := [2]string{account, region}
		if t, ok := access[k]; ok {
			return t, nil
		}
		if err, ok := accessErr[k]; ok {
			return Target{}, err
		}
		t, err := d.Target(ctx, account, region)
		if err != nil {
			accessErr[k] = err
			return Target{}, err
		}
		access[k] = t
		return t, nil
	}
	for _, account := range d.Config.TargetAccounts() {
		home := d.roleHome(account)
		t, err := targetFor(account, home.Region)
		if err != nil {
			out = append(out, d.noAccess("target role", account+"/"+home.Region, err))
			continue
		}
		out = append(out, d.targetRole(ctx, t, home))
	}
	for _, tg := range d.Config.Targets {
		subject := tg.Account + "/" + tg.Region
		t, err := targetFor(tg.Account, tg.Region)
		if err != nil {
			out = append(out, d.noAccess("projects, forwarding rule", subject, err))
			continue
		}
		out = append(out, d.projects(ctx, t, tg))
		rule, dlq := d.forwardRule(ctx, t, tg)
		out = append(out, rule)
		if rule.OK {
			out = append(out, d.forwardDeadLetters(ctx, t, tg, dlq))
		}
	}
	return out
}

// Write prints one line per check, and the fix under each failure; it returns the number
// of failures.
func Write(w io.Writer, results []Result) int {
	failed := 0
	for _, r := range results {
		mark := "PASS"
		if !r.OK {
			mark = "FAIL"
			failed++
		}
		fmt.Fprintf(w, "%s  %s %s: %s\n", mark, r.Check, r.Subject, r.Detail)
		if !r.OK && r.Fix != "" {
			fmt.Fprintf(w, "      fix: %s\n", r.Fix)
		}
	}
	fmt.Fprintf(w, "%d checks, %d failed\n", len(results), failed)
	return failed
}

func (d *Doctor) noAccess(check, subject string, err error) Result {
	return Result{Check: check, Subject: subject, Detail: "cannot read the account: " + oneLine(err), Fix: d.AccessFix}
}

// roleHome is the target stack that holds an account's target role.
func (d *Doctor) roleHome(account string) config.Target {
	for _, t := range d.Config.Targets {
		if t.Account == account && t.OwnsRole {
			return t
		}
	}
	for _, t := range d.Config.Targets {
		if t.Account == account {
			return t
		}
	}
	return config.Target{Account: account}
}

const deploySource = "deploy the source stack: make deploy-source PROFILE=<source profile> (docs/deploy.md)"

func (d *Doctor) sourceStack(ctx context.Context) Result {
	r := Result{Check: "source stack", Subject: config.SourceStackName + " in " + d.Config.SourceAccount + "/" + d.Config.SourceRegion}
	out, err := d.Source.CloudFormation.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(config.SourceStackName)})
	if err != nil || len(out.Stacks) == 0 {
		r.Detail, r.Fix = "not found: "+oneLine(err), deploySource
		return r
	}
	st := out.Stacks[0]
	status := string(st.StackStatus)
	if !strings.HasSuffix(status, "_COMPLETE") || strings.Contains(status, "ROLLBACK") || strings.HasPrefix(status, "DELETE") {
		r.Detail = "status " + status
		r.Fix = "the last deployment did not complete: read the stack's events in the CloudFormation console, then " + deploySource
		return r
	}
	for _, o := range st.Outputs {
		if aws.ToString(o.OutputKey) == config.RunsBucketOutput && aws.ToString(o.OutputValue) != "" {
			r.OK, r.Detail = true, fmt.Sprintf("%s, output %s = %s", status, config.RunsBucketOutput, aws.ToString(o.OutputValue))
			return r
		}
	}
	r.Detail = fmt.Sprintf("%s but without the output %s (deployed by an older version?)", status, config.RunsBucketOutput)
	r.Fix = deploySource
	return r
}

func (d *Doctor) sourceBus(ctx context.Context) (Result, string) {
	r := Result{Check: "source bus", Subject: d.Config.EventBusARN()}
	out, err := d.Source.Events.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String(config.EventBusName)})
	if err != nil {
		r.Detail, r.Fix = "not found: "+oneLine(err), deploySource
		return r, ""
	}
	if aws.ToString(out.Policy) == "" {
		r.Detail, r.Fix = "has no resource policy, so no target account may send to it", deploySource
		return r, ""
	}
	r.OK, r.Detail = true, "exists, with a resource policy"
	return r, aws.ToString(out.Policy)
}

func (d *Doctor) archive(ctx context.Context) Result {
	r := Result{Check: "source bus archive", Subject: d.Config.EventBusARN()}
	out, err := d.Source.Events.ListArchives(ctx, &eventbridge.ListArchivesInput{EventSourceArn: aws.String(d.Config.EventBusARN())})
	if err != nil {
		r.Detail, r.Fix = "cannot list archives: "+oneLine(err), "allow events:ListArchives to the doctor's profile, or "+deploySource
		return r
	}
	for _, a := range out.Archives {
		if a.State == ebtypes.ArchiveStateEnabled {
			r.OK, r.Detail = true, "archive "+aws.ToString(a.ArchiveName)+" is ENABLED"
			return r
		}
	}
	r.Detail, r.Fix = fmt.Sprintf("no enabled archive (%d found): lost completions cannot be replayed", len(out.Archives)), deploySource
	return r
}

// busAdmits evaluates the bus policy for an account's forwarded events: PutEvents of
// aws.codebuild events cannot be sent to test it (aws.* sources are reserved to AWS).
func (d *Doctor) busAdmits(policy, account string) Result {
	r := Result{Check: "bus policy admits", Subject: account}
	var refused []string
	reason := ""
	for _, detailType := range []string{"CodeBuild Build State Change", "CodeBuild Build Phase Change"} {
		ok, why, err := allows(policy, putEventsRequest(d.Config, account, detailType))
		if err != nil {
			r.Detail, r.Fix = "the bus policy cannot be read: "+oneLine(err), deploySource
			return r
		}
		if !ok {
			refused, reason = append(refused, detailType), cmp.Or(reason, why)
		}
	}
	if len(refused) > 0 {
		r.Detail = "refuses the account's " + strings.Join(refused, " and ") + " events: " + reason
		r.Fix = "the bus policy must list every account of crossbuild:targets (or the Organization): " + deploySource
		return r
	}
	r.OK, r.Detail = true, "events:PutEvents of aws.codebuild state and phase changes"
	return r
}

func targetStackFix(t config.Target) string {
	return fmt.Sprintf("deploy %s: make deploy-target STACK=%s PROFILE=<profile of %s>", t.StackName(), t.StackName(), t.Account)
}

// sourceRoles are the roles the target role must trust.
var sourceRoles = []string{config.StarterRoleName, config.PollerRoleName, config.CancellerRoleName, config.ReconcilerRoleName}

func (d *Doctor) targetRole(ctx context.Context, t Target, home config.Target) Result {
	roleARN := d.Config.TargetRoleARN(home.Account)
	r := Result{Check: "target role", Subject: roleARN}
	out, err := t.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(d.Config.TargetRoleName)})
	var missing *iamtypes.NoSuchEntityException
	switch {
	case errors.As(err, &missing):
		r.Detail, r.Fix = "does not exist", targetStackFix(home)
		return r
	case err != nil:
		r.Detail, r.Fix = "cannot be read: "+oneLine(err), d.AccessFix
		return r
	}
	doc := aws.ToString(out.Role.AssumeRolePolicyDocument)
	// IAM returns policy documents URL-encoded.
	if decoded, err := url.QueryUnescape(doc); err == nil {
		doc = decoded
	}
	var refused []string
	reason := ""
	for _, name := range sourceRoles {
		ok, why, err := allows(doc, assumeRequest(d.Config, name, roleARN))
		if err != nil {
			r.Detail, r.Fix = "its trust policy cannot be read: "+oneLine(err), targetStackFix(home)
			return r
		}
		if !ok {
			refused, reason = append(refused, name), cmp.Or(reason, why)
		}
	}
	if len(refused) > 0 {
		r.Detail = "its trust policy refuses sts:AssumeRole with the ExternalId to " + strings.Join(refused, ", ") + ": " + reason
		r.Fix = "restore the trust policy (the source account's " + strings.Join(sourceRoles, ", ") + " roles, with crossbuild:externalId): " + targetStackFix(home)
		return r
	}
	r.OK, r.Detail = true, "trusts the starter, poller, canceller and reconciler with the ExternalId"
	return r
}

func (d *Doctor) projects(ctx context.Context, t Target, tg config.Target) Result {
	r := Result{Check: "projects", Subject: tg.Account + "/" + tg.Region}
	out, err := t.CodeBuild.BatchGetProjects(ctx, &codebuild.BatchGetProjectsInput{Names: tg.Projects})
	if err != nil {
		r.Detail, r.Fix = "cannot be read: "+oneLine(err), d.AccessFix
		return r
	}
	if len(out.ProjectsNotFound) > 0 {
		r.Detail = "not found: " + strings.Join(out.ProjectsNotFound, ", ")
		r.Fix = "create them in " + tg.Account + "/" + tg.Region + ", or remove them from crossbuild:targets and deploy the source stack and " + tg.StackName() + " again"
		return r
	}
	r.OK, r.Detail = true, strings.Join(tg.Projects, ", ")
	return r
}

// forwardRule checks the rule and returns its dead-letter queue's ARN.
func (d *Doctor) forwardRule(ctx context.Context, t Target, tg config.Target) (Result, string) {
	r := Result{Check: "forwarding rule", Subject: tg.Account + "/" + tg.Region}
	rule, err := t.Events.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(config.ForwardRuleName)})
	var missing *ebtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &missing):
		r.Detail, r.Fix = config.ForwardRuleName+" does not exist", targetStackFix(tg)
		return r, ""
	case err != nil:
		r.Detail, r.Fix = "cannot be read: "+oneLine(err), d.AccessFix
		return r, ""
	}
	if rule.State != ebtypes.RuleStateEnabled {
		r.Detail = fmt.Sprintf("%s is %s: no event reaches the source bus, every task falls back to polling", config.ForwardRuleName, rule.State)
		r.Fix = fmt.Sprintf("aws events enable-rule --name %s --region %s (with a profile of %s)", config.ForwardRuleName, tg.Region, tg.Account)
		return r, ""
	}
	targets, err := t.Events.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(config.ForwardRuleName)})
	if err != nil {
		r.Detail, r.Fix = "its targets cannot be read: "+oneLine(err), d.AccessFix
		return r, ""
	}
	var others []string
	for _, tgt := range targets.Targets {
		if aws.ToString(tgt.Arn) == d.Config.EventBusARN() {
			dlq := ""
			if tgt.DeadLetterConfig != nil {
				dlq = aws.ToString(tgt.DeadLetterConfig.Arn)
			}
			r.OK, r.Detail = true, config.ForwardRuleName+" is ENABLED and targets the source bus"
			return r, dlq
		}
		others = append(others, aws.ToString(tgt.Arn))
	}
	r.Detail = fmt.Sprintf("%s targets %v, not the source bus %s", config.ForwardRuleName, others, d.Config.EventBusARN())
	r.Fix = targetStackFix(tg)
	return r, ""
}

func (d *Doctor) forwardDeadLetters(ctx context.Context, t Target, tg config.Target, queueARN string) Result {
	r := Result{Check: "forwarding dead-letter queue", Subject: tg.Account + "/" + tg.Region}
	parts := strings.Split(queueARN, ":")
	if len(parts) != 6 {
		r.Detail, r.Fix = "the forwarding rule has no dead-letter queue", targetStackFix(tg)
		return r
	}
	u, err := t.SQS.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(parts[5]), QueueOwnerAWSAccountId: aws.String(parts[4])})
	if err != nil {
		r.Detail, r.Fix = queueARN+" cannot be found: "+oneLine(err), targetStackFix(tg)
		return r
	}
	attrs, err := t.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: u.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		r.Detail, r.Fix = "cannot be read: "+oneLine(err), d.AccessFix
		return r
	}
	n, _ := strconv.Atoi(attrs.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	if n > 0 {
		r.Detail = fmt.Sprintf("%d events could not reach the source bus (their tasks fell back to polling)", n)
		r.Fix = fmt.Sprintf("read one (aws sqs receive-message --queue-url %s) for ERROR_CODE and ERROR_MESSAGE, fix the cause (usually the bus policy), then purge the queue", aws.ToString(u.QueueUrl))
		return r
	}
	r.OK, r.Detail = true, "empty"
	return r
}

// oneLine keeps an error to one line.
func oneLine(err error) string {
	if err == nil {
		return "no answer"
	}
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
