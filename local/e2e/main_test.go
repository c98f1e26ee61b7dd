package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/internal/toolpath"
	"github.com/crossbuild/crossbuild/local/dynalite"
	"github.com/crossbuild/crossbuild/local/lambda"
)

// What `make test` exports before it runs the local runtime's tests; unset, they default
// to where `make build-local synth` puts the builds in this module.
const (
	envAssembly  = "CROSSBUILD_ASSEMBLY"
	envFunctions = "CROSSBUILD_LOCAL_FUNCTIONS"
)

// buildHint is how the functions and the assembly are made.
const buildHint = "run `make build-local synth` (make test does)"

// functionNames are the host builds a world deploys: <functions>/<name>/bootstrap.
var functionNames = []string{"planner", "starter", "callback", "poller", "summariser", "canceller", "reconciler"}

// prerequisites are found (or built) once per test binary by TestMain.
type prerequisites struct {
	assembly  string // cdk.out
	functions string // host builds of the functions
	rie       string // the Lambda Runtime Interface Emulator
	dynalite  string // the dynalite executable
}

var (
	prereq prerequisites
	// prereqErr is a prerequisite that is missing or broken: the scenarios fail naming it.
	prereqErr error
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	scratch, err := os.MkdirTemp("", "crossbuild-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(scratch)
	prereqErr = prepare(scratch)
	code := m.Run()
	// Every world is closed by now; a child still running is a leak.
	if left := waitChildrenGone(10 * time.Second); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: processes started by the tests still run after every world closed: %v\n", left)
		for _, pid := range left {
			if p, err := os.FindProcess(pid); err == nil {
				_ = p.Kill()
			}
		}
		code = 1
	}
	return code
}

// prepare finds the prerequisites, each named with how to make it when it is missing.
func prepare(scratch string) error {
	root, err := toolpath.ModuleRoot()
	if err != nil {
		return err
	}
	prereq.assembly = envOr(envAssembly, filepath.Join(root, "cdk.out"))
	prereq.functions = envOr(envFunctions, filepath.Join(root, "dist", "local"))
	if _, err := os.Stat(filepath.Join(prereq.assembly, "manifest.json")); err != nil {
		return fmt.Errorf("the synthesized app (%s): no cloud assembly: %w; %s", envAssembly, err, buildHint)
	}
	for _, fn := range functionNames {
		if err := toolpath.Executable(filepath.Join(prereq.functions, fn, "bootstrap")); err != nil {
			return fmt.Errorf("the host build of %s (%s): %w; %s", fn, envFunctions, err, buildHint)
		}
	}
	if prereq.dynalite, err = dynalite.Binary(); err != nil {
		return errors.New(toolpath.Missing("dynalite", toolpath.InstallHint, err))
	}
	// `make build-local` may have built the emulator already; otherwise build it once here.
	if rie := filepath.Join(prereq.functions, "bin", "aws-lambda-rie"); toolpath.Executable(rie) == nil {
		prereq.rie = rie
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if prereq.rie, err = lambda.BuildRIE(ctx, filepath.Join(scratch, "rie")); err != nil {
		return errors.New(toolpath.Missing("aws-lambda-rie", toolpath.RIEHint, err))
	}
	return nil
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// needRuntime fails a scenario whose prerequisites are missing: a run must never pass by
// testing nothing.
func needRuntime(t *testing.T) {
	t.Helper()
	if prereqErr != nil {
		t.Fatalf("local runtime prerequisites: %v", prereqErr)
	}
}

// Processes. The checks read /proc; where there is none they find nothing.

// children lists the live processes whose parent is this test binary.
func children() []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, ppid, ok := procStat(pid)
		if ok && ppid == self && state != "Z" && state != "X" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// withEnv lists the live processes whose environment holds the entry kv ("NAME=value").
func withEnv(kv string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := append([]byte(kv), 0)
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !(bytes.HasPrefix(env, want) || bytes.Contains(env, append([]byte{0}, want...))) {
			continue
		}
		if state, _, ok := procStat(pid); ok && state != "Z" && state != "X" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procStat reads a process's state and parent from /proc/<pid>/stat.
func procStat(pid int) (state string, ppid int, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return "", 0, false
	}
	// The command name is in parentheses and may hold spaces: the fields follow the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return f[0], ppid, err == nil
}

// waitGone polls list (bounded) until it is empty and returns what is left.
func waitGone(list func() []int, limit time.Duration) []int {
	deadline := time.Now().Add(limit)
	for {
		left := list()
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitChildrenGone(limit time.Duration) []int { return waitGone(children, limit) }
