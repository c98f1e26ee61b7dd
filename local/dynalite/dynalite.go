// Package dynalite runs the local DynamoDB emulator (the pinned npm package dynalite) on a
// free port of 127.0.0.1, in its own process group so that stopping it stops everything
// it started.
package dynalite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/crossbuild/crossbuild/internal/toolpath"
)

const (
	startTimeout = 10 * time.Second // until dynalite answers ListTables
	stopTimeout  = 5 * time.Second  // until the killed process group is reaped
	pollInterval = 50 * time.Millisecond
)

// Server is one running dynalite process.
type Server struct {
	Endpoint string
	PID      int // also the process group id
	stop     func()
}

// Stop kills the whole process group (node may start children) and reaps it. It may be
// called more than once.
func (s *Server) Stop() { s.stop() }

// Start runs dynalite and waits, bounded, until it serves requests. Its output goes to out
// (and into the error when it does not start).
func Start(bin string, out io.Writer) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
	buf := &syncBuffer{}
	var w io.Writer = buf
	if out != nil {
		w = io.MultiWriter(buf, out)
	}
	cmd.Stdout, cmd.Stderr = w, w
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
	if err := waitReady(endpoint, exited); err != nil {
		stop()
		return nil, fmt.Errorf("%w; output: %s", err, buf.String())
	}
	return &Server{Endpoint: endpoint, PID: cmd.Process.Pid, stop: stop}, nil
}

func waitReady(endpoint string, exited <-chan struct{}) error {
	client := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDPROBE", SecretAccessKey: "probe"}, nil
		}),
		RetryMaxAttempts: 1,
	})
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

// Binary returns the path of the pinned dynalite executable (see toolpath.NpmTool).
func Binary() (string, error) { return toolpath.NpmTool("dynalite") }

// syncBuffer collects the emulator's output; exec writes to it from its own goroutines.
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
