package lambda

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The Runtime Interface Emulator the stand-in runs. It is built as a program of its own,
// outside this module, so its dependencies stay out of the functions' module graph.
const (
	RIEModule  = "github.com/aws/aws-lambda-runtime-interface-emulator"
	RIEVersion = "v0.0.0-20261030222936-bef5c4ba774d"
	RIECommand = RIEModule + "/cmd/aws-lambda-rie"
	rieBinary  = "aws-lambda-rie"
)

// BuildRIE builds the emulator into dir with `go install`, from the module cache or the
// module proxy the go command is set up with, and returns the binary's path.
func BuildRIE(ctx context.Context, dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("build the runtime interface emulator: the go command is needed: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("build the runtime interface emulator: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("build the runtime interface emulator: %w", err)
	}
	// Run from a scratch folder with no go.mod, so no enclosing module or workspace applies.
	scratch, err := os.MkdirTemp("", "rie-build-")
	if err != nil {
		return "", fmt.Errorf("build the runtime interface emulator: %w", err)
	}
	defer os.RemoveAll(scratch)

	cmd := exec.CommandContext(ctx, goBin, "install", "-trimpath", RIECommand+"@"+RIEVersion)
	cmd.Dir = scratch
	cmd.Env = append(withoutEnv(os.Environ(), "GOBIN", "GOFLAGS", "GOWORK", "CGO_ENABLED", "GOOS", "GOARCH"),
		"GOBIN="+abs, "GOFLAGS=", "GOWORK=off", "CGO_ENABLED=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", &BuildError{Err: err, Output: strings.TrimSpace(out.String())}
	}
	bin := filepath.Join(abs, rieBinary)
	if err := checkExecutable("built runtime interface emulator", bin); err != nil {
		return "", err
	}
	return bin, nil
}

// BuildError is a failed build of the emulator with what the go command printed.
type BuildError struct {
	Err    error
	Output string
}

func (e *BuildError) Error() string {
	msg := "build the runtime interface emulator (" + RIECommand + "@" + RIEVersion + "): " + e.Err.Error()
	if e.Output != "" {
		msg += ": " + e.Output
	}
	return msg
}

func (e *BuildError) Unwrap() error { return e.Err }

func withoutEnv(env []string, keys ...string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, key := range keys {
			drop = drop || k == key
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}
