package dynalitetest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/crossbuild/crossbuild/internal/toolpath"
)

func TestStartAndCreateTable(t *testing.T) {
	client := Start(t)
	input := &dynamodb.CreateTableInput{
		TableName:   aws.String("things"),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
	}
	CreateTable(t, client, input)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: input.TableName})
	if err != nil {
		t.Fatalf("describe table: %v", err)
	}
	if out.Table.TableStatus != types.TableStatusActive {
		t.Fatalf("table status = %s, want ACTIVE", out.Table.TableStatus)
	}
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: input.TableName,
		Item:      map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "a"}},
	}); err != nil {
		t.Fatalf("put item: %v", err)
	}
}

// fatalRecorder stands in for a test so that a fatal error can be observed.
type fatalRecorder struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = strings.TrimSpace(fmt.Sprintf(format, args...))
	f.mu.Unlock()
	runtime.Goexit()
}

func TestStartWithoutBinaryFailsWithHint(t *testing.T) {
	if testing.Short() {
		t.Skip("-short skips before looking for the binary")
	}
	t.Setenv(toolpath.EnvNpmBin, t.TempDir())
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		StartEndpoint(rec)
		t.Error("StartEndpoint returned without a binary")
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("StartEndpoint did not fail")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !strings.Contains(rec.msg, "run `make tools`") {
		t.Fatalf("fatal message %q lacks the hint", rec.msg)
	}
}
