// Command poller reports the status of a build in a target account through the target
// role: the polling branch of the state machine, and its fallback when events stop.
package main

import (
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/crossbuild/crossbuild/internal/assume"
	"github.com/crossbuild/crossbuild/internal/coldstart"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/metrics"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

func main() {
	cfg, err := loadConfig(os.LookupEnv)
	env := coldstart.Setup("poller", err)

	h := &Handler{
		Allow: cfg.Allow,
		Roles: assume.NewRoles(sts.NewFromConfig(env.AWS), cfg.ExternalID, cfg.SessionDuration),
		CodeBuild: func(region string, creds aws.CredentialsProvider) CodeBuildAPI {
			return codebuild.NewFromConfig(env.AWS, func(o *codebuild.Options) {
				o.Region = region
				o.Credentials = creds
			})
		},
		Store:               tokenstore.New(dynamodb.NewFromConfig(env.AWS), cfg.Table),
		Log:                 env.Log,
		Metrics:             metrics.New(os.Stdout, "poller"),
		Now:                 time.Now,
		DefaultPollInterval: cfg.DefaultPollInterval,
		MaxPollInterval:     cfg.MaxPollInterval,
	}
	lambda.Start(failure.Report(tracing.Wrap(env.Tracing, "poller", h.Handle)))
}
