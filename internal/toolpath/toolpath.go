// Package toolpath finds the tools the build pins outside Go: the module root and the
// executables of the pinned npm packages (the CDK CLI, dynalite, Node 22, ...).
//
// It knows nothing of what the tools do, so that production code (the local runtime) and
// tests on either side of the module share one lookup.
package toolpath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// EnvNpmBin names the folder holding the npm tools' executables (the Makefile exports it).
const EnvNpmBin = "CROSSBUILD_NPM_BIN"

// Install hints: the npm tools come with `make tools`; the Lambda Runtime Interface
// Emulator is built by the go command from the Go module proxy when it is first needed.
const (
	InstallHint = "run `make tools` to install the pinned tools"
	RIEHint     = "the go command builds it from the Go module proxy: check that GOPROXY answers"
)

// ModuleRoot walks up from the working directory to the folder holding go.mod.
func ModuleRoot() (string, error) {
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

// NpmBin returns the folder of the npm tools' executables: $CROSSBUILD_NPM_BIN, or
// tools/npm/node_modules/.bin under the module root.
func NpmBin() (string, error) {
	if dir := os.Getenv(EnvNpmBin); dir != "" {
		return dir, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "tools", "npm", "node_modules", ".bin"), nil
}

// NpmTool returns the path of the executable name in NpmBin, or an error naming the tool
// when it is missing or not executable.
func NpmTool(name string) (string, error) {
	dir, err := NpmBin()
	if err != nil {
		return "", fmt.Errorf("no %s executable: %w", name, err)
	}
	bin := filepath.Join(dir, name)
	if err := Executable(bin); err != nil {
		return "", fmt.Errorf("no %s executable: %w", name, err)
	}
	return bin, nil
}

// Executable is nil when path is a file that may be executed.
func Executable(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if info.IsDir() || info.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// Missing is the message of a test that cannot run without tool. Its first line names the
// tool and how to install it (hint); the cause follows (a failed build may add its output).
func Missing(tool, hint string, err error) string {
	return fmt.Sprintf("%s is required (%s): %v", tool, hint, err)
}
