// Package coldstart does the work every crossbuild function does once, before serving: the
// logger, the AWS SDK configuration and tracing.
package coldstart

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/crossbuild/crossbuild/internal/logging"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

// Env is what a function's main wires its handler with.
type Env struct {
	Log     *slog.Logger
	AWS     aws.Config // SDK configuration, instrumented for tracing
	Tracing *tracing.Provider
}

// Setup prepares a function named service. configErr is the result of reading the
// function's own environment; a function that cannot configure itself must not serve, so
// any failure is logged and the process exits.
func Setup(service string, configErr error) Env {
	log := logging.New()
	fail := func(what string, err error) {
		log.Error(what, "error", err.Error())
		os.Exit(1)
	}
	if configErr != nil {
		fail("invalid configuration", configErr)
	}
	ctx := context.Background()
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		fail("load AWS configuration", err)
	}
	tp, err := tracing.Setup(ctx, "crossbuild-"+service)
	if err != nil {
		fail("tracing setup", err)
	}
	tracing.InstrumentSDK(&cfg)
	return Env{Log: log, AWS: cfg, Tracing: tp}
}
