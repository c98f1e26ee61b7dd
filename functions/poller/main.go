// Command poller reports the status of a build in a target account through the target
// role: the polling branch of the state machine, and its fallback when events stop.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/crossbuild/crossbuild/internal/assume"
	"github.com/crossbuild/crossbuild/internal/logging"
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
	tp, err := tracing.Setup(ctx, "crossbuild-poller")
	if err != nil {
		log.Error("tracing setup", "error", err.Error())
		os.Exit(1)
	}
	tracing.InstrumentSDK(&awsCfg)

	h := &Handler{
		Allow: cfg.Allow,
		Roles: assume.NewRoles(sts.NewFromConfig(awsCfg), cfg.ExternalID, cfg.SessionDuration),
		CodeBuild: func(region string, creds aws.CredentialsProvider) CodeBuildAPI {
			return codebuild.NewFromConfig(awsCfg, func(o *codebuild.Options) {
				o.Region = region
				o.Credentials = creds
			})
		},
		Store:               tokenstore.New(dynamodb.NewFromConfig(awsCfg), cfg.Table),
		Log:                 log,
		DefaultPollInterval: cfg.DefaultPollInterval,
	}
	lambda.Start(tracing.Wrap(tp, "poller", h.Handle))
}
