package lambda_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/crossbuild/crossbuild/local/lambda"
	"github.com/crossbuild/crossbuild/local/localaws"
)

// apiClient is an SDK Lambda client signed as the root of account, sent through a
// localaws.Router to the service.
func apiClient(t *testing.T, svc *lambda.Service, ids *localaws.Identities, account string) *awslambda.Client {
	t.Helper()
	router := localaws.NewRouter(ids)
	router.Handle("lambda", svc)
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	creds := ids.LongTerm(localaws.Principal{Account: account, ARN: "arn:aws:iam::" + account + ":root"})
	return awslambda.New(awslambda.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		Retryer:      aws.NopRetryer{},
	})
}

func TestInvokeAPI(t *testing.T) {
	fx := newFixture(t)
	f := fx.add(t, fx.function("api"))
	ids := localaws.NewIdentities()
	client := apiClient(t, fx.svc, ids, testAccount)
	ctx := t.Context()

	t.Run("RequestResponse", func(t *testing.T) {
		for _, name := range []string{"api", f.ARN, testAccount + ":function:api", "api:$LATEST"} {
			out, err := client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"action":"echo"}`)})
			if err != nil {
				t.Fatalf("Invoke %s: %v", name, err)
			}
			if out.StatusCode != http.StatusOK || out.FunctionError != nil || aws.ToString(out.ExecutedVersion) != "$LATEST" {
				t.Errorf("Invoke %s: status %d, function error %v, version %q", name, out.StatusCode, out.FunctionError, aws.ToString(out.ExecutedVersion))
			}
			if !strings.Contains(string(out.Payload), `"invokedArn":"`+f.ARN+`"`) {
				t.Errorf("Invoke %s: payload %s", name, out.Payload)
			}
		}
	})

	t.Run("FunctionError", func(t *testing.T) {
		out, err := client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("api"), Payload: []byte(`{"action":"error","message":"bad"}`)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.FunctionError) != "Unhandled" || out.StatusCode != http.StatusOK {
			t.Errorf("function error header %q, status %d", aws.ToString(out.FunctionError), out.StatusCode)
		}
		if string(out.Payload) != `{"errorMessage":"my error: bad","errorType":"MyError"}` {
			t.Errorf("payload %s", out.Payload)
		}
	})

	t.Run("Event", func(t *testing.T) {
		var hits atomic.Int32
		done := make(chan struct{})
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if hits.Add(1) == 1 {
				close(done)
			}
		}))
		defer hook.Close()
		out, err := client.Invoke(ctx, &awslambda.InvokeInput{
			FunctionName: aws.String("api"), InvocationType: types.InvocationTypeEvent,
			Payload: fmt.Appendf(nil, `{"action":"barrier","url":%q}`, hook.URL),
		})
		if err != nil {
			t.Fatal(err)
		}
		if out.StatusCode != http.StatusAccepted || len(out.Payload) != 0 {
			t.Errorf("Event: status %d, payload %q", out.StatusCode, out.Payload)
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the Event invocation never ran the function")
		}
	})

	t.Run("DryRun", func(t *testing.T) {
		out, err := client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("api"), InvocationType: types.InvocationTypeDryRun})
		if err != nil || out.StatusCode != http.StatusNoContent {
			t.Errorf("DryRun: %v, status %d", err, statusOf(out))
		}
	})

	t.Run("errors", func(t *testing.T) {
		other := apiClient(t, fx.svc, ids, "222222222222")
		var notFound *types.ResourceNotFoundException
		var invalidContent *types.InvalidRequestContentException
		for _, tc := range []struct {
			name   string
			client *awslambda.Client
			in     *awslambda.InvokeInput
			code   string
			target any
		}{
			{"unknown function", client, &awslambda.InvokeInput{FunctionName: aws.String("nope")}, "ResourceNotFoundException", &notFound},
			{"unknown qualifier", client, &awslambda.InvokeInput{FunctionName: aws.String("api"), Qualifier: aws.String("7")}, "ResourceNotFoundException", &notFound},
			{"other Region", client, &awslambda.InvokeInput{FunctionName: aws.String(lambda.FunctionARN("us-east-1", testAccount, "api"))}, "ResourceNotFoundException", &notFound},
			{"payload not JSON", client, &awslambda.InvokeInput{FunctionName: aws.String("api"), Payload: []byte("{")}, "InvalidRequestContentException", &invalidContent},
			{"cross-account by ARN", other, &awslambda.InvokeInput{FunctionName: aws.String(f.ARN)}, "AccessDeniedException", nil},
			{"name in own account", other, &awslambda.InvokeInput{FunctionName: aws.String("api")}, "ResourceNotFoundException", &notFound},
		} {
			_, err := tc.client.Invoke(ctx, tc.in)
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.code {
				t.Errorf("%s: error %v, want %s", tc.name, err, tc.code)
				continue
			}
			if tc.target != nil && !errors.As(err, tc.target) {
				t.Errorf("%s: %v is not the SDK's modelled %s", tc.name, err, tc.code)
			}
		}
	})
}

func statusOf(out *awslambda.InvokeOutput) int {
	if out == nil {
		return 0
	}
	return int(out.StatusCode)
}

func TestInvokeAPIRequiresACaller(t *testing.T) {
	svc := lambda.New(lambda.Options{})
	defer svc.Close()
	for _, tc := range []struct {
		method, path string
		ctx          context.Context
		status       int
		code         string
	}{
		{http.MethodPost, "/2015-03-31/functions/f/invocations", context.Background(), http.StatusForbidden, "MissingAuthenticationTokenException"},
		{http.MethodGet, "/2015-03-31/functions/f/invocations", callerContext(), http.StatusMethodNotAllowed, "UnknownOperationException"},
		{http.MethodGet, "/2015-03-31/functions/f", callerContext(), http.StatusNotFound, "UnknownOperationException"},
		{http.MethodPost, "/2015-03-31/functions/f/invocations", callerContext(), http.StatusNotFound, "ResourceNotFoundException"},
	} {
		req := httptest.NewRequestWithContext(tc.ctx, tc.method, tc.path, strings.NewReader("{}"))
		rec := httptest.NewRecorder()
		svc.ServeHTTP(rec, req)
		if rec.Code != tc.status || rec.Header().Get("X-Amzn-ErrorType") != tc.code {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, rec.Code, rec.Header().Get("X-Amzn-ErrorType"), tc.status, tc.code)
		}
	}
}

func callerContext() context.Context {
	return localaws.WithCaller(context.Background(), localaws.Caller{
		Principal: localaws.Principal{Account: testAccount, ARN: "arn:aws:iam::" + testAccount + ":root"},
		Region:    testRegion, Service: "lambda",
	})
}
