package main_test

// These tests run the app the way operators do: through the pinned CDK CLI, with no AWS
// credentials, exactly as cdk.json configures it. They take about a minute.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/infra/internal/cfn"
	"github.com/crossbuild/crossbuild/internal/toolpath"
)

var wantStacks = []string{
	"crossbuild-source",
	"crossbuild-target-222222222222-eu-west-1",
	"crossbuild-target-333333333333-us-east-1",
}

// npmTool finds a pinned npm tool or fails naming it and how to install it.
func npmTool(t *testing.T, name string) string {
	t.Helper()
	p, err := toolpath.NpmTool(name)
	if err != nil {
		t.Fatalf("%s", toolpath.Missing(name, toolpath.InstallHint, err))
	}
	return p
}

// cdkSynth runs `cdk synth` from this folder into a temporary directory, without AWS
// credentials or configuration, and returns the output folder and what the CLI printed.
func cdkSynth(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	out := t.TempDir()
	cmd := exec.Command(npmTool(t, "cdk"), append([]string{
		"synth", "--strict", "--quiet", "--no-notices", "--no-version-reporting", "--output", out,
	}, args...)...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "CDK_") {
			env = append(env, kv)
		}
	}
	none := filepath.Join(t.TempDir(), "none")
	cmd.Env = append(env,
		"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=",
		"AWS_CONFIG_FILE="+none, "AWS_SHARED_CREDENTIALS_FILE="+none,
		"AWS_EC2_METADATA_DISABLED=true",
		// Output hygiene only: Node version notices and a deprecation read by cdk-nag.
		"JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION=1", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=18,20",
		"JSII_DEPRECATED=quiet",
	)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	err := cmd.Run()
	return out, output.String(), err
}

func TestCDKSynth(t *testing.T) {
	_, statErr := os.Stat("cdk.out")
	out, log, err := cdkSynth(t)
	if err != nil {
		t.Fatalf("cdk synth: %v\n%s", err, log)
	}
	for _, name := range wantStacks {
		if _, err := os.Stat(filepath.Join(out, name+".template.json")); err != nil {
			t.Errorf("no template for %s: %v", name, err)
		}
	}
	if _, err := os.Stat("cdk.out"); statErr != nil && err == nil {
		t.Error("cdk synth wrote cdk.out/ into the module")
	}

	// The state machine definition, rendered with placeholder ARNs, is valid ASL.
	def := definitionFrom(t, filepath.Join(out, "crossbuild-source.template.json"))
	validator := npmTool(t, "asl-validator")
	if msg, err := validate(t, validator, def); err != nil {
		t.Fatalf("asl-validator rejected the definition: %v\n%s\n%s", err, msg, def)
	}
	// ... and the validator does reject a broken one.
	var broken map[string]any
	if err := json.Unmarshal(def, &broken); err != nil {
		t.Fatal(err)
	}
	broken["StartAt"] = "No such state"
	b, _ := json.Marshal(broken)
	if msg, err := validate(t, validator, b); err == nil {
		t.Fatalf("asl-validator accepted a definition starting at a missing state:\n%s", msg)
	}
}

func definitionFrom(t *testing.T, template string) []byte {
	t.Helper()
	raw, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Resources map[string]struct {
			Type       string
			Properties map[string]any
		}
	}
	if err := json.Unmarshal(raw, &tpl); err != nil {
		t.Fatal(err)
	}
	for _, r := range tpl.Resources {
		if r.Type == "AWS::StepFunctions::StateMachine" {
			s, err := cfn.Render(r.Properties["DefinitionString"], cfn.Placeholders("aws", "eu-west-1", "111111111111"))
			if err != nil {
				t.Fatalf("render the definition: %v", err)
			}
			return []byte(s)
		}
	}
	t.Fatal("no state machine in the source template")
	return nil
}

func validate(t *testing.T, validator string, def []byte) (string, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "definition.json")
	if err := os.WriteFile(p, def, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(validator, "--json-path", p).CombinedOutput()
	return string(out), err
}

// TestCDKSynthRejects: bad context and missing Lambda assets stop synthesis with a message
// naming the problem.
func TestCDKSynthRejects(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"malformed account", []string{"-c", "crossbuild:sourceAccount=12345"}, []string{"crossbuild:sourceAccount", "12-digit"}},
		{"empty targets", []string{"-c", "crossbuild:targets=[]"}, []string{"crossbuild:targets: is empty"}},
		{"missing assets", []string{"-c", "crossbuild:distDir=" + t.TempDir()}, []string{"bootstrap is missing", "make build"}},
		{"stale assets", []string{"-c", "crossbuild:distDir=" + staleDist(t)}, []string{"bootstrap (built 2001-01-01", "is older than", "run `make build` first"}},
		{"pattern over the quota", []string{"-c", `crossbuild:targets=[{"accounts":["222222222222"],"regions":["eu-west-1"],"projects":["` +
			strings.Repeat("a", 250) + `","` + strings.Repeat("b", 250) + `","` + strings.Repeat("c", 250) + `","` + strings.Repeat("d", 250) + `","` +
			strings.Repeat("e", 250) + `","` + strings.Repeat("f", 250) + `","` + strings.Repeat("g", 250) + `"]}]`},
			[]string{"the event pattern of the callback rule of crossbuild-source would be", "over the limit of 2048", "crossbuild:maxEventPatternChars"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, log, err := cdkSynth(t, tt.args...)
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("cdk synth succeeded or did not run (%v):\n%s", err, log)
			}
			for _, w := range tt.want {
				if !strings.Contains(log, w) {
					t.Errorf("output does not contain %q:\n%s", w, log)
				}
			}
		})
	}
}

// staleDist holds every function's bootstrap, dated before any source of this module.
func staleDist(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, fn := range []string{"planner", "starter", "callback", "poller", "summariser", "canceller", "reconciler"} {
		p := filepath.Join(dir, fn, "bootstrap")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(fn), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestRecommendedFeatureFlags: cdk.json sets every feature flag the pinned aws-cdk-lib
// recommends, to the recommended value, as `cdk init` writes them into a new app. The
// list is read from the aws-cdk-lib package the Go module embeds, so an upgrade that
// recommends more flags fails here until cdk.json has them.
func TestRecommendedFeatureFlags(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-cdk-go/awscdk/v2").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	tarballs, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "jsii", "aws-cdk-lib-*.tgz"))
	if len(tarballs) != 1 {
		t.Fatalf("aws-cdk-lib package: %v", tarballs)
	}
	recommended := readTarJSON(t, tarballs[0], "package/recommended-feature-flags.json")
	if len(recommended) < 50 {
		t.Fatalf("only %d recommended flags: the package layout changed?", len(recommended))
	}

	raw, err := os.ReadFile("cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	var cdk struct{ Context map[string]any }
	if err := json.Unmarshal(raw, &cdk); err != nil {
		t.Fatal(err)
	}
	for flag, want := range recommended {
		got, set := cdk.Context[flag]
		switch {
		case !set:
			t.Errorf("cdk.json does not set %s (recommended: %v)", flag, want)
		case !reflect.DeepEqual(got, want):
			t.Errorf("cdk.json sets %s to %v, recommended %v", flag, got, want)
		}
	}
}

// readTarJSON decodes one JSON object file of a .tgz.
func readTarJSON(t *testing.T, path, name string) map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s in %s: %v", name, path, err)
		}
		if h.Name == name {
			var out map[string]any
			if err := json.NewDecoder(tr).Decode(&out); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return out
		}
	}
}
