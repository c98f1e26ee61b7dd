package codebuild

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"
)

// runCase is one build of testdata/runs.json: a buildspec and what running it must do.
type runCase struct {
	Name         string            `json:"name"`
	Buildspec    string            `json:"buildspec"`
	Overrides    []EnvVar          `json:"overrides"`
	Status       string            `json:"status"`
	Phases       []string          `json:"phases"`       // "TYPE STATUS", the whole list
	Contexts     map[string]string `json:"contexts"`     // phase → "code: message"
	ContextCodes map[string]string `json:"contextCodes"` // phase → code
	Log          []string          `json:"log"`
	NotLog       []string          `json:"notLog"`
	Files        map[string]string `json:"files"` // path under CODEBUILD_SRC_DIR → content
}

// Each buildspec walks CodeBuild's phase transitions and on-failure rules.
func TestBuildspecRuns(t *testing.T) {
	w := newWorld(t, Options{})
	cb := w.starter()
	for _, c := range loadJSON[[]runCase](t, "runs.json") {
		t.Run(c.Name, func(t *testing.T) {
			in := &codebuild.StartBuildInput{ProjectName: aws.String(sampleProject), BuildspecOverride: aws.String(c.Buildspec)}
			for _, v := range c.Overrides {
				in.EnvironmentVariablesOverride = append(in.EnvironmentVariablesOverride, plaintext(v.Name, v.Value))
			}
			out, err := cb.StartBuild(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			info := w.wait(t, aws.ToString(out.Build.Id))
			log := readFile(t, info.LogPath)
			if info.Status != c.Status {
				t.Fatalf("status %s, want %s; log:\n%s", info.Status, c.Status, log)
			}
			if c.Phases != nil {
				var got []string
				for _, p := range info.Phases {
					got = append(got, p.Type+" "+p.Status)
				}
				if strings.Join(got, ",") != strings.Join(c.Phases, ",") {
					t.Errorf("phases\n got %v\nwant %v", got, c.Phases)
				}
			}
			for _, p := range info.Phases {
				var texts, codes []string
				for _, pc := range p.Contexts {
					texts, codes = append(texts, contextText(pc)), append(codes, pc.StatusCode)
				}
				if want, ok := c.Contexts[p.Type]; ok && strings.Join(texts, "|") != want {
					t.Errorf("%s contexts %q, want %q", p.Type, texts, want)
				}
				if want, ok := c.ContextCodes[p.Type]; ok && strings.Join(codes, "|") != want {
					t.Errorf("%s context codes %q, want %q", p.Type, codes, want)
				}
			}
			for _, s := range c.Log {
				if !strings.Contains(log, s) {
					t.Errorf("log lacks %q:\n%s", s, log)
				}
			}
			for _, s := range c.NotLog {
				if strings.Contains(log, s) {
					t.Errorf("log holds %q:\n%s", s, log)
				}
			}
			for name, want := range c.Files {
				raw, err := os.ReadFile(filepath.Join(info.WorkDir, name))
				if err != nil || string(raw) != want {
					t.Errorf("%s = %q (%v), want %q; log:\n%s", name, raw, err, want, log)
				}
			}
		})
	}
}

// A shell that cannot start is CodeBuild's own fault, not the buildspec's.
func TestShellThatCannotStartIsAFault(t *testing.T) {
	w := newWorld(t, Options{Shell: filepath.Join(t.TempDir(), "no-such-shell")})
	out, err := w.starter().StartBuild(context.Background(), &codebuild.StartBuildInput{ProjectName: aws.String(sampleProject)})
	if err != nil {
		t.Fatal(err)
	}
	info := w.wait(t, aws.ToString(out.Build.Id))
	if info.Status != StatusFault {
		t.Fatalf("status %s", info.Status)
	}
	var kinds []string
	for _, p := range info.Phases {
		kinds = append(kinds, p.Type+" "+p.Status)
	}
	want := "SUBMITTED SUCCEEDED,QUEUED SUCCEEDED,PROVISIONING SUCCEEDED,DOWNLOAD_SOURCE SUCCEEDED,INSTALL SUCCEEDED,PRE_BUILD SUCCEEDED,BUILD FAULT,FINALIZING SUCCEEDED,COMPLETED "
	if got := strings.Join(kinds, ","); got != want {
		t.Errorf("phases %s\nwant %s", got, want)
	}
}

// Builds of several projects and accounts run at once and keep to themselves.
func TestConcurrentBuilds(t *testing.T) {
	w := newWorld(t, Options{})
	other := w.client(otherAccount, "arn:aws:iam::333333333333:root", targetRegion)
	const n = 6
	ids := make(chan [2]string, 2*n)
	errs := make(chan error, 2*n)
	for i := range n {
		go func() {
			out, err := w.starter().StartBuild(context.Background(), &codebuild.StartBuildInput{
				ProjectName: aws.String(sampleProject),
				EnvironmentVariablesOverride: []cbtypes.EnvironmentVariable{
					plaintext("SAMPLE_VAR1", fmt.Sprintf("value-%d", i)),
				},
			})
			if err != nil {
				errs <- err
				return
			}
			ids <- [2]string{aws.ToString(out.Build.Id), fmt.Sprintf("SAMPLE_VAR1=value-%d", i)}
		}()
		go func() {
			out, err := other.StartBuild(context.Background(), &codebuild.StartBuildInput{ProjectName: aws.String("other-account-project")})
			if err != nil {
				errs <- err
				return
			}
			ids <- [2]string{aws.ToString(out.Build.Id), ""}
		}()
	}
	numbers := map[int64]bool{}
	for range 2 * n {
		select {
		case <-time.After(waitLimit):
			t.Fatal("StartBuild calls did not return")
		case err := <-errs:
			t.Fatal(err)
		case got := <-ids:
			if got[1] == "" {
				info, err := w.svc.Wait(context.Background(), otherAccount, targetRegion, got[0])
				if err != nil || info.Status != StatusSucceeded {
					t.Errorf("other account build: %+v %v", info, err)
				}
				continue
			}
			info := w.wait(t, got[0])
			if env := readFile(t, filepath.Join(info.WorkDir, "env_vars.txt")); info.Status != StatusSucceeded || !containsLine(env, got[1]) {
				t.Errorf("build %s: %s, env lacks %s", got[0], info.Status, got[1])
			}
			numbers[info.Number] = true
		}
	}
	if len(numbers) != n {
		t.Errorf("build numbers %v are not distinct", numbers)
	}
}
