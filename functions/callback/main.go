// Command callback receives CodeBuild build events from the source event bus and completes
// the Step Functions task of each build: a heartbeat on progress, success or failure when
// the build ends.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/crossbuild/crossbuild/internal/completion"
	"github.com/crossbuild/crossbuild/internal/logging"
	"github.com/crossbuild/crossbuild/internal/metrics"
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
	tp, err := tracing.Setup(ctx, "crossbuild-callback")
	if err != nil {
		log.Error("tracing setup", "error", err.Error())
		os.Exit(1)
	}
	tracing.InstrumentSDK(&awsCfg)

	store := tokenstore.New(dynamodb.NewFromConfig(awsCfg), cfg.Table)
	sfnClient := sfn.NewFromConfig(awsCfg)
	rec := metrics.New(os.Stdout, "callback")
	h := &Handler{
		Store:    store,
		SFN:      sfnClient,
		Finisher: &completion.Completer{SFN: sfnClient, Store: store, Log: log, Metrics: rec},
		Allow:    cfg.Allow,
		Lease:    cfg.Lease,
		ParkTTL:  cfg.ParkTTL,
		Log:      log,
		Metrics:  rec,
		Now:      time.Now,
	}
	lambda.Start(tracing.Wrap(tp, "callback", h.Invoke))
}
