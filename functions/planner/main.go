// Command planner checks an execution's input, writes one item per target to the
// deployment's bucket for the Distributed Map, and returns the plan the state machine runs.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/crossbuild/crossbuild/internal/coldstart"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

func main() {
	cfg, err := loadConfig(os.LookupEnv)
	env := coldstart.Setup("planner", err)

	client := s3.NewFromConfig(env.AWS)
	h := &Handler{
		Targets:  client,
		Items:    client,
		Bucket:   cfg.Bucket,
		Defaults: cfg.Defaults,
		Log:      env.Log,
	}
	lambda.Start(failure.Report(tracing.Wrap(env.Tracing, "planner", h.Handle)))
}
