// Command starter assumes a role in a target account, starts a CodeBuild build there and
// records the Step Functions task token that the build's completion will close.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/crossbuild/crossbuild/internal/assume"
	"github.com/crossbuild/crossbuild/internal/completion"
	"github.com/crossbuild/crossbuild/internal/logging"
	"github.com/crossbuild/crossbuild/internal/metrics"
	"github.com/crossbuild/crossbuild/internal/target"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

func main() {
	log := logging.New()
	cfg, err := loadConfig(os.LookupEnv)
	if err != nil {
		log.Error("invalid configuration", "error", err.Error())
		os.Exit(1)
	}
	ctx := context.Background()
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		log.Error("load AWS configuration", "error", err.Error())
		os.Exit(1)
	}
	tp, err := tracing.Setup(ctx, "crossbuild-starter")
	if err != nil {
		log.Error("tracing setup", "error", err.Error())
		os.Exit(1)
	}
	tracing.InstrumentSDK(&awsCfg)

	store := tokenstore.New(dynamodb.NewFromConfig(awsCfg), cfg.Table)
	h := &Handler{
		Parser: target.Parser{Mapping: cfg.Mapping, ReservedPrefix: cfg.CorrelationPrefix},
		Allow:  cfg.Allow,
		Roles:  assume.NewRoles(sts.NewFromConfig(awsCfg), cfg.ExternalID, cfg.SessionDuration),
		CodeBuild: func(region string, creds aws.CredentialsProvider) CodeBuildAPI {
			return codebuild.NewFromConfig(awsCfg, func(o *codebuild.Options) {
				o.Region = region
				o.Credentials = creds
			})
		},
		Store: store,
		Finisher: &completion.Completer{SFN: sfn.NewFromConfig(awsCfg), Store: store, Log: log,
			Metrics: metrics.New(os.Stdout, "starter")},
		Log:                 log,
		CorrelationPrefix:   cfg.CorrelationPrefix,
		DefaultPollInterval: cfg.DefaultPollInterval,
		RecordTTL:           cfg.RecordTTL,
		Now:                 time.Now,
	}
	lambda.Start(tracing.Wrap(tp, "starter", h.Handle))
}
