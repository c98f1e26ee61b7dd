// Command callback receives CodeBuild build events from the source event bus and completes
// the Step Functions task of each build: a heartbeat on progress, success or failure when
// the build ends.
package main

import (
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/crossbuild/crossbuild/internal/coldstart"
	"github.com/crossbuild/crossbuild/internal/completion"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/metrics"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

func main() {
	cfg, err := loadConfig(os.LookupEnv)
	env := coldstart.Setup("callback", err)

	store := tokenstore.New(dynamodb.NewFromConfig(env.AWS), cfg.Table)
	sfnClient := sfn.NewFromConfig(env.AWS)
	rec := metrics.New(os.Stdout, "callback")
	h := &Handler{
		Store:    store,
		SFN:      sfnClient,
		Finisher: &completion.Completer{SFN: sfnClient, Store: store, Log: env.Log, Metrics: rec},
		Allow:    cfg.Allow,
		Lease:    cfg.Lease,
		ParkTTL:  cfg.ParkTTL,
		Log:      env.Log,
		Metrics:  rec,
		Now:      time.Now,
	}
	lambda.Start(failure.Report(tracing.Wrap(env.Tracing, "callback", h.Invoke)))
}
