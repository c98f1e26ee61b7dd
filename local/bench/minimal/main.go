// Command minimal is the smallest aws-lambda-go function: the baseline the benchmark
// compares crossbuild's functions' cold starts against, built the same way.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, json.RawMessage) (string, error) { return "ok", nil })
}
