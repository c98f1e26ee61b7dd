package dynalitetest

import (
	"context"
	"errors"
	"fmt"
	"github.com/crossbuild/crossbuild/local/dynalite"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
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

func TestBinary(t *testing.T) {
	exe := t.TempDir()
	writeFile(t, filepath.Join(exe, "dynalite"), 0o755)
	notExe := t.TempDir()
	writeFile(t, filepath.Join(notExe, "dynalite"), 0o644)

	root, err := dynalite.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("moduleRoot %s has no go.mod: %v", root, err)
	}

	tests := []struct {
		name    string
		env     string
		want    string
		wantErr bool
	}{
		{name: "from env", env: exe, want: filepath.Join(exe, "dynalite")},
		{name: "env without dynalite", env: t.TempDir(), wantErr: true},
		{name: "not executable", env: notExe, wantErr: true},
		{name: "fallback to module root", env: "", want: filepath.Join(root, "tools", "npm", "node_modules", ".bin", "dynalite")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvNpmBin, tc.env)
			got, err := Binary()
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Binary() = %q, want an error", got)
				}
				return
			}
			if tc.env == "" {
				// The fallback path is right whether or not the tools are installed.
				if err != nil && !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("Binary(): %v", err)
				}
				if err != nil {
					return
				}
			} else if err != nil {
				t.Fatalf("Binary(): %v", err)
			}
			if got != tc.want {
				t.Fatalf("Binary() = %q, want %q", got, tc.want)
			}
		})
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
	t.Setenv(EnvNpmBin, t.TempDir())
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

func writeFile(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\nexit 1\n"), mode); err != nil {
		t.Fatal(err)
	}
}
