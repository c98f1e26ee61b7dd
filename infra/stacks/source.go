package stacks

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/crossbuild/crossbuild/infra/config"
	"github.com/crossbuild/crossbuild/infra/statemachine"
	"github.com/crossbuild/crossbuild/internal/assume"
	"github.com/crossbuild/crossbuild/internal/settings"
)

// Token table layout (docs/reference.md).
const (
	TablePartitionKey = "buildArn"
	IndexName         = "byExecution"
	IndexPartitionKey = "executionArn"
	IndexSortKey      = "mapIndex"
	TTLAttribute      = "expiresAt"
)

// OpenIndexName is the sparse index of open records the reconciler queries
// (internal/tokenstore OpenIndex): only WAITING and CLAIMED records carry its keys.
const (
	OpenIndexName         = "byOpen"
	OpenIndexPartitionKey = "openShard"
	OpenIndexSortKey      = "openSince"
)

// CodeBuild event vocabulary.
const (
	CodeBuildSource    = config.CodeBuildSource
	DetailStateChange  = config.DetailStateChange
	DetailPhaseChange  = config.DetailPhaseChange
	maxEnvironmentSize = 4096
	// RunsBucketOutput names the source stack output holding the runs bucket's name.
	RunsBucketOutput = config.RunsBucketOutput
	// RunsPrefix holds each execution's items file and results (runs/<execution name>/...).
	RunsPrefix = "runs/"
	// runRetentionDays: how long an execution's items and results stay in the bucket.
	runRetentionDays = 90
)

// BuildStatuses are the values of detail.build-status the callback reacts to: progress and
// all five terminal statuses.
var BuildStatuses = config.BuildStatuses

// Source is the source stack and the constructs its tests look at.
type Source struct {
	Stack        awscdk.Stack
	Table        awsdynamodb.Table
	Bucket       awss3.Bucket
	Bus          awsevents.EventBus
	DeadLetters  awssqs.Queue
	StateMachine awsstepfunctions.StateMachine
	Functions    map[string]awslambda.Function
}

// NewSourceStack defines the source account's stack. It fails when a Lambda asset is missing.
func NewSourceStack(scope constructs.Construct, cfg *config.Config, assetDir string) (*Source, error) {
	if err := CheckAssets(assetDir); err != nil {
		return nil, err
	}
	stack := awscdk.NewStack(scope, jsii.String(config.SourceStackName), &awscdk.StackProps{
		Env:         env(cfg.SourceAccount, cfg.SourceRegion),
		Tags:        stackTags(),
		Description: jsii.String("crossbuild source: state machine, starter/callback/poller functions, token table, event bus"),
	})
	s := &Source{Stack: stack, Functions: map[string]awslambda.Function{}}
	s.Table = tokenTable(stack)
	s.Bucket = runsBucket(stack)
	// Users upload large target lists to this bucket and find every run's results in it.
	awscdk.NewCfnOutput(stack, jsii.String(RunsBucketOutput), &awscdk.CfnOutputProps{
		Value:       s.Bucket.BucketName(),
		Description: jsii.String("crossbuild runs bucket: upload target lists here (targetsS3Uri); results are under runs/<execution name>/results/"),
	})
	// Dead letters of the callback and canceller rules' targets and of those functions'
	// asynchronous invocations; cdk-nag recognises the latter, so no SQS3 suppression is
	// needed.
	s.DeadLetters = newDeadLetterQueue(stack, "CallbackDeadLetters", "")

	// Built from the explicit name rather than the construct's token: the starter's policy
	// needs it and the state machine depends on the starter, so a token would be a cycle.
	stateMachineARN := fmt.Sprintf("arn:%s:states:%s:%s:stateMachine:%s", cfg.Partition, cfg.SourceRegion, cfg.SourceAccount, config.StateMachineName)

	if err := s.addFunctions(cfg, assetDir, stateMachineARN); err != nil {
		return nil, err
	}
	s.Bus = newEventBus(stack, cfg)
	s.addCallbackRule(cfg)
	s.addCancellerRule(stateMachineARN)
	s.addReconcilerSchedule(cfg, stateMachineARN)
	def, err := statemachine.Definition(statemachine.Params{
		PlannerARN:    *s.Functions["planner"].FunctionArn(),
		StarterARN:    *s.Functions["starter"].FunctionArn(),
		PollerARN:     *s.Functions["poller"].FunctionArn(),
		SummariserARN: *s.Functions["summariser"].FunctionArn(),
		CancellerARN:  *s.Functions["canceller"].FunctionArn(),
	})
	if err != nil {
		return nil, fmt.Errorf("source stack: %w", err)
	}
	s.StateMachine = s.newStateMachine(def, stateMachineARN)
	s.addAlarms(cfg)
	s.addOperatorOutputs()
	s.addDashboard()
	return s, nil
}

func tokenTable(stack awscdk.Stack) awsdynamodb.Table {
	table := awsdynamodb.NewTable(stack, jsii.String("TokenTable"), &awsdynamodb.TableProps{
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String(TablePartitionKey), Type: awsdynamodb.AttributeType_STRING},
		// On demand: traffic is a burst of writes per execution and nothing in between.
		BillingMode: awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		Encryption:          awsdynamodb.TableEncryption_AWS_MANAGED,
		TimeToLiveAttribute: jsii.String(TTLAttribute),
	})
	table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:      jsii.String(IndexName),
		PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(IndexPartitionKey), Type: awsdynamodb.AttributeType_STRING},
		SortKey:        &awsdynamodb.Attribute{Name: jsii.String(IndexSortKey), Type: awsdynamodb.AttributeType_NUMBER},
		ProjectionType: awsdynamodb.ProjectionType_ALL,
	})
	// Sparse: a record carries openShard and openSince only while a task may wait for it.
	// Whole records are projected: the reconciler needs the token, role and outcome.
	table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:      jsii.String(OpenIndexName),
		PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(OpenIndexPartitionKey), Type: awsdynamodb.AttributeType_STRING},
		SortKey:        &awsdynamodb.Attribute{Name: jsii.String(OpenIndexSortKey), Type: awsdynamodb.AttributeType_NUMBER},
		ProjectionType: awsdynamodb.ProjectionType_ALL,
	})
	return table
}

// runsBucket holds each execution's items (the targets, one per child execution) and the
// children's results: private, encrypted, TLS only, and emptied of runs after
// runRetentionDays.
func runsBucket(stack awscdk.Stack) awss3.Bucket {
	bucket := awss3.NewBucket(stack, jsii.String("RunsBucket"), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("ExpireRuns"),
			Prefix:                              jsii.String(RunsPrefix),
			Expiration:                          awscdk.Duration_Days(jsii.Number(runRetentionDays)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		}},
		// Results are records of what ran where: keep them when the stack goes.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	suppress(bucket, "AwsSolutions-S1",
		"Server access logs would need a second bucket per installation; the bucket is written only by the state machine and the planner, "+
			"whose every call CloudTrail already records as the state machine's or function's role.")
	return bucket
}

// functionSpec describes one Lambda function of the source stack.
type functionSpec struct {
	name        string
	roleName    string
	description string
	// Timeouts and memory: the handlers are small Go binaries doing a handful of AWS calls.
	// 256 MB on arm64 gives enough CPU for TLS handshakes on a cold start; timeouts leave
	// room for the SDK's own retries with backoff on every call.
	timeout    awscdk.Duration
	memoryMB   float64
	env        map[string]string
	logLevel   string
	statements []awsiam.PolicyStatement
	// deadLetters receives failed asynchronous invocations (the callback only).
	deadLetters awssqs.IQueue
	// wildcards are the object patterns of the runs bucket the function may use, each with
	// the reason it cannot be narrower.
	wildcards []wildcard
}

type wildcard struct{ pattern, why string }

func (s *Source) addFunctions(cfg *config.Config, assetDir, stateMachineARN string) error {
	tableName := *s.Table.TableName()
	common := map[string]string{
		settings.TableName:       tableName,
		settings.AllowedAccounts: strings.Join(cfg.TargetAccounts(), ","),
		settings.AllowedRegions:  strings.Join(cfg.TargetRegions(), ","),
	}
	// Whole-number settings are checked against the bounds the functions accept, so a
	// deployment never hands a function a value it refuses at cold start. The settings the
	// context does not configure get their declared defaults; the reconciler's limit and
	// concurrency work off a backlog of 10,000 lost completions within an hour.
	var bad []error
	num := func(st settings.Int, v int) string {
		out, err := st.Env(v)
		if err != nil {
			bad = append(bad, err)
		}
		return out
	}
	def := func(st settings.Int) string { return num(st, st.Default) }
	// One pattern instead of the list of role ARNs: ALLOWED_ACCOUNTS already restricts the
	// account, so it admits exactly the configured roles and keeps the environment under
	// Lambda's 4 KB limit with many accounts. IAM (assumeTargetRoles) lists them exactly.
	allowedRoles := fmt.Sprintf("arn:%s:iam::*:role/%s", cfg.Partition, cfg.TargetRoleName)
	assume := s.assumeTargetRoles(cfg)

	specs := []functionSpec{
		{
			name:        "starter",
			roleName:    config.StarterRoleName,
			description: "crossbuild starter: checks a target, assumes its role, starts the build, records the task token",
			// AssumeRole + intent + StartBuild + PutItem, each possibly retried by the SDK;
			// well inside the idempotency token's window (functions/starter TokenWindow).
			timeout:  awscdk.Duration_Seconds(jsii.Number(60)),
			memoryMB: 256,
			env: merge(common, map[string]string{
				settings.ExternalID:                      cfg.ExternalID, // confused-deputy guard, not a secret
				settings.AllowedRoleARNs:                 allowedRoles,
				settings.EnvMapping:                      cfg.EnvMappingJSON(),
				settings.ConstantEnv:                     cfg.ConstantEnvJSON(),
				settings.CorrelationPrefix:               cfg.CorrelationPrefix,
				settings.EnvNamesAllowed:                 cfg.EnvNamesAllowedList(),
				settings.DefaultPollIntervalSeconds.Name: num(settings.DefaultPollIntervalSeconds, cfg.PollIntervalSeconds),
				settings.RecordTTLHours.Name:             num(settings.RecordTTLHours, cfg.RecordTTLHours),
				settings.AssumeRoleSeconds.Name:          def(settings.AssumeRoleSeconds),
				settings.ClaimLeaseSeconds.Name:          def(settings.ClaimLeaseSeconds),
			}),
			statements: []awsiam.PolicyStatement{
				assume,
				// Create, adopt a parked record, refresh the token on a retried task, claim/complete.
				s.tableAccess("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"),
				// A terminal event that arrived before the record was written is parked in
				// the table; the starter then completes its own task with it.
				sendTask(stateMachineARN, "states:SendTaskSuccess", "states:SendTaskFailure"),
			},
		},
		{
			name:        "callback",
			roleName:    config.CallbackRoleName,
			description: "crossbuild callback: turns CodeBuild events into task heartbeats, successes and failures",
			// GetItem/UpdateItem + one SendTask* call per event.
			timeout:  awscdk.Duration_Seconds(jsii.Number(30)),
			memoryMB: 256,
			env: merge(common, map[string]string{
				settings.RecordTTLHours.Name:    num(settings.RecordTTLHours, cfg.RecordTTLHours),
				settings.ClaimLeaseSeconds.Name: def(settings.ClaimLeaseSeconds),
			}),
			statements: []awsiam.PolicyStatement{
				// Look up by build ARN, park early events, claim/release/complete.
				s.tableAccess("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"),
				sendTask(stateMachineARN, "states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"),
			},
			deadLetters: s.DeadLetters,
		},
		{
			name:        "planner",
			roleName:    config.PlannerRoleName,
			description: "crossbuild planner: checks the execution input and writes one item per target to the runs bucket",
			// Reads a targets file of up to 64 MiB (10,000 targets) and holds it and the items
			// file in memory.
			timeout:  awscdk.Duration_Seconds(jsii.Number(60)),
			memoryMB: 1024,
			env: map[string]string{
				settings.Bucket:                          *s.Bucket.BucketName(),
				settings.DefaultMaxConcurrency.Name:      num(settings.DefaultMaxConcurrency, cfg.MaxConcurrency),
				settings.DefaultHeartbeatSeconds.Name:    num(settings.DefaultHeartbeatSeconds, cfg.HeartbeatSeconds),
				settings.DefaultTimeoutSeconds.Name:      num(settings.DefaultTimeoutSeconds, cfg.TimeoutSeconds),
				settings.DefaultPollIntervalSeconds.Name: num(settings.DefaultPollIntervalSeconds, cfg.PollIntervalSeconds),
			},
			statements: []awsiam.PolicyStatement{
				// targetsS3Uri may name any key of the bucket: users upload their lists there.
				s.bucketAccess("ReadTargets", []string{"s3:GetObject"}, "*"),
				s.bucketAccess("WriteItems", []string{"s3:PutObject"}, RunsPrefix+"*"),
			},
			wildcards: []wildcard{
				{"*", "targetsS3Uri names a targets file the user uploaded anywhere in the deployment's own bucket; the planner only reads it, and the planner checks the URI names this bucket."},
				{RunsPrefix + "*", "The planner writes each execution's items file under runs/<execution name>/, a key known only when the execution starts; it writes nothing else."},
			},
		},
		{
			name:        "summariser",
			roleName:    config.SummariserRoleName,
			description: "crossbuild summariser: reads the children's results and returns counts, the first failures and where the results are",
			// Streams up to 10,000 results from the bucket.
			timeout:  awscdk.Duration_Seconds(jsii.Number(120)),
			memoryMB: 512,
			env:      map[string]string{settings.Bucket: *s.Bucket.BucketName()},
			statements: []awsiam.PolicyStatement{
				s.listRuns(),
				s.bucketAccess("ReadResults", []string{"s3:GetObject"}, RunsPrefix+"*"),
			},
			wildcards: []wildcard{{RunsPrefix + "*", "Results are written by the Map Run under runs/<execution name>/results/<map run id>/, named at run time."}},
		},
		{
			name:        "poller",
			roleName:    config.PollerRoleName,
			description: "crossbuild poller: reads a build's status through the target role",
			// Query + AssumeRole + BatchGetBuilds.
			timeout:  awscdk.Duration_Seconds(jsii.Number(60)),
			memoryMB: 256,
			env: merge(common, map[string]string{
				settings.ExternalID:                      cfg.ExternalID,
				settings.AllowedRoleARNs:                 allowedRoles,
				settings.AssumeRoleSeconds.Name:          def(settings.AssumeRoleSeconds),
				settings.DefaultPollIntervalSeconds.Name: num(settings.DefaultPollIntervalSeconds, cfg.PollIntervalSeconds),
				settings.MaxPollIntervalSeconds.Name:     num(settings.MaxPollIntervalSeconds, cfg.MaxPollInterval),
			}),
			statements: []awsiam.PolicyStatement{
				assume,
				// Find the record by build ARN or, after a fallback, by execution and index.
				s.tableAccess("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"),
			},
		},
	}
	specs = append(specs, functionSpec{
		name:        "canceller",
		roleName:    config.CancellerRoleName,
		description: "crossbuild canceller: stops the running builds of an execution that was aborted, timed out or failed",
		// Query + per build AssumeRole (cached), BatchGetBuilds, StopBuild and UpdateItem,
		// STOP_CONCURRENCY at a time: a 10,000-target execution needs minutes.
		timeout:  awscdk.Duration_Minutes(jsii.Number(5)),
		memoryMB: 256,
		env: merge(common, map[string]string{
			settings.ExternalID:             cfg.ExternalID,
			settings.AllowedRoleARNs:        allowedRoles,
			settings.AssumeRoleSeconds.Name: def(settings.AssumeRoleSeconds),
			settings.StateMachineARN:        stateMachineARN,
			settings.StopConcurrency.Name:   def(settings.StopConcurrency),
		}),
		statements: []awsiam.PolicyStatement{
			assume,
			// List an execution's records on the index; close them on the table. Nothing else.
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("ListExecutionRecords"),
				Actions:   jsii.Strings("dynamodb:Query"),
				Resources: jsii.Strings(*s.Table.TableArn() + "/index/" + IndexName),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("CloseRecords"),
				Actions:   jsii.Strings("dynamodb:UpdateItem"),
				Resources: &[]*string{s.Table.TableArn()},
			}),
		},
		deadLetters: s.DeadLetters,
	})
	specs = append(specs, functionSpec{
		name:        "reconciler",
		roleName:    config.ReconcilerRoleName,
		description: "crossbuild reconciler: completes the tasks whose build ended while the completion was lost, on a schedule",
		// Queries + per role AssumeRole and BatchGetBuilds, then per record a claim, a send
		// and a write, RECONCILE_CONCURRENCY at a time; the run stops taking on records
		// shortly before the timeout and the next run carries on.
		timeout:  awscdk.Duration_Minutes(jsii.Number(3)),
		memoryMB: 256,
		env: merge(common, map[string]string{
			settings.ExternalID:                 cfg.ExternalID,
			settings.AllowedRoleARNs:            allowedRoles,
			settings.AssumeRoleSeconds.Name:     def(settings.AssumeRoleSeconds),
			settings.StateMachineARN:            stateMachineARN,
			settings.ClaimLeaseSeconds.Name:     def(settings.ClaimLeaseSeconds),
			settings.ReconcileAfterSeconds.Name: num(settings.ReconcileAfterSeconds, cfg.ReconcileAfterMinutes*60),
			settings.ReconcileLimit.Name:        def(settings.ReconcileLimit),
			settings.ReconcileConcurrency.Name:  def(settings.ReconcileConcurrency),
		}),
		statements: []awsiam.PolicyStatement{
			assume,
			// List the open records on their index; claim, read back and close them on the
			// table. Nothing else.
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("ListOpenRecords"),
				Actions:   jsii.Strings("dynamodb:Query"),
				Resources: jsii.Strings(*s.Table.TableArn() + "/index/" + OpenIndexName),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("ClaimAndCloseRecords"),
				Actions:   jsii.Strings("dynamodb:GetItem", "dynamodb:UpdateItem"),
				Resources: &[]*string{s.Table.TableArn()},
			}),
			sendTask(stateMachineARN, "states:SendTaskSuccess", "states:SendTaskFailure"),
			// Whether a record's execution still runs; records carry the parent execution's
			// ARN, so the children's are not needed.
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("DescribeCrossbuildExecutions"),
				Actions:   jsii.Strings("states:DescribeExecution"),
				Resources: jsii.Strings(reconcilerExecutions(stateMachineARN)),
			}),
		},
		deadLetters: s.DeadLetters,
	})
	if err := errors.Join(bad...); err != nil {
		return fmt.Errorf("function settings: %w", err)
	}
	for _, spec := range specs {
		spec.logLevel = cfg.LogLevel
		fn, err := s.newFunction(spec, assetDir)
		if err != nil {
			return err
		}
		s.Functions[spec.name] = fn
	}
	return nil
}

// assumeTargetRoles allows sts:AssumeRole on the configured target roles only.
func (s *Source) assumeTargetRoles(cfg *config.Config) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("AssumeConfiguredTargetRoles"),
		Actions:   jsii.Strings("sts:AssumeRole"),
		Resources: jsii.Strings(cfg.TargetRoleARNs()...),
	})
}

// tableAccess allows actions on the token table, and on its index when they include
// Query: nothing else.
func (s *Source) tableAccess(actions ...string) awsiam.PolicyStatement {
	resources := []*string{s.Table.TableArn()}
	if slices.Contains(actions, "dynamodb:Query") {
		resources = append(resources, jsii.String(*s.Table.TableArn()+"/index/"+IndexName))
	}
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("TokenTable"),
		Actions:   jsii.Strings(actions...),
		Resources: &resources,
	})
}

// sendTask allows task-token calls against the crossbuild state machine. The Service
// Authorization Reference lists stateMachine as the resource type of SendTaskSuccess,
// SendTaskFailure and SendTaskHeartbeat (the token itself names the execution). The tasks
// run in the Distributed Map's child executions, whose state machine is named
// <state machine>/<map run label>: both forms are listed.
func sendTask(stateMachineARN string, actions ...string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("CompleteCrossbuildTasks"),
		Actions:   jsii.Strings(actions...),
		Resources: jsii.Strings(stateMachineARN, stateMachineARN+"/"+statemachine.MapRunLabel),
	})
}

// bucketAccess allows object actions on keys of the runs bucket matching pattern.
func (s *Source) bucketAccess(sid string, actions []string, pattern string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String(sid),
		Actions:   jsii.Strings(actions...),
		Resources: jsii.Strings(*s.Bucket.ArnForObjects(jsii.String(pattern))),
	})
}

// listRuns allows listing the bucket under runs/ only (the summariser finds a Map Run's
// manifest by listing its execution's results prefix).
func (s *Source) listRuns() awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("ListRuns"),
		Actions:    jsii.Strings("s3:ListBucket"),
		Resources:  &[]*string{s.Bucket.BucketArn()},
		Conditions: &map[string]any{"StringLike": map[string]any{"s3:prefix": []string{RunsPrefix + "*"}}},
	})
}

func (s *Source) newFunction(spec functionSpec, assetDir string) (awslambda.Function, error) {
	if size := environmentSize(spec.env); size > maxEnvironmentSize {
		return nil, fmt.Errorf("%s function: its environment is %d bytes, over Lambda's %d; shorten %s, %s or %s",
			spec.name, size, maxEnvironmentSize, config.KeyEnvMapping, config.KeyConstantEnv, config.KeyExternalID)
	}
	id := strings.ToUpper(spec.name[:1]) + spec.name[1:]
	stack := s.Stack
	logs := awslogs.NewLogGroup(stack, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention: awslogs.RetentionDays_ONE_MONTH,
	})
	// Explicit, stable role names: the target roles trust the starter's and the poller's
	// role by ARN (aws:PrincipalArn), which the target stacks build from these names.
	role := awsiam.NewRole(stack, jsii.String(id+"Role"), &awsiam.RoleProps{
		RoleName:    jsii.String(spec.roleName),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String(spec.description),
	})
	logs.GrantWrite(role)
	for _, st := range spec.statements {
		role.AddToPolicy(st)
	}
	env := map[string]*string{}
	for k, v := range spec.env {
		env[k] = jsii.String(v)
	}
	props := &awslambda.FunctionProps{
		FunctionName:  jsii.String("crossbuild-" + spec.name),
		Description:   jsii.String(spec.description),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          awslambda.Code_FromAsset(jsii.String(filepath.Join(assetDir, spec.name)), nil),
		Role:          role,
		Timeout:       spec.timeout,
		MemorySize:    jsii.Number(spec.memoryMB),
		Environment:   &env,
		Tracing:       awslambda.Tracing_ACTIVE,
		LoggingFormat: awslambda.LoggingFormat_JSON,
		// Lambda passes these to the function as AWS_LAMBDA_LOG_FORMAT/AWS_LAMBDA_LOG_LEVEL.
		ApplicationLogLevelV2: applicationLogLevel(spec.logLevel),
		SystemLogLevelV2:      awslambda.SystemLogLevel_INFO,
		LogGroup:              logs,
	}
	if spec.deadLetters != nil {
		props.DeadLetterQueue = spec.deadLetters
		props.RetryAttempts = jsii.Number(2)
	}
	fn := awslambda.NewFunction(stack, jsii.String(id), props)
	suppressXRay(role, "the function's active tracing")
	for _, w := range spec.wildcards {
		suppressRunsWildcard(role, stack, s.Bucket, w.pattern, w.why)
	}
	return fn, nil
}

func applicationLogLevel(level string) awslambda.ApplicationLogLevel {
	switch level {
	case "DEBUG":
		return awslambda.ApplicationLogLevel_DEBUG
	case "WARN":
		return awslambda.ApplicationLogLevel_WARN
	case "ERROR":
		return awslambda.ApplicationLogLevel_ERROR
	default:
		return awslambda.ApplicationLogLevel_INFO
	}
}

// newEventBus creates the bus the target accounts forward CodeBuild events to. Its policy
// admits PutEvents of aws.codebuild events only, from the configured target accounts or,
// when an Organization is configured, from any account of it.
func newEventBus(stack awscdk.Stack, cfg *config.Config) awsevents.EventBus {
	bus := awsevents.NewEventBus(stack, jsii.String("EventBus"), &awsevents.EventBusProps{
		EventBusName: jsii.String(config.EventBusName),
		Description:  jsii.String("crossbuild: CodeBuild state and phase changes forwarded from the target accounts"),
	})
	conditions := map[string]any{
		"StringEquals": map[string]any{
			"events:source":      []string{CodeBuildSource},
			"events:detail-type": []string{DetailStateChange, DetailPhaseChange},
		},
	}
	var principals []awsiam.IPrincipal
	if cfg.OrganizationID != "" {
		principals = []awsiam.IPrincipal{awsiam.NewStarPrincipal()}
		conditions["StringEquals"].(map[string]any)["aws:PrincipalOrgID"] = cfg.OrganizationID
	} else {
		for _, a := range cfg.TargetAccounts() {
			principals = append(principals, awsiam.NewAccountPrincipal(jsii.String(a)))
		}
	}
	bus.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CodeBuildEventsFromTargets"),
		Principals: &principals,
		Actions:    jsii.Strings("events:PutEvents"),
		Resources:  &[]*string{bus.EventBusArn()},
		Conditions: &conditions,
	}))
	// Replay: the terminal events of the builds crossbuild started are kept, so lost
	// completions can be re-driven. Every CodeBuild event carries the build's PLAINTEXT
	// variables, so nothing else is kept (docs/security.md).
	archive := bus.Archive(jsii.String("Archive"), &awsevents.BaseArchiveProps{
		Description:  jsii.String("crossbuild: terminal CodeBuild events of the builds crossbuild started"),
		EventPattern: ArchivePattern(),
		Retention:    awscdk.Duration_Days(jsii.Number(30)),
	})
	// aws-cdk-lib renders "KmsKeyIdentifier": "" for an archive without a customer managed
	// key (aws/aws-cdk#37847), which some Regions reject. Without the property EventBridge
	// encrypts the archive with an AWS owned key, as it does every archive by default.
	archive.Node().DefaultChild().(awsevents.CfnArchive).AddPropertyDeletionOverride(jsii.String("KmsKeyIdentifier"))
	return bus
}

// TerminalStatuses are the build statuses that end a build.
var TerminalStatuses = []string{"SUCCEEDED", "FAILED", "FAULT", "STOPPED", "TIMED_OUT"}

// ArchivePattern keeps what a replay needs and no more: the terminal state changes of
// builds whose initiator is a role session crossbuild names ("<role>/crossbuild-<execution>",
// internal/assume.SessionName; the callback recognises its builds the same way). Progress
// and phase changes only ever became heartbeats, and builds others start are none of
// crossbuild's business, yet each event carries its build's PLAINTEXT variables.
func ArchivePattern() *awsevents.EventPattern {
	return &awsevents.EventPattern{
		Source:     jsii.Strings(CodeBuildSource),
		DetailType: jsii.Strings(DetailStateChange),
		Detail: &map[string]any{
			"build-status": TerminalStatuses,
			"additional-information": map[string]any{
				"initiator": []any{map[string]any{"wildcard": "*/" + assume.SessionPrefix + "*"}},
			},
		},
	}
}

// CallbackPattern is the callback rule's event pattern (config.Config.CallbackPattern,
// whose size the configuration checks against EventBridge's quota).
func CallbackPattern(cfg *config.Config) *awsevents.EventPattern {
	return eventPattern(cfg.CallbackPattern())
}

func (s *Source) addCallbackRule(cfg *config.Config) {
	rule := awsevents.NewRule(s.Stack, jsii.String("CallbackRule"), &awsevents.RuleProps{
		EventBus:     s.Bus,
		Description:  jsii.String("crossbuild: deliver CodeBuild state and phase changes to the callback function"),
		EventPattern: CallbackPattern(cfg),
	})
	rule.AddTarget(awseventstargets.NewLambdaFunction(s.Functions["callback"], &awseventstargets.LambdaFunctionProps{
		// Retries cover Lambda throttling or outages. Past two hours the default heartbeat
		// fallback has long switched the task to polling, so older events only go to the DLQ.
		RetryAttempts:   jsii.Number(30),
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(2)),
		DeadLetterQueue: s.DeadLetters,
	}))
}

// ExecutionStatusChange is the Step Functions event the canceller takes (EventBridge
// events reference, "Step Functions events"); Step Functions sends it to the account's
// default bus for Standard workflows.
const (
	StatesSource          = "aws.states"
	ExecutionStatusChange = "Step Functions Execution Status Change"
)

// CancelStatuses are the execution ends that leave builds without a task to report to.
var CancelStatuses = []string{"ABORTED", "TIMED_OUT", "FAILED"}

// CancellerPattern matches the ends of crossbuild executions that did not succeed. Only
// the parent state machine is named: token records carry the parent execution's ARN, and
// the Distributed Map's children (state machine <name>/<label>) end with their parent.
func CancellerPattern(stateMachineARN string) *awsevents.EventPattern {
	return &awsevents.EventPattern{
		Source:     jsii.Strings(StatesSource),
		DetailType: jsii.Strings(ExecutionStatusChange),
		Detail: &map[string]any{
			"stateMachineArn": []string{stateMachineARN},
			"status":          CancelStatuses,
		},
	}
}

// addCancellerRule delivers those ends from the account's default bus to the canceller.
func (s *Source) addCancellerRule(stateMachineARN string) {
	rule := awsevents.NewRule(s.Stack, jsii.String("CancellerRule"), &awsevents.RuleProps{
		Description:  jsii.String("crossbuild: stop the builds of executions that were aborted, timed out or failed"),
		EventPattern: CancellerPattern(stateMachineARN),
	})
	rule.AddTarget(awseventstargets.NewLambdaFunction(s.Functions["canceller"], &awseventstargets.LambdaFunctionProps{
		// Every hour a build runs on after its execution ended costs money: retry for a
		// day, then keep the event in the dead-letter queue for an operator.
		RetryAttempts:   jsii.Number(185),
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(24)),
		DeadLetterQueue: s.DeadLetters,
	}))
}

// reconcilerExecutions matches the executions of the crossbuild state machine (not its
// Distributed Map's children, <state machine>/<label>:<id>, whose ARNs records never carry).
func reconcilerExecutions(stateMachineARN string) string {
	return strings.Replace(stateMachineARN, ":stateMachine:", ":execution:", 1) + ":*"
}

// addReconcilerSchedule runs the reconciler every crossbuild:reconcileEveryMinutes.
func (s *Source) addReconcilerSchedule(cfg *config.Config, stateMachineARN string) {
	fn := s.Functions["reconciler"]
	suppressExecutionsWildcard(fn.Role(), reconcilerExecutions(stateMachineARN))
	every := awscdk.Duration_Minutes(jsii.Number(float64(cfg.ReconcileEveryMinutes)))
	rule := awsevents.NewRule(s.Stack, jsii.String("ReconcilerSchedule"), &awsevents.RuleProps{
		Description: jsii.String(fmt.Sprintf("crossbuild: run the reconciler every %d minute(s)", cfg.ReconcileEveryMinutes)),
		Schedule:    awsevents.Schedule_Rate(every),
	})
	rule.AddTarget(awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
		// A run that could not be delivered is not worth much once the next one is due.
		RetryAttempts:   jsii.Number(2),
		MaxEventAge:     every,
		DeadLetterQueue: s.DeadLetters,
	}))
}

func (s *Source) newStateMachine(definition, stateMachineARN string) awsstepfunctions.StateMachine {
	logs := awslogs.NewLogGroup(s.Stack, jsii.String("StateMachineLogs"), &awslogs.LogGroupProps{
		// The /aws/vendedlogs/ prefix keeps CloudWatch Logs resource policies small.
		LogGroupName: jsii.String("/aws/vendedlogs/states/" + config.StateMachineName + "-" + *s.Stack.Region()),
		Retention:    awslogs.RetentionDays_ONE_MONTH,
		// The name is fixed, so a retained group would block a later redeployment.
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	sm := awsstepfunctions.NewStateMachine(s.Stack, jsii.String("StateMachine"), &awsstepfunctions.StateMachineProps{
		StateMachineName: jsii.String(config.StateMachineName),
		StateMachineType: awsstepfunctions.StateMachineType_STANDARD,
		DefinitionBody:   awsstepfunctions.DefinitionBody_FromString(jsii.String(definition)),
		TracingEnabled:   jsii.Bool(true),
		Logs: &awsstepfunctions.LogOptions{
			Destination: logs,
			Level:       awsstepfunctions.LogLevel_ALL,
			// Inputs and outputs carry target values that become build variables.
			IncludeExecutionData: jsii.Bool(false),
		},
	})
	var functions []*string
	for _, name := range []string{"planner", "starter", "poller", "summariser", "canceller"} {
		functions = append(functions, s.Functions[name].FunctionArn())
	}
	sm.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("InvokeCrossbuildFunctions"),
		Actions:   jsii.Strings("lambda:InvokeFunction"),
		Resources: &functions,
	}))
	// Distributed Map: the Map Run starts, describes and stops child executions of this
	// state machine (Step Functions developer guide, "IAM policies for using Distributed Map
	// states"); child executions are named <state machine>/<label>:<id>.
	sm.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("StartChildExecutions"),
		Actions:   jsii.Strings("states:StartExecution"),
		Resources: jsii.Strings(stateMachineARN),
	}))
	executions := strings.Replace(stateMachineARN, ":stateMachine:", ":execution:", 1) + "/*"
	sm.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("SuperviseChildExecutions"),
		Actions:   jsii.Strings("states:DescribeExecution", "states:StopExecution"),
		Resources: jsii.Strings(executions),
	}))
	// ItemReader reads the planner's items file; ResultWriter writes the results (multipart
	// for large files), both under runs/.
	sm.AddToRolePolicy(s.bucketAccess("RunsReadWrite",
		[]string{"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}, RunsPrefix+"*"))
	suppressStateMachineWildcards(sm.Role(), stateMachineARN)
	suppressRunsWildcard(sm.Role(), s.Stack, s.Bucket, RunsPrefix+"*",
		"Each execution reads its items file and writes its results under runs/<execution name>/, named at run time.")
	return sm
}

func merge(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// environmentSize approximates Lambda's measure (keys and values of all variables); the
// table name is still a token here, shorter than the real name, hence the margin below.
func environmentSize(env map[string]string) int {
	n := 0
	for k, v := range env {
		n += len(k) + len(v)
	}
	return n + 64
}
