// Package dynalitetest starts a local DynamoDB emulator (dynalite) for tests.
//
// The dynalite binary comes from the project's pinned npm tools: $CROSSBUILD_NPM_BIN, as the
// Makefile exports it, or else tools/npm/node_modules/.bin under the module root. A
// missing binary fails the test with a hint instead of skipping it, so that a test run
// never passes by testing nothing; -short skips these tests.
package dynalitetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// EnvNpmBin names the folder holding the npm tools' executables.
const EnvNpmBin = "CROSSBUILD_NPM_BIN"

const (
	startTimeout = 10 * time.Second // until dynalite answers ListTables
	tableTimeout = 10 * time.Second // until a created table is ACTIVE
	stopTimeout  = 5 * time.Second  // until the killed process group is reaped
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
		t.Fatalf("dynalite: %v; run `make tools`", err)
	}
	var lastErr error
	for range startTries {
		srv, err := start(bin)
		if err == nil {
			t.Cleanup(srv.stop)
			return srv.endpoint
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
func Binary() (string, error) {
	dir := os.Getenv(EnvNpmBin)
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "tools", "npm", "node_modules", ".bin")
	}
	bin := filepath.Join(dir, "dynalite")
	info, err := os.Stat(bin)
	if err != nil {
		return "", fmt.Errorf("no dynalite executable: %w", err)
	}
	if info.IsDir() || info.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file", bin)
	}
	return bin, nil
}

// moduleRoot walks up from the working directory (a test's package folder) to go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// server is one running dynalite process.
type server struct {
	endpoint string
	pid      int    // also the process group id
	stop     func() // kills the whole process group (node may start children) and reaps it
}

// start runs one dynalite process and waits until it serves requests.
func start(bin string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit status of a killed emulator says nothing
		close(exited)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			killProcessGroup(cmd)
			select {
			case <-exited:
			case <-time.After(stopTimeout):
			}
		})
	}

	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := waitReady(NewClient(endpoint), exited); err != nil {
		stop()
		return nil, fmt.Errorf("%w; output: %s", err, out.String())
	}
	return &server{endpoint: endpoint, pid: cmd.Process.Pid, stop: stop}, nil
}

func waitReady(client *dynamodb.Client, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var lastErr error
	for {
		callCtx, callCancel := context.WithTimeout(ctx, time.Second)
		_, err := client.ListTables(callCtx, &dynamodb.ListTablesInput{})
		callCancel()
		if err == nil {
			return nil
		}
		lastErr = err
		select {
		case <-exited:
			return errors.New("dynalite exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("dynalite not ready after %s: %w", startTimeout, lastErr)
		case <-time.After(pollInterval):
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer collects the emulator's output for error messages; exec writes to it from
// its own goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
