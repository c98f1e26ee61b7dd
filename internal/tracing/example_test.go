package tracing_test

import (
	"context"
	"log"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

type startRequest struct{ ExecutionArn string }
type buildDescriptor struct{ BuildArn, TraceID string }

// How a function's main.go wires tracing: Setup once at cold start, InstrumentSDK on the
// config every client is built from, Wrap around the handler given to lambda.Start.
func ExampleWrap() {
	ctx := context.Background()
	tp, err := tracing.Setup(ctx, "starter")
	if err != nil {
		log.Fatal(err)
	}
	cfg := aws.Config{Region: "eu-west-1"} // config.LoadDefaultConfig in a real main
	tracing.InstrumentSDK(&cfg)

	handler := tracing.Wrap(tp, "starter", func(ctx context.Context, in startRequest) (buildDescriptor, error) {
		tracing.Annotate(ctx, tracing.KeyExecutionARN, in.ExecutionArn)
		// ... assume the role, start the build with clients built from cfg ...
		out := buildDescriptor{BuildArn: "arn:aws:codebuild:eu-west-1:222222222222:build/p:1"}
		tracing.Annotate(ctx, tracing.KeyBuildARN, out.BuildArn)
		out.TraceID = tracing.TraceID(ctx) // stored in the token record for the callback's Link
		return out, nil
	})
	_ = handler // lambda.Start(handler)
}
