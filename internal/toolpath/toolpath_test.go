package toolpath

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNpmTool(t *testing.T) {
	exe := t.TempDir()
	writeFile(t, filepath.Join(exe, "dynalite"), 0o755)
	notExe := t.TempDir()
	writeFile(t, filepath.Join(notExe, "dynalite"), 0o644)

	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("ModuleRoot %s has no go.mod: %v", root, err)
	}

	tests := []struct {
		name    string
		env     string
		want    string
		wantErr bool
	}{
		{name: "from env", env: exe, want: filepath.Join(exe, "dynalite")},
		{name: "env without the tool", env: t.TempDir(), wantErr: true},
		{name: "not executable", env: notExe, wantErr: true},
		{name: "fallback to module root", env: "", want: filepath.Join(root, "tools", "npm", "node_modules", ".bin", "dynalite")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvNpmBin, tc.env)
			got, err := NpmTool("dynalite")
			if tc.wantErr {
				if err == nil {
					t.Fatalf("NpmTool() = %q, want an error", got)
				}
				if !strings.Contains(err.Error(), "dynalite") {
					t.Errorf("error %q does not name the tool", err)
				}
				return
			}
			if tc.env == "" {
				// The fallback path is right whether or not the tools are installed.
				if err != nil && !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("NpmTool(): %v", err)
				}
				if err != nil {
					return
				}
			} else if err != nil {
				t.Fatalf("NpmTool(): %v", err)
			}
			if got != tc.want {
				t.Fatalf("NpmTool() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMissingNamesToolAndHint(t *testing.T) {
	msg := Missing("aws-lambda-rie", InstallHint, errors.New("go build failed"))
	for _, want := range []string{"aws-lambda-rie", "go build failed", "make tools"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	if first, _, _ := strings.Cut(msg, "\n"); !strings.Contains(first, "aws-lambda-rie") || !strings.Contains(first, "make tools") {
		t.Errorf("first line %q does not name the tool and the hint", first)
	}
}

func writeFile(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
}
