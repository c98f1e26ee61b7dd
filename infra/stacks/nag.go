package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Every cdk-nag suppression of the app is here, each with its reason and, for wildcard
// findings, narrowed with AppliesTo to the exact finding.

func suppress(c constructs.IConstruct, id, reason string, appliesTo ...string) {
	s := &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		list := make([]any, len(appliesTo))
		for i, a := range appliesTo {
			list[i] = a
		}
		s.AppliesTo = &list
	}
	// applyToChildren: the finding sits on the role's generated DefaultPolicy.
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{s}, jsii.Bool(true))
}

// suppressXRay covers xray:PutTraceSegments/PutTelemetryRecords, which CDK grants for
// active tracing.
func suppressXRay(role awsiam.IRole, what string) {
	suppress(role, "AwsSolutions-IAM5",
		fmt.Sprintf("Resource::* is for the X-Ray actions of %s: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions.", what),
		"Resource::*")
}

// suppressStateMachineWildcards covers the statements CDK adds to the state machine's role
// for X-Ray tracing and CloudWatch Logs delivery, and the Distributed Map's own: its child
// executions and its files under runs/.
func suppressStateMachineWildcards(role awsiam.IRole, stateMachineARN string) {
	suppress(role, "AwsSolutions-IAM5",
		"Resource::* is required by X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets) "+
			"and by CloudWatch Logs vended delivery (logs:CreateLogDelivery and related actions), none of which support resource-level permissions. "+
			"lambda:InvokeFunction is limited to the crossbuild functions' ARNs.",
		"Resource::*")
	suppress(role, "AwsSolutions-IAM5",
		"The Distributed Map describes and stops its own child executions, whose names Step Functions generates: "+
			"the wildcard covers only executions of this state machine's Map Run (<state machine>/<label>:<id>).",
		"Resource::"+strings.Replace(stateMachineARN, ":stateMachine:", ":execution:", 1)+"/*")
}

// suppressExecutionsWildcard covers the reconciler's states:DescribeExecution on the
// executions of the crossbuild state machine.
func suppressExecutionsWildcard(role awsiam.IRole, executions string) {
	suppress(role, "AwsSolutions-IAM5",
		"Executions are named when they start: the wildcard covers only the executions of the crossbuild state machine, "+
			"which the reconciler may only describe (states:DescribeExecution) to learn whether a task still waits.",
		"Resource::"+executions)
}

// suppressRunsWildcard covers object actions on the runs bucket under one key pattern: the
// keys are named after executions, unknown in advance.
func suppressRunsWildcard(c constructs.IConstruct, stack awscdk.Stack, bucket awss3.Bucket, pattern, why string) {
	ref := *stack.GetLogicalId(bucket.Node().DefaultChild().(awscdk.CfnElement))
	suppress(c, "AwsSolutions-IAM5", why, fmt.Sprintf("Resource::<%s.Arn>/%s", ref, pattern))
}

func suppressDeadLetterQueue(q awssqs.Queue, why string) {
	suppress(q, "AwsSolutions-SQS3", why+" A dead-letter queue of a dead-letter queue would only move the same messages again.")
}

// suppressSampleProject covers the sample project's defaults: CodeBuild's AWS-managed key
// and the log-stream wildcard CDK grants its service role on the project's own log group.
func suppressSampleProject(project awscodebuild.Project, role awsiam.IRole, stack awscdk.Stack) {
	suppress(project, "AwsSolutions-CB4",
		"The sample project has no source, no artifacts and no cache; CodeBuild encrypts what it stores (logs, build metadata) with the AWS-managed key. "+
			"A customer-managed key would add cost and key-policy management without protecting any data of this sample.")
	// CDK grants on /aws/codebuild/<project name>, the name being a Ref to the project. The
	// partition is a literal under @aws-cdk/core:enablePartitionLiterals, else a reference.
	projectRef := *stack.GetLogicalId(project.Node().DefaultChild().(awscdk.CfnElement))
	partition := *stack.Partition()
	if *awscdk.Token_IsUnresolved(partition) {
		partition = "<AWS::Partition>"
	}
	logStreams := fmt.Sprintf("Resource::arn:%s:logs:%s:%s:log-group:/aws/codebuild/<%s>:*", partition, *stack.Region(), *stack.Account(), projectRef)
	suppress(role, "AwsSolutions-IAM5",
		"CodeBuild names each log stream after the build id, unknown in advance; the wildcard covers only the streams of this project's own log group.",
		logStreams)
}
