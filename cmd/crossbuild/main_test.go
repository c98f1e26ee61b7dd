package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadContext(t *testing.T) {
	cdkJSON := filepath.Join("..", "..", "infra", "cdk.json")
	cfg, err := loadContext(cdkJSON, []string{"crossbuild:maxConcurrency=3"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SourceAccount == "" || len(cfg.Targets) == 0 || cfg.MaxConcurrency != 3 {
		t.Errorf("config = %+v", cfg)
	}
	for _, bad := range [][]string{{"no-equals-sign"}, {"crossbuild:maxConcurrency=x"}} {
		if _, err := loadContext(cdkJSON, bad); err == nil {
			t.Errorf("loadContext(%v) succeeded", bad)
		}
	}
	if _, err := loadContext("missing.json", nil); err == nil || !strings.Contains(err.Error(), "context file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestRootHasDoctor(t *testing.T) {
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"doctor", "--help"})
	if err := root.Execute(); err != nil || !strings.Contains(out.String(), "--target-profile") {
		t.Fatalf("doctor --help: %v\n%s", err, out.String())
	}
	root = newRoot()
	root.SetOut(&out)
	root.SetArgs([]string{"doctor", "--target-profile", "nonsense", "--context-file", filepath.Join("..", "..", "infra", "cdk.json")})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "ACCOUNT=PROFILE") {
		t.Fatalf("a malformed --target-profile: %v", err)
	}
}
