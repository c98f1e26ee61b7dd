// Command canceller stops the builds of a crossbuild execution that ended ABORTED,
// TIMED_OUT or FAILED: Step Functions does not stop work it started in other accounts, so
// without it an aborted release would keep building.
package main

import (
	"os"

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
	env := coldstart.Setup("canceller", err)

	h := &Handler{
		StateMachineARN: cfg.StateMachineARN,
		Allow:           cfg.Allow,
		Roles:           assume.NewRoles(sts.NewFromConfig(env.AWS), cfg.ExternalID, cfg.SessionDuration),
		CodeBuild: func(region string, creds aws.CredentialsProvider) CodeBuildAPI {
			return codebuild.NewFromConfig(env.AWS, func(o *codebuild.Options) {
				o.Region = region
				o.Credentials = creds
			})
		},
		Store:       tokenstore.New(dynamodb.NewFromConfig(env.AWS), cfg.Table),
		Concurrency: cfg.Concurrency,
		Log:         env.Log,
		Metrics:     metrics.New(os.Stdout, "canceller"),
	}
	lambda.Start(failure.Report(tracing.Wrap(env.Tracing, "canceller", h.Invoke)))
}
