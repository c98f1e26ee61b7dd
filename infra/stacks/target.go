package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/crossbuild/crossbuild/infra/config"
	"github.com/crossbuild/crossbuild/internal/settings"
)

// Forwarding: EventBridge's own retries towards the source bus (a regional outage of the
// bus is the usual cause); undeliverable events stay in the target account's DLQ.
const (
	forwardRetryAttempts = 50
	forwardMaxEventAge   = 6 * 3600
)

// Target is one target stack and the constructs its tests look at.
type Target struct {
	Stack       awscdk.Stack
	Config      config.Target
	Role        awsiam.Role // nil unless this stack owns the account's target role
	Rule        awsevents.Rule
	DeadLetters awssqs.Queue
}

// NewTargetStack defines the stack of one (account, Region). It references the source
// stack only through ARNs built from the configuration, so the two deploy in any order.
func NewTargetStack(scope constructs.Construct, cfg *config.Config, t config.Target) *Target {
	stack := awscdk.NewStack(scope, jsii.String(t.StackName()), &awscdk.StackProps{
		Env:         env(t.Account, t.Region),
		Tags:        stackTags(),
		Description: jsii.String("crossbuild target: CodeBuild event forwarding" + roleNote(cfg, t) + sampleNote(t)),
	})
	out := &Target{Stack: stack, Config: t}
	if t.OwnsRole {
		out.Role = newTargetRole(stack, cfg, t.Account)
	}
	if t.SampleProject != "" {
		newSampleProject(stack, t.SampleProject)
	}
	out.DeadLetters = newDeadLetterQueue(stack, "ForwardDeadLetters",
		"This queue is itself the dead-letter queue of the forwarding rule's target.")
	out.Rule = newForwardRule(stack, cfg, t, out.DeadLetters)
	newAlarm(stack, alarmSpec{
		id:          "ForwardDeadLettersAlarm",
		name:        "crossbuild-forward-dead-letters-" + t.Region,
		description: "CodeBuild events could not be forwarded to the crossbuild source bus; the affected tasks fall back to polling.",
		metric: out.DeadLetters.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
			Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum"),
		}),
	}, "")
	return out
}

// roleNote says in the stack's description whether it holds the account's target role, so
// the console shows which stack must be deployed when the account's projects change.
func roleNote(cfg *config.Config, t config.Target) string {
	if !t.OwnsRole {
		owner := config.Target{Account: t.Account, Region: cfg.RoleRegions[t.Account]}
		return ", the account's target role is in " + owner.StackName()
	}
	return ", the account's target role " + cfg.TargetRoleName + " (for its projects in every Region)"
}

func sampleNote(t config.Target) string {
	if t.SampleProject == "" {
		return ""
	}
	return ", sample project " + t.SampleProject
}

// newTargetRole creates the role the starter, the poller, the canceller and the reconciler
// assume. It trusts the source account only for those four roles (aws:PrincipalArn, so the
// source stack may be deployed later) and only with the ExternalId; it may only start, read
// and stop the configured projects of this account, in every configured Region.
func newTargetRole(stack awscdk.Stack, cfg *config.Config, account string) awsiam.Role {
	trust := awsiam.NewPrincipalWithConditions(awsiam.NewAccountPrincipal(jsii.String(cfg.SourceAccount)), &map[string]any{
		"StringEquals": map[string]any{"sts:ExternalId": cfg.ExternalID},
		"ArnEquals": map[string]any{"aws:PrincipalArn": []string{
			cfg.SourceRoleARN(config.StarterRoleName),
			cfg.SourceRoleARN(config.PollerRoleName),
			cfg.SourceRoleARN(config.CancellerRoleName),
			cfg.SourceRoleARN(config.ReconcilerRoleName),
		}},
	})
	return awsiam.NewRole(stack, jsii.String("TargetRole"), &awsiam.RoleProps{
		RoleName:    jsii.String(cfg.TargetRoleName),
		AssumedBy:   trust,
		Description: jsii.String("crossbuild: assumed by the source account's starter, poller, canceller and reconciler to run and stop the configured CodeBuild projects"),
		// Covers the longest session the functions may ask for (ASSUME_ROLE_SECONDS); one
		// hour is also IAM's minimum.
		MaxSessionDuration: awscdk.Duration_Seconds(jsii.Number(settings.AssumeRoleSeconds.Max)),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"codebuild": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
				Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
					Sid: jsii.String("RunConfiguredProjects"),
					// ListBuildsForProject: the starter looks for the build of an interrupted
					// attempt before it may start another (docs/architecture.md).
					Actions: jsii.Strings("codebuild:StartBuild", "codebuild:BatchGetBuilds", "codebuild:StopBuild",
						"codebuild:ListBuildsForProject"),
					Resources: jsii.Strings(cfg.ProjectARNs(account)...),
				})},
			}),
		},
	})
}

// newSampleProject creates the walkthrough's project: no source, prints its environment.
// Its service role trusts CodeBuild only on behalf of this project in this account (the
// CodeBuild User Guide, "Cross-service confused deputy prevention"); the ARN is built from
// the name, since the project refers to the role.
func newSampleProject(stack awscdk.Stack, name string) awscodebuild.Project {
	projectARN := fmt.Sprintf("arn:%s:codebuild:%s:%s:project/%s", *stack.Partition(), *stack.Region(), *stack.Account(), name)
	role := awsiam.NewRole(stack, jsii.String("SampleProjectRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewPrincipalWithConditions(awsiam.NewServicePrincipal(jsii.String("codebuild.amazonaws.com"), nil), &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": *stack.Account()},
			"ArnEquals":    map[string]any{"aws:SourceArn": projectARN},
		}),
		Description: jsii.String("crossbuild sample: service role of " + name),
	})
	logs := awslogs.NewLogGroup(stack, jsii.String("SampleProjectLogs"), &awslogs.LogGroupProps{
		LogGroupName: jsii.String("/aws/codebuild/" + name),
		Retention:    awslogs.RetentionDays_ONE_MONTH,
		// Sample output only, and the fixed name would block a redeployment if retained.
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	project := awscodebuild.NewProject(stack, jsii.String("SampleProject"), &awscodebuild.ProjectProps{
		ProjectName: jsii.String(name),
		Description: jsii.String("crossbuild sample: prints the build environment, including the overridden variables"),
		BuildSpec: awscodebuild.BuildSpec_FromObject(&map[string]any{
			"version": "0.2",
			"phases":  map[string]any{"build": map[string]any{"commands": []string{"env | tee env_vars.txt"}}},
		}),
		Environment: &awscodebuild.BuildEnvironment{
			BuildImage:  awscodebuild.LinuxBuildImage_AMAZON_LINUX_2023_5(),
			ComputeType: awscodebuild.ComputeType_SMALL,
		},
		Timeout:       awscdk.Duration_Minutes(jsii.Number(10)),
		QueuedTimeout: awscdk.Duration_Minutes(jsii.Number(60)),
		Logging: &awscodebuild.LoggingOptions{
			CloudWatch: &awscodebuild.CloudWatchLoggingOptions{LogGroup: logs},
		},
		Role: role,
		// The sample produces no test reports.
		GrantReportGroupPermissions: jsii.Bool(false),
	})
	suppressSampleProject(project, role, stack)
	return project
}

// ForwardPattern matches state and phase changes of the configured projects of one target
// (config.Target.ForwardPattern).
func ForwardPattern(t config.Target) *awsevents.EventPattern {
	return eventPattern(t.ForwardPattern())
}

// newForwardRule forwards the projects' events from the default bus to the source bus.
// Cross-account bus targets take the event as it is (no input transformer) and need a
// role allowed to put events on that bus only. The role trusts EventBridge only for this
// rule: the rule has a fixed name, so its ARN is known without referring to the rule,
// whose target refers to the role.
func newForwardRule(stack awscdk.Stack, cfg *config.Config, t config.Target, dlq awssqs.IQueue) awsevents.Rule {
	ruleARN := fmt.Sprintf("arn:%s:events:%s:%s:rule/%s", cfg.Partition, t.Region, t.Account, config.ForwardRuleName)
	role := awsiam.NewRole(stack, jsii.String("ForwardRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewPrincipalWithConditions(awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil), &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": t.Account},
			"ArnEquals":    map[string]any{"aws:SourceArn": ruleARN},
		}),
		Description: jsii.String("crossbuild: lets EventBridge put CodeBuild events on the source account's bus"),
	})
	rule := awsevents.NewRule(stack, jsii.String("ForwardRule"), &awsevents.RuleProps{
		RuleName:     jsii.String(config.ForwardRuleName),
		Description:  jsii.String(forwardDescription(t.Projects)),
		EventPattern: ForwardPattern(t),
	})
	bus := awsevents.EventBus_FromEventBusArn(stack, jsii.String("SourceBus"), jsii.String(cfg.EventBusARN()))
	// The target adds events:PutEvents on the bus ARN (and nothing else) to the role.
	rule.AddTarget(awseventstargets.NewEventBus(bus, &awseventstargets.EventBusProps{Role: role, DeadLetterQueue: dlq}))
	// The EventBus target has no retry settings in the L2 API.
	cfn := rule.Node().DefaultChild().(awsevents.CfnRule)
	cfn.AddPropertyOverride(jsii.String("Targets.0.RetryPolicy"), map[string]any{
		"MaximumRetryAttempts":     forwardRetryAttempts,
		"MaximumEventAgeInSeconds": forwardMaxEventAge,
	})
	return rule
}

// newDeadLetterQueue creates an encrypted, TLS-only queue kept for the maximum 14 days.
// whyNoDLQ, when set, explains why the queue has no dead-letter queue of its own: cdk-nag
// cannot see that a queue is an EventBridge target's dead-letter queue.
func newDeadLetterQueue(stack awscdk.Stack, id, whyNoDLQ string) awssqs.Queue {
	q := awssqs.NewQueue(stack, jsii.String(id), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	if whyNoDLQ != "" {
		suppressDeadLetterQueue(q, whyNoDLQ)
	}
	return q
}

// maxRuleDescription is EventBridge's limit on a rule's description (PutRule, Description:
// at most 512 characters).
const maxRuleDescription = 512

// forwardDescription names the forwarded projects while they fit in a rule description, and
// counts them when they do not: the event pattern, not the description, is what matters.
func forwardDescription(projects []string) string {
	d := "crossbuild: forward CodeBuild state and phase changes of " + strings.Join(projects, ", ") + " to the source bus"
	if len(d) <= maxRuleDescription {
		return d
	}
	return fmt.Sprintf("crossbuild: forward CodeBuild state and phase changes of the %d configured projects to the source bus", len(projects))
}
