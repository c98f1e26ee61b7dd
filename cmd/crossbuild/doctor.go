package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/spf13/cobra"

	"github.com/crossbuild/crossbuild/infra/config"
	"github.com/crossbuild/crossbuild/internal/doctor"
)

// defaultTargetRole is the CDK bootstrap's read-only lookup role, which an account
// bootstrapped with --trust (or --trust-for-lookup) of the source account lets it assume.
const defaultTargetRole = "cdk-hnb659fds-lookup-role-{account}-{region}"

type doctorFlags struct {
	contextFile     string
	context         []string
	targetProfiles  []string
	targetRole      string
	sameCredentials bool
	timeout         time.Duration
}

func newDoctorCommand(s *session) *cobra.Command {
	var f doctorFlags
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check a deployed configuration, read-only, for what makes cross-account setups fail",
		Long: `doctor reads the source stack, the source bus, its policy and archive, and in every target
account and Region the target role's trust policy, the projects, the forwarding rule and its
dead-letter queue. It prints PASS or FAIL per check, with a one-line fix under each failure,
and exits non-zero when any check fails. It changes nothing.

The configuration is the CDK context the stacks were deployed with (--context-file, and
--context key=value as with cdk -c). The source account is read with --profile; each target
account through the CDK bootstrap's lookup role (--target-role), a profile of its own
(--target-profile ACCOUNT=PROFILE), or the same credentials (--same-credentials).
--region defaults to crossbuild:sourceRegion here.`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error { return runDoctor(cmd, s, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.contextFile, "context-file", filepath.Join("infra", "cdk.json"), "cdk.json (its \"context\") or a context file")
	fl.StringArrayVar(&f.context, "context", nil, "a context value, key=value, as cdk -c (repeatable)")
	fl.StringArrayVar(&f.targetProfiles, "target-profile", nil, "ACCOUNT=PROFILE: read that target account with its own profile (repeatable)")
	fl.StringVar(&f.targetRole, "target-role", defaultTargetRole, "role to assume in each target account from the source profile; {account} and {region} are replaced")
	fl.BoolVar(&f.sameCredentials, "same-credentials", false, "read every target account with the source credentials")
	fl.DurationVar(&f.timeout, "timeout", 2*time.Minute, "give up after this long")
	return cmd
}

func runDoctor(cmd *cobra.Command, s *session, f doctorFlags) error {
	cfg, err := loadContext(f.contextFile, f.context)
	if err != nil {
		return &usageError{err: err, cmd: cmd.CommandPath()}
	}
	profiles := map[string]string{}
	for _, tp := range f.targetProfiles {
		account, profile, ok := strings.Cut(tp, "=")
		if !ok || account == "" || profile == "" {
			return &usageError{err: fmt.Errorf("--target-profile %q: want ACCOUNT=PROFILE", tp), cmd: cmd.CommandPath()}
		}
		profiles[account] = profile
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	defer cancel()
	region := s.flags.region
	if region == "" {
		region = cfg.SourceRegion
	}
	endpoint := s.endpoint()
	source, err := awsConfig(ctx, s.flags.profile, region, endpoint)
	if err != nil {
		return err
	}
	d := &doctor.Doctor{
		Config: cfg,
		Source: doctor.Source{CloudFormation: cloudformation.NewFromConfig(source), Events: eventbridge.NewFromConfig(source)},
		Target: func(ctx context.Context, account, region string) (doctor.Target, error) {
			var tc aws.Config
			switch profile, ok := profiles[account]; {
			case ok:
				if tc, err = awsConfig(ctx, profile, region, endpoint); err != nil {
					return doctor.Target{}, err
				}
			case f.sameCredentials:
				tc = source.Copy()
				tc.Region = region
			default:
				role := strings.NewReplacer("{account}", account, "{region}", region).Replace(f.targetRole)
				tc = source.Copy()
				tc.Region = region
				tc.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(source),
					fmt.Sprintf("arn:%s:iam::%s:role/%s", cfg.Partition, account, role),
					func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = "crossbuild-doctor" }))
			}
			if _, err := tc.Credentials.Retrieve(ctx); err != nil {
				return doctor.Target{}, err
			}
			return doctor.Target{IAM: iam.NewFromConfig(tc), CodeBuild: codebuild.NewFromConfig(tc),
				Events: eventbridge.NewFromConfig(tc), SQS: sqs.NewFromConfig(tc)}, nil
		},
		AccessFix: "let the doctor read the account: bootstrap it with --trust <source account> (the CDK lookup role), or pass --target-profile ACCOUNT=PROFILE",
	}
	if failed := doctor.Write(cmd.OutOrStdout(), d.Run(ctx)); failed > 0 {
		return &exitError{msg: fmt.Sprintf("%d checks failed", failed), code: exitFailed}
	}
	return nil
}

func awsConfig(ctx context.Context, profile, region, endpoint string) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(region)}
	if profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(profile))
	}
	c, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, &CredentialsError{Err: fmt.Errorf("profile %q: %w", profile, err)}
	}
	if endpoint != "" {
		c.BaseEndpoint = aws.String(endpoint)
	}
	return c, nil
}

// loadContext reads the CDK context: a cdk.json's "context" object, or a context file's
// top-level object, with key=value overrides as cdk -c gives them.
func loadContext(file string, overrides []string) (*config.Config, error) {
	ctx := map[string]any{}
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("context file: %w", err)
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("context file %s: %w", file, err)
		}
		if inner, ok := doc["context"].(map[string]any); ok {
			doc = inner
		}
		ctx = doc
	}
	for _, o := range overrides {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			return nil, fmt.Errorf("--context %q: want key=value", o)
		}
		ctx[k] = v
	}
	return config.Load(func(key string) any { return ctx[key] })
}
