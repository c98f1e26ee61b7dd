// Package dynalitetest starts a local DynamoDB emulator (dynalite) for tests.
//
// The dynalite binary comes from the project's pinned npm tools: $CROSSBUILD_NPM_BIN, as the
// Makefile exports it, or else tools/npm/node_modules/.bin under the module root. A
// missing binary fails the test with a hint instead of skipping it, so that a test run
// never passes by testing nothing; -short skips these tests.
package dynalitetest

import (
	"context"
	"github.com/crossbuild/crossbuild/internal/awstest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/crossbuild/crossbuild/internal/toolpath"
	"github.com/crossbuild/crossbuild/local/dynalite"
)

const (
	tableTimeout = 10 * time.Second // until a created table is ACTIVE
	startTries   = 3                // a free port can be taken by someone else before use
	pollInterval = 50 * time.Millisecond
)

// Start starts dynalite on a free port of 127.0.0.1 for the duration of the test and
// returns a client for it. The process group is killed in t.Cleanup.
func Start(t testing.TB) *dynamodb.Client {
	t.Helper()
	return NewClient(StartEndpoint(t))
}

// StartEndpoint starts dynalite like Start and returns its endpoint URL, for tests that
// build their own clients.
func StartEndpoint(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("dynalite tests skipped in -short mode")
	}
	bin, err := Binary()
	if err != nil {
		t.Fatalf("%s", toolpath.Missing("dynalite", toolpath.InstallHint, err))
	}
	var lastErr error
	for range startTries {
		srv, err := dynalite.Start(bin, nil)
		if err == nil {
			t.Cleanup(srv.Stop)
			return srv.Endpoint
		}
		lastErr = err
	}
	t.Fatalf("dynalite: %v", lastErr)
	return ""
}

// NewClient returns a DynamoDB client for endpoint with static test credentials and no
// retries, so that a test sees every error as it happened.
func NewClient(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "test-secret", Source: "dynalitetest"}, nil
		}),
		RetryMaxAttempts: 1,
		HTTPClient:       awstest.HTTPClient(),
	})
}

// CreateTable creates a table and waits, bounded, until it is ACTIVE.
func CreateTable(t testing.TB, client *dynamodb.Client, input *dynamodb.CreateTableInput) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), tableTimeout)
	defer cancel()
	if _, err := client.CreateTable(ctx, input); err != nil {
		t.Fatalf("create table %s: %v", aws.ToString(input.TableName), err)
	}
	for {
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: input.TableName})
		if err == nil && out.Table != nil && out.Table.TableStatus == types.TableStatusActive && indexesActive(out.Table) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("table %s not ACTIVE after %s (last error: %v)", aws.ToString(input.TableName), tableTimeout, err)
		case <-time.After(pollInterval):
		}
	}
}

func indexesActive(td *types.TableDescription) bool {
	for _, g := range td.GlobalSecondaryIndexes {
		if g.IndexStatus != "" && g.IndexStatus != types.IndexStatusActive {
			return false
		}
	}
	return true
}

// Binary returns the path of the dynalite executable.
func Binary() (string, error) { return toolpath.NpmTool("dynalite") }
