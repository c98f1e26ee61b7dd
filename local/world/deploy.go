package world

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/crossbuild/crossbuild/internal/iam"
	"github.com/crossbuild/crossbuild/local/cfn"
	"github.com/crossbuild/crossbuild/local/codebuild"
	"github.com/crossbuild/crossbuild/local/eventbridge"
	"github.com/crossbuild/crossbuild/local/lambda"
	"github.com/crossbuild/crossbuild/local/localaws"
	"github.com/crossbuild/crossbuild/local/s3"
	"github.com/crossbuild/crossbuild/local/sqs"
	"github.com/crossbuild/crossbuild/local/sts"
)

// notEmulated are resource types the runtime accepts but does not act on; docs/local.md
// says what that means for each.
var notEmulated = map[string]bool{
	"AWS::Logs::LogGroup":            true,
	"AWS::SQS::Queue":                true, // dead letters are kept by the EventBridge stand-in
	"AWS::SQS::QueuePolicy":          true,
	"AWS::CloudWatch::Alarm":         true,
	"AWS::CloudWatch::Dashboard":     true,
	"AWS::Lambda::Permission":        true,
	"AWS::Lambda::EventInvokeConfig": true,
	"AWS::KMS::Key":                  true,
	"AWS::KMS::Alias":                true,
	"AWS::CDK::Metadata":             true,
	"AWS::SNS::Topic":                true,
	"AWS::SNS::TopicPolicy":          true,
}

// deployed are the types the runtime deploys.
var deployed = map[string]bool{
	"AWS::IAM::Role": true, "AWS::IAM::Policy": true, "AWS::Lambda::Function": true,
	"AWS::DynamoDB::Table": true, "AWS::Events::EventBus": true, "AWS::Events::EventBusPolicy": true,
	"AWS::Events::Rule": true, "AWS::Events::Archive": true, "AWS::CodeBuild::Project": true,
	"AWS::StepFunctions::StateMachine": true, "AWS::S3::Bucket": true, "AWS::S3::BucketPolicy": true,
}

type deployer struct {
	w    *World
	opts Options

	// identity policies of each role, by role ARN
	rolePolicies map[string][]*iam.Policy
}

// step deploys one kind of resource across every stack.
type step struct {
	typ string
	do  func(ctx context.Context, s *cfn.Stack, id string) error
}

func (d *deployer) deploy(ctx context.Context) error {
	var unsupported []string
	for _, s := range d.w.Stacks {
		for id, r := range s.Template.Resources {
			if !deployed[r.Type] && !notEmulated[r.Type] {
				unsupported = append(unsupported, fmt.Sprintf("%s/%s (%s)", s.Name, id, r.Type))
			}
		}
	}
	if len(unsupported) > 0 {
		sort.Strings(unsupported)
		return fmt.Errorf("resources the local runtime cannot deploy: %s", strings.Join(unsupported, ", "))
	}

	d.rolePolicies = map[string][]*iam.Policy{}
	busPolicies, err := d.collectBusPolicies()
	if err != nil {
		return err
	}
	steps := []step{
		{"AWS::IAM::Policy", d.policy},
		{"AWS::IAM::Role", d.role},
		{"AWS::DynamoDB::Table", d.table},
		{"AWS::S3::Bucket", d.bucket},
		{"AWS::S3::BucketPolicy", d.bucketPolicy},
		{"AWS::Events::EventBus", func(ctx context.Context, s *cfn.Stack, id string) error { return d.bus(s, id, busPolicies) }},
		{"AWS::CodeBuild::Project", d.project},
		{"AWS::Lambda::Function", d.function},
		{"AWS::Events::Rule", d.rule},
		{"AWS::Events::Archive", d.archive},
		{"AWS::StepFunctions::StateMachine", d.stateMachine},
	}
	for _, st := range steps {
		if st.typ == "AWS::Lambda::Function" {
			if err := d.functions(ctx); err != nil {
				return err
			}
			continue
		}
		for _, s := range d.w.Stacks {
			for _, id := range s.ResourcesOfType(st.typ) {
				if err := st.do(ctx, s, id); err != nil {
					return fmt.Errorf("deploy %s/%s: %w", s.Name, id, err)
				}
			}
		}
	}
	// Queues are not emulated; their messages are the EventBridge stand-in's dead letters,
	// whose depth the SQS stand-in reports.
	for _, s := range d.w.Stacks {
		for _, id := range s.ResourcesOfType("AWS::SQS::Queue") {
			name, err := s.PhysicalName(id)
			if err != nil {
				return fmt.Errorf("deploy %s/%s: %w", s.Name, id, err)
			}
			arn, err := s.GetAtt(id, "Arn")
			if err != nil {
				return fmt.Errorf("deploy %s/%s: %w", s.Name, id, err)
			}
			d.w.SQS.AddQueue(sqs.Queue{ARN: arn, Name: name, Account: s.Account, Region: s.Region})
		}
	}
	d.w.STS.IdentityPolicies = func(roleARN string) []*iam.Policy { return d.rolePolicies[roleARN] }
	d.w.S3.SetIdentityPolicies(d.s3IdentityPolicies)
	return nil
}

// decode resolves a resource's properties into v.
func decode(s *cfn.Stack, id string, v any) error {
	props, err := s.Properties(id)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(props)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

func (d *deployer) policy(_ context.Context, s *cfn.Stack, id string) error {
	var p struct {
		PolicyDocument json.RawMessage
		Roles          []string
	}
	if err := decode(s, id, &p); err != nil {
		return err
	}
	doc, err := iam.Parse(p.PolicyDocument)
	if err != nil {
		return fmt.Errorf("policy document: %w", err)
	}
	for _, name := range p.Roles {
		arn := fmt.Sprintf("arn:%s:iam::%s:role/%s", s.Partition, s.Account, name)
		d.rolePolicies[arn] = append(d.rolePolicies[arn], doc)
	}
	return nil
}

func (d *deployer) role(_ context.Context, s *cfn.Stack, id string) error {
	var p struct {
		AssumeRolePolicyDocument json.RawMessage
		MaxSessionDuration       int
		Policies                 []struct{ PolicyDocument json.RawMessage }
	}
	if err := decode(s, id, &p); err != nil {
		return err
	}
	arn, err := s.GetAtt(id, "Arn")
	if err != nil {
		return err
	}
	trust, err := iam.Parse(p.AssumeRolePolicyDocument)
	if err != nil {
		return fmt.Errorf("trust policy: %w", err)
	}
	for i, inline := range p.Policies {
		doc, err := iam.Parse(inline.PolicyDocument)
		if err != nil {
			return fmt.Errorf("Policies[%d]: %w", i, err)
		}
		d.rolePolicies[arn] = append(d.rolePolicies[arn], doc)
	}
	return d.w.STS.AddRole(sts.Role{ARN: arn, Account: s.Account, Trust: trust, TrustDocument: p.AssumeRolePolicyDocument,
		MaxSession: time.Duration(p.MaxSessionDuration) * time.Second})
}

func (d *deployer) table(ctx context.Context, s *cfn.Stack, id string) error {
	var p struct {
		TableName              string
		KeySchema              []dbtypes.KeySchemaElement
		AttributeDefinitions   []dbtypes.AttributeDefinition
		BillingMode            dbtypes.BillingMode
		GlobalSecondaryIndexes []struct {
			IndexName  string
			KeySchema  []dbtypes.KeySchemaElement
			Projection dbtypes.Projection
		}
	}
	if err := decode(s, id, &p); err != nil {
		return err
	}
	name, err := s.PhysicalName(id)
	if err != nil {
		return err
	}
	in := &dynamodb.CreateTableInput{TableName: aws.String(name), KeySchema: p.KeySchema,
		AttributeDefinitions: p.AttributeDefinitions, BillingMode: dbtypes.BillingModePayPerRequest}
	for _, g := range p.GlobalSecondaryIndexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, dbtypes.GlobalSecondaryIndex{
			IndexName: aws.String(g.IndexName), KeySchema: g.KeySchema, Projection: &g.Projection})
	}
	client := dynamodb.NewFromConfig(d.w.Operator(s.Account, s.Region))
	if _, err := client.CreateTable(ctx, in); err != nil {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	return nil
}

// bucket creates a bucket owned by the stack's account. Encryption and lifecycle rules are
// recorded as given (the stand-in reports them and does not apply them).
func (d *deployer) bucket(_ context.Context, s *cfn.Stack, id string) error {
	var p struct {
		BucketEncryption        json.RawMessage
		LifecycleConfiguration  json.RawMessage
		VersioningConfiguration struct{ Status string }
	}
	if err := decode(s, id, &p); err != nil {
		return err
	}
	name, err := s.PhysicalName(id)
	if err != nil {
		return err
	}
	return d.w.S3.CreateBucket(s3.Bucket{
		Name: name, Account: s.Account, Region: s.Region, Partition: s.Partition,
		Versioning: p.VersioningConfiguration.Status == "Enabled",
		Encryption: p.BucketEncryption, Lifecycle: p.LifecycleConfiguration,
	})
}

func (d *deployer) bucketPolicy(_ context.Context, s *cfn.Stack, id string) error {
	var p struct {
		Bucket         string
		PolicyDocument json.RawMessage
	}
	if err := decode(s, id, &p); err != nil {
		return err
	}
	b, ok := d.w.S3.Bucket(p.Bucket)
	switch {
	case !ok:
		return fmt.Errorf("bucket %q is not deployed by these templates", p.Bucket)
	case b.Account != s.Account:
		return fmt.Errorf("bucket %s belongs to account %s: only its owner can set its policy", p.Bucket, b.Account)
	case len(b.Policy) > 0:
		return fmt.Errorf("bucket %s already has a policy: S3 keeps one per bucket, so two AWS::S3::BucketPolicy resources would replace each other", p.Bucket)
	}
	return d.w.S3.SetBucketPolicy(p.Bucket, p.PolicyDocument)
}

// collectBusPolicies gathers the statements of every bus policy, by bus ARN.
func (d *deployer) collectBusPolicies() (map[string][]json.RawMessage, error) {
	out := map[string][]json.RawMessage{}
	for _, s := range d.w.Stacks {
		for _, id := range s.ResourcesOfType("AWS::Events::EventBusPolicy") {
			var p struct {
				EventBusName string
				Statement    json.RawMessage
				StatementId  string
				Action       string
				Principal    string
				Condition    json.RawMessage
			}
			if err := decode(s, id, &p); err != nil {
				return nil, fmt.Errorf("deploy %s/%s: %w", s.Name, id, err)
			}
			bus := p.EventBusName
			if bus == "" {
				bus = "default"
			}
			arn := fmt.Sprintf("arn:%s:events:%s:%s:event-bus/%s", s.Partition, s.Region, s.Account, bus)
			stmt := p.Statement
			if len(stmt) == 0 {
				// The older form: one account (or *) allowed to put events.
				principal := "*"
				if p.Principal != "*" {
					principal = fmt.Sprintf("arn:%s:iam::%s:root", s.Partition, p.Principal)
				}
				m := map[string]any{"Sid": p.StatementId, "Effect": "Allow", "Action": p.Action,
					"Principal": map[string]any{"AWS": principal}, "Resource": arn}
				if len(p.Condition) > 0 {
					m["Condition"] = p.Condition
				}
				stmt, _ = json.Marshal(m)
			}
			out[arn] = append(out[arn], stmt)
		}
	}
	return out, nil
}

func (d *deployer) bus(s *cfn.Stack, id string, policies map[string][]json.RawMessage) error {
	var p struct {
		Name   string
		Policy json.RawMessage
	}
	if err := decode(s, id, &p); err != nil {
		return err
	}
	arn, err := s.GetAtt(id, "Arn")
	if err != nil {
		return err
	}
	stmts := policies[arn]
	if len(p.Policy) > 0 {
		var doc struct{ Statement json.RawMessage }
		if err := json.Unmarshal(p.Policy, &doc); err != nil {
			return fmt.Errorf("bus policy: %w", err)
		}
		stmts = append(stmts, doc.Statement)
	}
	var policy json.RawMessage
	if len(stmts) > 0 {
		var all []json.RawMessage
		for _, st := range stmts {
			if len(st) > 0 && st[0] == '[' {
				var list []json.RawMessage
				if err := json.Unmarshal(st, &list); err != nil {
					return err
				}
				all = append(all, list...)
				continue
			}
			all = append(all, st)
		}
		policy, _ = json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": all})
	}
	return d.w.Events.AddBus(eventbridge.Bus{Account: s.Account, Region: s.Region, Name: p.Name, Policy: policy})
}

func (d *deployer) project(_ context.Context, s *cfn.Stack, id string) error {
	var p struct {
		Name   string
		Source struct {
			Type      string
			BuildSpec string
		}
		Environment struct {
			Image                string
			ComputeType          string
			EnvironmentVariables []codebuild.EnvVar
		}
		TimeoutInMinutes       int
		QueuedTimeoutInMinutes int
	}
	if err := decode(s, id, &p); err != nil {
		return err
	}
	name, err := s.PhysicalName(id)
	if err != nil {
		return err
	}
	return d.w.CodeBuild.AddProject(codebuild.Project{
		Account: s.Account, Region: s.Region, Name: name, Buildspec: p.Source.BuildSpec,
		Environment: p.Environment.EnvironmentVariables, TimeoutInMinutes: p.TimeoutInMinutes,
		QueuedTimeoutInMinutes: p.QueuedTimeoutInMinutes, SourceType: p.Source.Type,
		Image: p.Environment.Image, ComputeType: p.Environment.ComputeType,
	})
}

// functions starts every function at once: each waits for its emulators to come up.
func (d *deployer) functions(ctx context.Context) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, s := range d.w.Stacks {
		for _, id := range s.ResourcesOfType("AWS::Lambda::Function") {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := d.function(ctx, s, id); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("deploy %s/%s: %w", s.Name, id, err))
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (d *deployer) function(_ context.Context, s *cfn.Stack, id string) error {
	var p struct {
		Role          string
		Timeout       int
		MemorySize    int
		Environment   struct{ Variables map[string]string }
		TracingConfig struct{ Mode string }
	}
	if err := decode(s, id, &p); err != nil {
		return err
	}
	name, err := s.PhysicalName(id)
	if err != nil {
		return err
	}
	short, ok := strings.CutPrefix(name, d.opts.FunctionPrefix)
	if !ok {
		return fmt.Errorf("function %s: its name lacks the prefix %q, so no build of it is known", name, d.opts.FunctionPrefix)
	}
	bootstrap := filepath.Join(d.opts.Functions, short, "bootstrap")
	if _, err := os.Stat(bootstrap); err != nil {
		return fmt.Errorf("function %s: no host build at %s (build the functions for this machine first)", name, bootstrap)
	}
	roleName := p.Role[strings.LastIndex(p.Role, "/")+1:]
	creds := d.w.IDs.Temporary(localaws.Principal{
		Account: s.Account,
		ARN:     fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", s.Partition, s.Account, roleName, name),
		RoleARN: p.Role,
	}, 12*time.Hour)
	env := map[string]string{}
	for k, v := range p.Environment.Variables {
		env[k] = v
	}
	env["AWS_ENDPOINT_URL"] = d.w.Endpoint
	env["AWS_ACCESS_KEY_ID"] = creds.AccessKeyID
	env["AWS_SECRET_ACCESS_KEY"] = creds.SecretAccessKey
	env["AWS_SESSION_TOKEN"] = creds.SessionToken
	if p.TracingConfig.Mode == "Active" {
		// Lambda's sandbox offers the X-Ray daemon on UDP; so does the world.
		env["AWS_XRAY_DAEMON_ADDRESS"] = d.w.XRay.Address()
	}
	timeout := time.Duration(p.Timeout) * time.Second
	if timeout == 0 {
		timeout = 3 * time.Second
	}
	// The emulators belong to the world, not to the deploy call's context.
	return d.w.Lambda.Add(context.Background(), lambda.Function{
		Name: name, Account: s.Account, Region: s.Region, Bootstrap: bootstrap, Env: env,
		Timeout: timeout, MemoryMB: p.MemorySize, Concurrency: d.opts.Concurrency,
		ActiveTracing: p.TracingConfig.Mode == "Active",
	})
}

func (d *deployer) rule(_ context.Context, s *cfn.Stack, id string) error {
	var p struct {
		EventBusName       string
		EventPattern       json.RawMessage
		ScheduleExpression string
		State              string
		Targets            []struct {
			Id, Arn, RoleArn, Input, InputPath string
			RetryPolicy                        *struct {
				MaximumRetryAttempts     *int
				MaximumEventAgeInSeconds int
			}
			DeadLetterConfig struct{ Arn string }
		}
	}
	if err := decode(s, id, &p); err != nil {
		return err
	}
	name, err := s.PhysicalName(id)
	if err != nil {
		return err
	}
	bus := p.EventBusName
	if i := strings.LastIndex(bus, "/"); strings.HasPrefix(bus, "arn:") && i >= 0 {
		bus = bus[i+1:]
	}
	if bus == "" {
		bus = eventbridge.DefaultBus
	}
	pattern := p.EventPattern
	if len(pattern) > 0 && pattern[0] == '"' {
		// A pattern given as a JSON string.
		var str string
		if err := json.Unmarshal(pattern, &str); err != nil {
			return err
		}
		pattern = json.RawMessage(str)
	}
	rule := eventbridge.Rule{Account: s.Account, Region: s.Region, Bus: bus, Name: name, Pattern: pattern,
		Schedule: p.ScheduleExpression, State: p.State}
	for _, t := range p.Targets {
		tg := eventbridge.Target{ID: t.Id, ARN: t.Arn, RoleARN: t.RoleArn, Input: t.Input, InputPath: t.InputPath,
			DeadLetterARN: t.DeadLetterConfig.Arn}
		if t.RetryPolicy != nil {
			if t.RetryPolicy.MaximumRetryAttempts != nil {
				tg.MaxRetryAttempts = *t.RetryPolicy.MaximumRetryAttempts
				if tg.MaxRetryAttempts == 0 {
					tg.MaxRetryAttempts = eventbridge.NoRetries
				}
			}
			tg.MaxEventAge = time.Duration(t.RetryPolicy.MaximumEventAgeInSeconds) * time.Second
		}
		rule.Targets = append(rule.Targets, tg)
	}
	return d.w.Events.AddRule(rule)
}

func (d *deployer) archive(_ context.Context, s *cfn.Stack, id string) error {
	var p struct {
		SourceArn    string
		EventPattern json.RawMessage
	}
	if err := decode(s, id, &p); err != nil {
		return err
	}
	name, err := s.PhysicalName(id)
	if err != nil {
		return err
	}
	bus := p.SourceArn[strings.LastIndex(p.SourceArn, "/")+1:]
	return d.w.Events.AddArchive(s.Account, s.Region, bus, name, p.EventPattern)
}

func (d *deployer) stateMachine(ctx context.Context, s *cfn.Stack, id string) error {
	var p struct {
		DefinitionString        string
		Definition              json.RawMessage
		DefinitionSubstitutions map[string]string
		RoleArn                 string
		StateMachineType        string
		TracingConfiguration    struct{ Enabled bool }
	}
	if err := decode(s, id, &p); err != nil {
		return err
	}
	name, err := s.PhysicalName(id)
	if err != nil {
		return err
	}
	def := p.DefinitionString
	if def == "" {
		def = string(p.Definition)
	}
	for k, v := range p.DefinitionSubstitutions {
		def = strings.ReplaceAll(def, "${"+k+"}", v)
	}
	client := sfn.NewFromConfig(d.w.Operator(s.Account, s.Region))
	out, err := client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String(name), Definition: aws.String(def), RoleArn: aws.String(p.RoleArn),
	})
	if err != nil {
		return fmt.Errorf("create state machine %s: %w", name, err)
	}
	d.w.StateMachines[name] = aws.ToString(out.StateMachineArn)
	if p.TracingConfiguration.Enabled {
		d.w.traceMu.Lock()
		d.w.traced[aws.ToString(out.StateMachineArn)] = true
		d.w.traceMu.Unlock()
	}
	return nil
}
