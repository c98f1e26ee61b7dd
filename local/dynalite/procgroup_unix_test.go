//go:build unix

package dynalite

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

func TestStopKillsProcessGroupAndFreesPort(t *testing.T) {
	if testing.Short() {
		t.Skip("dynalite tests skipped in -short mode")
	}
	bin, err := Binary()
	if err != nil {
		t.Fatalf("dynalite: %v; run `make tools`", err)
	}
	srv, err := Start(bin, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop) // no-op after the explicit stop below, a safety net before it
	client := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""), RetryMaxAttempts: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := client.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("list tables while running: %v", err)
	}

	srv.Stop()
	srv.Stop() // a second stop must be harmless

	if err := syscall.Kill(-srv.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d still exists after stop (signal 0: %v)", srv.PID, err)
	}
	callCtx, callCancel := context.WithTimeout(ctx, time.Second)
	defer callCancel()
	if _, err := client.ListTables(callCtx, &dynamodb.ListTablesInput{}); err == nil {
		t.Error("dynalite still answers after stop")
	}
}
