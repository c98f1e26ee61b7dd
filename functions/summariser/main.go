// Command summariser reads the results a Distributed Map exported to the deployment's
// bucket and returns the execution's output: counts, the first failures, where the full
// results are, and whether the run failed.
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
	env := coldstart.Setup("summariser", err)

	client := s3.NewFromConfig(env.AWS)
	h := &Handler{List: client, Objects: client, Bucket: cfg.Bucket, Log: env.Log}
	lambda.Start(failure.Report(tracing.Wrap(env.Tracing, "summariser", h.Handle)))
}
