package lambda_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/internal/toolpath"
	"github.com/crossbuild/crossbuild/local/lambda"
)

// Built once per test binary by TestMain.
var (
	rieBinary string // the emulator
	fnBinary  string // testdata/fn
	setupErr  error  // why either could not be built
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lambda-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	setupErr = build(dir)
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func build(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var err error
	if rieBinary, err = lambda.BuildRIE(ctx, filepath.Join(dir, "rie")); err != nil {
		return errors.New(toolpath.Missing("aws-lambda-rie", toolpath.RIEHint, err))
	}
	fnBinary = filepath.Join(dir, "fn", "bootstrap")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", fnBinary, "./testdata/fn")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build testdata/fn: %w: %s", err, out)
	}
	return nil
}

// requireBinaries fails when the emulator or the test function could not be built: the
// tests must not pass having run nothing.
func requireBinaries(t *testing.T) {
	t.Helper()
	if setupErr != nil {
		t.Fatalf("%s", setupErr)
	}
}

const (
	testAccount = "111111111111"
	testRegion  = "eu-west-1"
	markerKey   = "CROSSBUILD_TEST_MARKER"
)

// fixture is one test's service with a marker that every process it starts carries.
type fixture struct {
	svc    *lambda.Service
	logDir string
	marker string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	requireBinaries(t)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	fx := &fixture{logDir: t.TempDir(), marker: hex.EncodeToString(b)}
	fx.svc = lambda.New(lambda.Options{RIEBinary: rieBinary, LogDir: fx.logDir, StartTimeout: 10 * time.Second})
	t.Cleanup(func() {
		if t.Failed() {
			fx.dumpLogs(t)
		}
		if err := fx.svc.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if left := waitGone(fx.marker, 5*time.Second); len(left) > 0 {
			t.Errorf("processes left after Close: %v", left)
		}
	})
	return fx
}

// dumpLogs shows the functions' logs of a failed test.
func (fx *fixture) dumpLogs(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(fx.logDir, "*.log"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		t.Logf("%s:\n%s", filepath.Base(f), b)
	}
}

func (fx *fixture) function(name string) lambda.Function {
	return lambda.Function{
		Name: name, Account: testAccount, Region: testRegion, Bootstrap: fnBinary,
		Timeout: 3 * time.Second, MemoryMB: 256, Concurrency: 1,
		Env: map[string]string{
			"TEMPLATE_VAR":     "from-template",
			"AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
			markerKey:          fx.marker,
		},
	}
}

func (fx *fixture) add(t *testing.T, f lambda.Function) lambda.Function {
	t.Helper()
	if err := fx.svc.Add(t.Context(), f); err != nil {
		t.Fatalf("Add %s: %v", f.Name, err)
	}
	f.ARN = lambda.FunctionARN(f.Region, f.Account, f.Name)
	return f
}

// response mirrors testdata/fn's Response.
type response struct {
	Echo struct {
		Action string         `json:"action"`
		Data   map[string]any `json:"data"`
	} `json:"echo"`
	Env             map[string]string `json:"env"`
	RequestID       string            `json:"requestId"`
	InvokedARN      string            `json:"invokedArn"`
	TraceHeader     string            `json:"traceHeader"`
	DeadlineSeconds float64           `json:"deadlineSeconds"`
	PID             int               `json:"pid"`
}

// invokeOK invokes and requires success.
func invokeOK(t *testing.T, ctx context.Context, svc *lambda.Service, name, payload string) response {
	t.Helper()
	out, fnErr, err := svc.Invoke(ctx, name, []byte(payload))
	if err != nil || fnErr != nil {
		t.Fatalf("Invoke %s %s: err %v, function error %v, payload %s", name, payload, err, fnErr, out)
	}
	var r response
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	return r
}

// processesWith lists live processes whose environment holds markerKey=marker.
func processesWith(marker string) []int {
	want := []byte(markerKey + "=" + marker)
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !bytes.Contains(append(env, 0), append(want, 0)) {
			continue
		}
		if alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// alive is false for a process that is gone or a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// waitGone waits (bounded) until no process carries marker and returns those left.
func waitGone(marker string, limit time.Duration) []int {
	deadline := time.Now().Add(limit)
	for {
		left := processesWith(marker)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exePath is the executable of pid.
func exePath(pid int) string {
	p, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	return p
}

// listeners returns the local addresses of the TCP sockets in LISTEN state that pid holds.
func listeners(t *testing.T, pid int) []string {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil
	}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] {
				continue
			}
			out = append(out, decodeAddr(f[1]))
		}
	}
	return out
}

// decodeAddr turns /proc/net/tcp's "0100007F:1F90" into "127.0.0.1:8080"; IPv6
// addresses are returned as "[ipv6 hex]:port".
func decodeAddr(s string) string {
	host, port, _ := strings.Cut(s, ":")
	p, _ := strconv.ParseUint(port, 16, 16)
	if len(host) != 8 {
		return fmt.Sprintf("[%s]:%d", host, p)
	}
	b, _ := hex.DecodeString(host)
	return fmt.Sprintf("%d.%d.%d.%d:%d", b[3], b[2], b[1], b[0], p)
}
