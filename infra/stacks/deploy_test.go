package stacks

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/crossbuild/crossbuild/infra/config"
)

// These tests hold what a first deployment depends on: templates CloudFormation accepts
// everywhere, stable homes for account-global names, patterns within EventBridge's quota,
// trust policies scoped to their one caller, and assets that match their sources.

// TestNoEmptyKMSKey: the archive is synthesized without KmsKeyIdentifier (aws-cdk-lib
// renders "" for it, aws/aws-cdk#37847), and no property of any template anywhere is an
// empty KMS key.
func TestNoEmptyKMSKey(t *testing.T) {
	check(t, func() {
		accountsApp.source().HasResourceProperties(str("AWS::Events::Archive"), &map[string]any{
			"KmsKeyIdentifier": assertions.Match_Absent(),
		})
	})
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, child := range x {
				if s, isString := child.(string); isString && s == "" && strings.Contains(strings.ToLower(k), "kms") {
					t.Errorf("%s.%s is an empty KMS key", path, k)
				}
				walk(path+"."+k, child)
			}
		case []any:
			for _, child := range x {
				walk(path+"[]", child)
			}
		}
	}
	for _, a := range []*testApp{accountsApp, orgApp} {
		for name, tpl := range a.json {
			walk(a.label+"/"+name, tpl["Resources"])
		}
	}
}

// reordered is accountsContext with the entries, and the accounts and Regions inside them,
// in the opposite order.
func reordered() map[string]any {
	ctx := accountsContext()
	entries := slices.Clone(ctx[config.KeyTargets].([]any))
	slices.Reverse(entries)
	for i, raw := range entries {
		e := maps.Clone(raw.(map[string]any))
		for _, field := range []string{"accounts", "regions"} {
			list := slices.Clone(e[field].([]any))
			slices.Reverse(list)
			e[field] = list
		}
		entries[i] = e
	}
	ctx[config.KeyTargets] = entries
	return ctx
}

// TestRoleOwnerStable: reordering the accounts, Regions and entries of the context changes
// no resource's stack, and no template at all; adding a Region before the role's one moves
// nothing either. The role lives where crossbuild:roleRegions says.
func TestRoleOwnerStable(t *testing.T) {
	ids := func(a *testApp) map[string][]string {
		out := map[string][]string{}
		for name, tpl := range a.json {
			out[name] = slices.Sorted(maps.Keys(tpl["Resources"].(map[string]any)))
		}
		return out
	}
	roleStacks := func(a *testApp) []string {
		var out []string
		for name, tpl := range a.json {
			for _, r := range resources(tpl, "AWS::IAM::Role") {
				if r["Properties"].(map[string]any)["RoleName"] == config.DefaultTargetRoleName {
					out = append(out, name)
				}
			}
		}
		slices.Sort(out)
		return out
	}
	wantRoles := []string{"crossbuild-target-222222222222-us-east-1", "crossbuild-target-333333333333-us-east-1"}
	if got := roleStacks(accountsApp); !slices.Equal(got, wantRoles) {
		t.Fatalf("target roles in %v, want %v", got, wantRoles)
	}

	other, err := synthesize("reordered", reordered(), assetDir, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(other), ids(accountsApp); !reflect.DeepEqual(got, want) {
		t.Errorf("logical ids per stack after reordering:\n got %v\nwant %v", got, want)
	}
	for name, tpl := range accountsApp.json {
		if !reflect.DeepEqual(other.json[name]["Resources"], tpl["Resources"]) {
			t.Errorf("%s: the template changed when only the order of the context did", name)
		}
	}

	// A Region added in front of the account's others: a new stack, nothing else moves.
	ctx := accountsContext()
	entries := slices.Clone(ctx[config.KeyTargets].([]any))
	first := maps.Clone(entries[0].(map[string]any))
	first["regions"] = append([]any{"ap-southeast-2"}, first["regions"].([]any)...)
	entries[0] = first
	ctx[config.KeyTargets] = entries
	grown, err := synthesize("grown", ctx, assetDir, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := roleStacks(grown); !slices.Equal(got, wantRoles) {
		t.Errorf("after adding a Region, target roles in %v, want %v", got, wantRoles)
	}
	grownIDs, before := ids(grown), ids(accountsApp)
	for name, want := range before {
		if !slices.Equal(grownIDs[name], want) {
			t.Errorf("%s: logical ids changed after adding a Region:\n got %v\nwant %v", name, grownIDs[name], want)
		}
	}
	if _, ok := grownIDs["crossbuild-target-222222222222-ap-southeast-2"]; !ok || len(grownIDs) != len(before)+1 {
		t.Errorf("stacks after adding a Region: %v", slices.Sorted(maps.Keys(grownIDs)))
	}
}

// TestPatternSizeIsWhatIsDeployed: the size the configuration checks against the quota is
// the size of the patterns in the templates.
func TestPatternSizeIsWhatIsDeployed(t *testing.T) {
	for _, a := range []*testApp{accountsApp, orgApp} {
		src := a.stacks[config.SourceStackName]
		rule := ruleTo(t, a.json[config.SourceStackName], logicalID(src, a.d.Source.Functions["callback"]))
		if got, want := config.PatternChars(rule["EventPattern"].(map[string]any)), config.PatternChars(a.cfg.CallbackPattern()); got != want || got == 0 {
			t.Errorf("%s: callback pattern is %d characters in the template, the configuration measured %d", a.label, got, want)
		}
		for _, target := range a.d.Targets {
			_, fwd := only(t, a.json[target.Config.StackName()], "AWS::Events::Rule")
			if got, want := config.PatternChars(fwd["EventPattern"].(map[string]any)), config.PatternChars(target.Config.ForwardPattern()); got != want {
				t.Errorf("%s: forward pattern is %d characters in the template, the configuration measured %d", target.Config.StackName(), got, want)
			}
		}
	}
}

// TestTrustScopedToCaller: EventBridge may assume a forwarding role only for that stack's
// forwarding rule, and CodeBuild the sample project's role only for that project
// (confused-deputy conditions).
func TestTrustScopedToCaller(t *testing.T) {
	for _, target := range accountsApp.d.Targets {
		tc := target.Config
		t.Run(tc.StackName(), func(t *testing.T) {
			tpl := accountsApp.json[tc.StackName()]
			_, rule := only(t, tpl, "AWS::Events::Rule")
			if rule["Name"] != config.ForwardRuleName {
				t.Errorf("forwarding rule name = %v, want %s", rule["Name"], config.ForwardRuleName)
			}
			ruleARN := "arn:aws:events:" + tc.Region + ":" + tc.Account + ":rule/" + config.ForwardRuleName
			roleID := strings.TrimSuffix(render(t, rule["Targets"].([]any)[0].(map[string]any)["RoleArn"]), ".Arn")
			wantTrust(t, trustStatements(t, tpl)[roleID], "Service:events.amazonaws.com", tc.Account, ruleARN)

			projects := resources(tpl, "AWS::CodeBuild::Project")
			if (len(projects) == 1) != (tc.SampleProject != "") {
				t.Fatalf("%d projects, sample project %q", len(projects), tc.SampleProject)
			}
			for _, p := range projects {
				props := p["Properties"].(map[string]any)
				role := strings.TrimSuffix(render(t, props["ServiceRole"]), ".Arn")
				projectARN := "arn:aws:codebuild:" + tc.Region + ":" + tc.Account + ":project/" + props["Name"].(string)
				wantTrust(t, trustStatements(t, tpl)[role], "Service:codebuild.amazonaws.com", tc.Account, projectARN)
			}
		})
	}
}

func wantTrust(t *testing.T, trust []statement, principal, account, sourceARN string) {
	t.Helper()
	if len(trust) != 1 || !slices.Equal(trust[0].principals, []string{principal}) {
		t.Fatalf("trust of %s = %+v", principal, trust)
	}
	cond := trust[0].conditions
	eq, _ := cond["StringEquals"].(map[string]any)
	arn, _ := cond["ArnEquals"].(map[string]any)
	if eq["aws:SourceAccount"] != account || arn["aws:SourceArn"] != sourceARN || len(cond) != 2 {
		t.Errorf("%s trust conditions = %v, want aws:SourceAccount %s and aws:SourceArn %s", principal, cond, account, sourceARN)
	}
}

// TestStackTags: every stack carries the project tag itself; with the recommended
// @aws-cdk/core:explicitStackTags, tags added to the app reach only the resources.
func TestStackTags(t *testing.T) {
	for _, a := range []*testApp{accountsApp, orgApp} {
		for name, s := range a.stacks {
			if got := (*s.Tags().TagValues())["project"]; got == nil || *got != "crossbuild" {
				t.Errorf("%s/%s: stack tag project = %v", a.label, name, got)
			}
		}
	}
}

// TestAlarmsDocumented: the alarm table of docs/operations.md names every alarm the stacks
// create and no other, and the timed-out alarm says why it can hardly fire.
func TestAlarmsDocumented(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	start := strings.Index(doc, "## Alarms")
	end := strings.Index(doc[start+1:], "\n## ")
	if start < 0 || end < 0 {
		t.Fatal("docs/operations.md has no Alarms section")
	}
	// The first column of each row names its alarms.
	documented := map[string]bool{}
	name := regexp.MustCompile("`(crossbuild-[a-z<>-]+)`")
	for _, line := range strings.Split(doc[start:start+1+end], "\n") {
		if cells := strings.Split(line, " | "); strings.HasPrefix(line, "| `crossbuild-") {
			for _, m := range name.FindAllStringSubmatch(cells[0], -1) {
				documented[m[1]] = true
			}
		}
	}
	created := map[string]bool{}
	var timedOut string
	for _, a := range []*testApp{accountsApp, orgApp} {
		for name, tpl := range a.json {
			for _, r := range resources(tpl, "AWS::CloudWatch::Alarm") {
				p := r["Properties"].(map[string]any)
				alarm := p["AlarmName"].(string)
				if stack := a.stacks[name]; name != config.SourceStackName {
					alarm = strings.TrimSuffix(alarm, *stack.Region()) + "<region>"
				}
				created[alarm] = true
				if alarm == "crossbuild-executions-timed-out" {
					timedOut = p["AlarmDescription"].(string)
				}
			}
		}
	}
	if !reflect.DeepEqual(documented, created) {
		t.Errorf("alarms in docs/operations.md:\n %v\ncreated:\n %v", slices.Sorted(maps.Keys(documented)), slices.Sorted(maps.Keys(created)))
	}
	if !strings.Contains(timedOut, "sets no timeout") || !strings.Contains(timedOut, "one-year maximum") {
		t.Errorf("timed-out alarm description = %q", timedOut)
	}
}

// TestCheckAssetsCurrent: an asset older than a source file it is built from (its
// function's package, a module package it imports, go.mod) is refused, naming both and the
// fix. Packages it does not import, tests, test data and files for other platforms do not
// count. The module is a small real one, listed by `go list` as the app lists this one.
func TestCheckAssetsCurrent(t *testing.T) {
	old := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	built := old.Add(time.Hour)
	files := map[string]string{
		"go.mod":                            "module example.com/m\n\ngo 1.22\n",
		"internal/shared/shared.go":         "package shared\n",
		"internal/shared/shared_windows.go": "package shared\n",
		"internal/shared/shared_test.go":    "package shared\n",
		"internal/shared/testdata/x.json":   "{}",
		"internal/pollonly/pollonly.go":     "package pollonly\n",
		"internal/unrelated/unrelated.go":   "package unrelated\n",
	}
	for _, fn := range Functions {
		imports := `import _ "example.com/m/internal/shared"` + "\n"
		if fn == "poller" {
			imports += `import _ "example.com/m/internal/pollonly"` + "\n"
		}
		files["functions/"+fn+"/main.go"] = "package main\n\n" + imports + "\nfunc main() {}\n"
	}
	setup := func(t *testing.T) (dist, root string) {
		root, dist = t.TempDir(), t.TempDir()
		for name, content := range files {
			write(t, filepath.Join(root, name), content, old)
		}
		for _, fn := range Functions {
			write(t, filepath.Join(dist, fn, "bootstrap"), fn, built)
		}
		return dist, root
	}
	tests := []struct {
		name    string
		changed string // touched after the build
		stale   []string
	}{
		{"fresh", "", nil},
		{"a function's own source", "functions/starter/main.go", []string{"starter"}},
		{"a package every function imports", "internal/shared/shared.go", Functions},
		{"a package one function imports", "internal/pollonly/pollonly.go", []string{"poller"}},
		{"go.mod", "go.mod", Functions},
		{"a package no function imports", "internal/unrelated/unrelated.go", nil},
		{"a test", "internal/shared/shared_test.go", nil},
		{"test data", "internal/shared/testdata/x.json", nil},
		{"a file for another platform", "internal/shared/shared_windows.go", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dist, root := setup(t)
			if tt.changed != "" {
				at := built.Add(time.Minute)
				if err := os.Chtimes(filepath.Join(root, tt.changed), at, at); err != nil {
					t.Fatal(err)
				}
			}
			err := CheckAssetsCurrent(dist, root)
			var got []string
			var stale *StaleAssetsError
			if errors.As(err, &stale) {
				for _, a := range stale.Assets {
					got = append(got, filepath.Base(filepath.Dir(a.Asset)))
					if a.Source != filepath.FromSlash(tt.changed) || !a.AssetTime.Equal(built) {
						t.Errorf("%+v", a)
					}
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.stale) {
				t.Fatalf("stale = %v, want %v (%v)", got, tt.stale, err)
			}
			if tt.stale != nil {
				for _, w := range []string{"is older than " + filepath.FromSlash(tt.changed), "run `make build` first"} {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error does not contain %q: %v", w, err)
					}
				}
			}
		})
	}
	// A missing asset is CheckAssets' to report.
	dist, root := setup(t)
	if err := os.Remove(filepath.Join(dist, "starter", "bootstrap")); err != nil {
		t.Fatal(err)
	}
	if err := CheckAssetsCurrent(dist, root); err != nil {
		t.Errorf("missing asset: %v", err)
	}
}

func write(t *testing.T, path, content string, at time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}
