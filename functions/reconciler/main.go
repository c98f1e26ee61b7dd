// Command reconciler runs on a schedule and completes the Step Functions tasks whose build
// ended while its completion was lost (an event that never came, a callback that died), so a
// lost completion costs minutes instead of the heartbeat timeout. It also closes the records,
// and stops the builds, of executions that ended without the canceller doing so.
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
	"github.com/crossbuild/crossbuild/internal/tokenstore"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

// margin is the time kept back from the invocation's deadline to finish the records under way.
const margin = 15 * time.Second

func main() {
	cfg, err := loadConfig(os.LookupEnv)
	env := coldstart.Setup("reconciler", err)

	store := tokenstore.New(dynamodb.NewFromConfig(env.AWS), cfg.Table)
	sfnClient := sfn.NewFromConfig(env.AWS)
	rec := metrics.New(os.Stdout, "reconciler")
	h := &Handler{
		Store:    store,
		Finisher: &completion.Completer{SFN: SendRecorder{sfnClient}, Store: store, Log: env.Log, Metrics: rec},
		SFN:      sfnClient,
		Roles:    assume.NewRoles(sts.NewFromConfig(env.AWS), cfg.ExternalID, cfg.SessionDuration),
		CodeBuild: func(region string, creds aws.CredentialsProvider) CodeBuildAPI {
			return codebuild.NewFromConfig(env.AWS, func(o *codebuild.Options) {
				o.Region = region
				o.Credentials = creds
			})
		},
		Allow:           cfg.Allow,
		StateMachineARN: cfg.StateMachineARN,
		After:           cfg.After,
		Lease:           cfg.Lease,
		Limit:           cfg.Limit,
		Concurrency:     cfg.Concurrency,
		Margin:          margin,
		Log:             env.Log,
		Metrics:         rec,
		Now:             time.Now,
	}
	lambda.Start(failure.Report(tracing.Wrap(env.Tracing, "reconciler", h.Invoke)))
}
