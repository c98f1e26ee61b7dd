// Command fn is the function the lambda package's tests run under the emulator. Its
// request says what to do, so one binary covers every behaviour the tests need.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Request selects the behaviour.
type Request struct {
	Action  string         `json:"action"` // echo (default), error, sleep, exit, barrier
	Message string         `json:"message,omitempty"`
	Millis  int            `json:"millis,omitempty"`
	URL     string         `json:"url,omitempty"`
	Data    map[string]any `json:"data,omitempty"`
}

// Response echoes the request with what the function saw of its environment.
type Response struct {
	Echo            Request           `json:"echo"`
	Env             map[string]string `json:"env"`
	RequestID       string            `json:"requestId"`
	InvokedARN      string            `json:"invokedArn"`
	TraceHeader     string            `json:"traceHeader"`
	DeadlineSeconds float64           `json:"deadlineSeconds"`
	PID             int               `json:"pid"`
}

// MyError is returned on request; the runtime reports its type name as errorType.
type MyError struct{ Reason string }

func (e *MyError) Error() string { return "my error: " + e.Reason }

var envNames = []string{
	"AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
	"AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_REGION", "AWS_DEFAULT_REGION",
	"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "TEMPLATE_VAR", "_X_AMZN_TRACE_ID", "AWS_LAMBDA_RUNTIME_API",
	"HOME", "LAMBDA_TASK_ROOT", "AWS_LAMBDA_FUNCTION_TIMEOUT", "TZ",
}

func handle(ctx context.Context, req Request) (*Response, error) {
	switch req.Action {
	case "error":
		return nil, &MyError{Reason: req.Message}
	case "exit":
		fmt.Println("exiting on request")
		os.Exit(3)
	case "sleep":
		select {
		case <-time.After(time.Duration(req.Millis) * time.Millisecond):
		case <-ctx.Done():
			// Keep sleeping past the deadline, as a hung function would.
			time.Sleep(time.Duration(req.Millis) * time.Millisecond)
		}
	case "barrier":
		// Blocks until the test's barrier has seen every parallel caller.
		hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, req.URL, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(hreq)
		if err != nil {
			return nil, err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, &MyError{Reason: "barrier: " + resp.Status}
		}
	}
	out := &Response{Echo: req, Env: map[string]string{}, PID: os.Getpid()}
	for _, n := range envNames {
		if v, ok := os.LookupEnv(n); ok {
			out.Env[n] = v
		}
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		out.RequestID = lc.AwsRequestID
		out.InvokedARN = lc.InvokedFunctionArn
	}
	if v, ok := ctx.Value("x-amzn-trace-id").(string); ok {
		out.TraceHeader = v
	}
	if d, ok := ctx.Deadline(); ok {
		out.DeadlineSeconds = time.Until(d).Seconds()
	}
	fmt.Printf("function=%s template=%s endpoint=%s\n", out.Env["AWS_LAMBDA_FUNCTION_NAME"], out.Env["TEMPLATE_VAR"], out.Env["AWS_ENDPOINT_URL"])
	return out, nil
}

func main() {
	// A function that refuses its configuration fails at cold start, before serving.
	if msg := os.Getenv("FAIL_INIT"); msg != "" {
		fmt.Fprintln(os.Stderr, "refusing to start:", msg)
		os.Exit(1)
	}
	// A slow initialisation, for the timing the runtime reports.
	if ms, err := strconv.Atoi(os.Getenv("INIT_DELAY_MS")); err == nil {
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	lambda.Start(handle)
}
