// Command starter assumes a role in a target account, starts a CodeBuild build there and
// records the Step Functions task token that the build's completion will close.
package main

import (
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/crossbuild/crossbuild/internal/assume"
	"github.com/crossbuild/crossbuild/internal/coldstart"
	"github.com/crossbuild/crossbuild/internal/completion"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/metrics"
	"github.com/crossbuild/crossbuild/internal/target"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

func main() {
	cfg, err := loadConfig(os.LookupEnv)
	env := coldstart.Setup("starter", err)

	store := tokenstore.New(dynamodb.NewFromConfig(env.AWS), cfg.Table)
	rec := metrics.New(os.Stdout, "starter")
	h := &Handler{
		Parser: target.Parser{Mapping: cfg.Mapping, ReservedPrefix: cfg.CorrelationPrefix, Names: cfg.Names},
		Allow:  cfg.Allow,
		Roles:  assume.NewRoles(sts.NewFromConfig(env.AWS), cfg.ExternalID, cfg.SessionDuration),
		CodeBuild: func(region string, creds aws.CredentialsProvider) CodeBuildAPI {
			return codebuild.NewFromConfig(env.AWS, func(o *codebuild.Options) {
				o.Region = region
				o.Credentials = creds
			})
		},
		Store:               store,
		Finisher:            &completion.Completer{SFN: sfn.NewFromConfig(env.AWS), Store: store, Log: env.Log, Metrics: rec},
		Log:                 env.Log,
		Metrics:             rec,
		CorrelationPrefix:   cfg.CorrelationPrefix,
		DefaultPollInterval: cfg.DefaultPollInterval,
		RecordTTL:           cfg.RecordTTL,
		Lease:               cfg.Lease,
		Now:                 time.Now,
	}
	lambda.Start(failure.Report(tracing.Wrap(env.Tracing, "starter", h.Handle)))
}
