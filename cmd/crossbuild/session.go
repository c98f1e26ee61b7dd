package main

import (
	"context"
	"errors"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/spf13/pflag"

	"github.com/crossbuild/crossbuild/internal/deployment"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

// envEndpoint names the variable that points crossbuild alone at an endpoint (the SDK's
// AWS_ENDPOINT_URL points every AWS tool there).
const envEndpoint = "CROSSBUILD_ENDPOINT"

// globalFlags are the flags of every command.
type globalFlags struct {
	profile, region, endpoint, stack string
	given                            deployment.Deployment
}

func (g *globalFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&g.profile, "profile", "", "AWS profile (default: the SDK's chain: AWS_PROFILE, environment, ...)")
	fl.StringVar(&g.region, "region", "", "AWS Region of the source stack (default: AWS_REGION or the profile's)")
	fl.StringVar(&g.endpoint, "endpoint", "", "send every request to this endpoint, such as the local runtime's (default: "+envEndpoint+", then AWS_ENDPOINT_URL)")
	fl.StringVar(&g.stack, "stack", "", "the source stack whose outputs name the deployment (default crossbuild-source)")
	fl.StringVar(&g.given.StateMachineARN, "state-machine", "", "state machine ARN (default: the stack's StateMachineArn output)")
	fl.StringVar(&g.given.Bucket, "bucket", "", "runs bucket (default: the stack's RunsBucketName output)")
	fl.StringVar(&g.given.Table, "table", "", "token table (default: the stack's TokenTableName output)")
	fl.StringVar(&g.given.EventBusARN, "event-bus", "", "source bus ARN (default: the stack's EventBusArn output)")
	fl.StringVar(&g.given.DeadLetterQueue, "queue-url", "", "dead-letter queue URL (default: the stack's DeadLetterQueueUrl output)")
}

// session builds the SDK configuration and finds the deployment once per command.
type session struct {
	flags  *globalFlags
	cfg    *aws.Config
	finder *deployment.Finder
}

// CredentialsError: the SDK found no usable credentials.
type CredentialsError struct{ Err error }

func (e *CredentialsError) Error() string { return "no usable AWS credentials: " + e.Err.Error() }
func (e *CredentialsError) Unwrap() error { return e.Err }

// Fix says what to do about it.
func (e *CredentialsError) Fix() string {
	return "pass --profile or set AWS_PROFILE (aws sso login for SSO), or export the keys crossbuild-local serve prints"
}

// RegionError: no Region was configured anywhere.
type RegionError struct{}

func (RegionError) Error() string { return "no AWS Region" }

// Fix says what to do about it.
func (RegionError) Fix() string {
	return "pass --region or set AWS_REGION to the source stack's Region"
}

func (s *session) endpoint() string {
	if s.flags.endpoint != "" {
		return s.flags.endpoint
	}
	return os.Getenv(envEndpoint)
}

// config loads the SDK configuration and checks that it has a Region and credentials.
func (s *session) config(ctx context.Context) (aws.Config, error) {
	if s.cfg != nil {
		return *s.cfg, nil
	}
	var opts []func(*awsconfig.LoadOptions) error
	if s.flags.region != "" {
		opts = append(opts, awsconfig.WithRegion(s.flags.region))
	}
	if s.flags.profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(s.flags.profile))
	}
	c, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, &CredentialsError{Err: err}
	}
	if ep := s.endpoint(); ep != "" {
		c.BaseEndpoint = aws.String(ep)
	}
	if c.Region == "" {
		return aws.Config{}, RegionError{}
	}
	if c.Credentials == nil {
		return aws.Config{}, &CredentialsError{Err: errors.New("none configured")}
	}
	if _, err := c.Credentials.Retrieve(ctx); err != nil {
		return aws.Config{}, &CredentialsError{Err: err}
	}
	s.cfg = &c
	return c, nil
}

// deployment returns the deployment with the fields in need.
func (s *session) deployment(ctx context.Context, need ...deployment.Field) (deployment.Deployment, error) {
	if s.finder == nil {
		cfg, err := s.config(ctx)
		if err != nil {
			return deployment.Deployment{}, err
		}
		s.finder = &deployment.Finder{CloudFormation: cloudformation.NewFromConfig(cfg), Stack: s.flags.stack,
			Given: s.flags.given, Region: cfg.Region}
	}
	return s.finder.Find(ctx, need...)
}

// execution turns what was typed into an execution ARN, reading the stack only for a name.
func (s *session) execution(ctx context.Context, ref string) (string, error) {
	if !deployment.NeedsStateMachine(ref) {
		return deployment.ExecutionARN(ref, "")
	}
	if err := deployment.CheckRef(ref); err != nil {
		return "", err
	}
	d, err := s.deployment(ctx, deployment.StateMachine)
	if err != nil {
		return "", err
	}
	return deployment.ExecutionARN(ref, d.StateMachineARN)
}

// Clients, built from the one configuration.

func (s *session) sfn(ctx context.Context) (*sfn.Client, error) {
	c, err := s.config(ctx)
	if err != nil {
		return nil, err
	}
	return sfn.NewFromConfig(c), nil
}

func (s *session) s3(ctx context.Context) (*s3.Client, error) {
	c, err := s.config(ctx)
	if err != nil {
		return nil, err
	}
	custom := s.endpoint() != "" || c.BaseEndpoint != nil
	return s3.NewFromConfig(c, func(o *s3.Options) {
		// An endpoint such as http://localhost:4566 has no bucket subdomains.
		o.UsePathStyle = custom
		// Result files are written without checksums; the SDK would say so on stderr.
		o.DisableLogOutputChecksumValidationSkipped = true
	}), nil
}

func (s *session) records(ctx context.Context, table string) (*tokenstore.Store, error) {
	c, err := s.config(ctx)
	if err != nil {
		return nil, err
	}
	return tokenstore.New(dynamodb.NewFromConfig(c), table), nil
}

func (s *session) events(ctx context.Context) (*eventbridge.Client, error) {
	c, err := s.config(ctx)
	if err != nil {
		return nil, err
	}
	return eventbridge.NewFromConfig(c), nil
}

func (s *session) sqs(ctx context.Context) (*sqs.Client, error) {
	c, err := s.config(ctx)
	if err != nil {
		return nil, err
	}
	return sqs.NewFromConfig(c), nil
}

func (s *session) lambda(ctx context.Context) (*lambda.Client, error) {
	c, err := s.config(ctx)
	if err != nil {
		return nil, err
	}
	return lambda.NewFromConfig(c), nil
}
