package target

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/crossbuild/crossbuild/internal/failure"
)

func loadCases[T any](t *testing.T, name string) []T {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var cases []T
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(cases) == 0 {
		t.Fatalf("%s: no cases", name)
	}
	return cases
}

func testParser() Parser {
	return Parser{Mapping: DefaultMapping(), ReservedPrefix: "CROSSBUILD_"}
}

func TestParseValid(t *testing.T) {
	type want struct {
		Account, Region, Project, Completion  string
		PollIntervalSeconds, HeartbeatSeconds int
		TimeoutSeconds, TimeoutInMinutes      int
		SourceVersion                         string
		Env                                   []EnvVar
	}
	for _, tc := range loadCases[struct {
		Name   string
		Target json.RawMessage
		Want   want
	}](t, "valid.json") {
		t.Run(tc.Name, func(t *testing.T) {
			got, err := testParser().Parse(tc.Target, 3)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			g := want{got.Account, got.Region, got.Project, got.Completion, got.PollIntervalSeconds,
				got.HeartbeatSeconds, got.TimeoutSeconds, got.TimeoutInMinutes, got.SourceVersion, got.Env}
			if !reflect.DeepEqual(g, tc.Want) {
				t.Errorf("got  %+v\nwant %+v", g, tc.Want)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	for _, tc := range loadCases[struct {
		Name   string
		Target json.RawMessage
		Raw    string
		Field  string
		Rule   string
	}](t, "invalid.json") {
		t.Run(tc.Name, func(t *testing.T) {
			raw := []byte(tc.Target)
			if tc.Raw != "" {
				raw = []byte(tc.Raw)
			}
			_, err := testParser().Parse(raw, 4)
			var it *failure.InvalidTarget
			if !errors.As(err, &it) {
				t.Fatalf("want *failure.InvalidTarget, got %T %v", err, err)
			}
			if it.Field != tc.Field {
				t.Errorf("field = %q, want %q (%v)", it.Field, tc.Field, err)
			}
			if !strings.Contains(it.Rule, tc.Rule) {
				t.Errorf("rule %q does not mention %q", it.Rule, tc.Rule)
			}
			if it.Index != 4 || !strings.HasPrefix(err.Error(), "target 4: "+tc.Field+": ") {
				t.Errorf("message %q does not name the target and field", err)
			}
			if failure.Name(err) != "InvalidTarget" {
				t.Errorf("failure.Name = %q", failure.Name(err))
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	base := `{"arn":"arn:aws:iam::222222222222:role/r","region":"eu-west-1","codeBuildProject":"pp"`
	big := strings.Repeat("x", MaxEnvValueLen+1)
	many := make([]string, 0, MaxEnvVars+1)
	for i := range MaxEnvVars + 1 {
		many = append(many, `"V`+strings.Repeat("A", i%5)+string(rune('A'+i/26%26))+string(rune('A'+i%26))+`":"1"`)
	}
	total := make([]string, 0, 8)
	for i := range 8 {
		total = append(total, `"BIG`+string(rune('A'+i))+`":"`+strings.Repeat("y", MaxEnvValueLen-10)+`"`)
	}
	cases := []struct{ name, raw, field string }{
		{"value too long", base + `,"A":"` + big + `"}`, "A"},
		{"too many variables", base + "," + strings.Join(many, ",") + "}", "environmentVariables"},
		{"total too large", base + "," + strings.Join(total, ",") + "}", "environmentVariables"},
	}
	for _, n := range []int{2, 255} {
		raw := `{"arn":"arn:aws:iam::222222222222:role/r","region":"eu-west-1","codeBuildProject":"` + strings.Repeat("p", n) + `"}`
		if _, err := testParser().Parse([]byte(raw), 0); err != nil {
			t.Errorf("a project name of %d characters: %v", n, err)
		}
	}
	for _, p := range []string{"p", strings.Repeat("p", 256)} {
		cases = append(cases, struct{ name, raw, field string }{fmt.Sprintf("project name of %d characters", len(p)),
			`{"arn":"arn:aws:iam::222222222222:role/r","region":"eu-west-1","codeBuildProject":"` + p + `"}`, "codeBuildProject"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := testParser().Parse([]byte(tc.raw), 0)
			var it *failure.InvalidTarget
			if !errors.As(err, &it) || it.Field != tc.field {
				t.Fatalf("want InvalidTarget on %s, got %v", tc.field, err)
			}
		})
	}
}

func TestMappingValidate(t *testing.T) {
	cases := []struct {
		name string
		m    Mapping
		ok   bool
	}{
		{"default", DefaultMapping(), true},
		{"empty", Mapping{}, true},
		{"renames reserved key", Mapping{Rename: map[string]string{"region": "REGION"}}, false},
		{"bad target name", Mapping{Rename: map[string]string{"a": "1A"}}, false},
		{"CODEBUILD_ constant", Mapping{Constants: map[string]string{"CODEBUILD_X": "1"}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.m.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestEnvNamesCarryNoValues(t *testing.T) {
	tg, err := testParser().Parse([]byte(`{"arn":"arn:aws:iam::222222222222:role/r","region":"eu-west-1","codeBuildProject":"pp","SECRET_THING":"hunter2"}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	names := tg.EnvNames()
	if !reflect.DeepEqual(names, []string{"HARDCODED_VAR1", "SECRET_THING"}) {
		t.Fatalf("names = %v", names)
	}
}

func TestAllowList(t *testing.T) {
	al, err := NewAllowList([]string{"222222222222", "333333333333"}, []string{"eu-west-1", "us-east-1"},
		[]string{"arn:aws:iam::222222222222:role/crossbuild-*", "arn:aws:iam::333333333333:role/exact"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, arn, region string
		field             string // "" when allowed
	}{
		{"allowed by wildcard", "arn:aws:iam::222222222222:role/crossbuild-target", "eu-west-1", ""},
		{"allowed exact", "arn:aws:iam::333333333333:role/exact", "us-east-1", ""},
		{"account not allowed", "arn:aws:iam::444444444444:role/crossbuild-target", "eu-west-1", "account"},
		{"region not allowed", "arn:aws:iam::222222222222:role/crossbuild-target", "eu-central-1", "region"},
		{"role not allowed", "arn:aws:iam::222222222222:role/admin", "eu-west-1", "arn"},
		{"wildcard does not cross accounts", "arn:aws:iam::333333333333:role/crossbuild-target", "eu-west-1", "arn"},
		{"exact needs exact", "arn:aws:iam::333333333333:role/exact2", "us-east-1", "arn"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := `{"arn":"` + tc.arn + `","region":"` + tc.region + `","codeBuildProject":"pp"}`
			tg, err := testParser().Parse([]byte(raw), 0)
			if err != nil {
				t.Fatal(err)
			}
			err = al.Check(tg)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			var na *failure.TargetNotAllowed
			if !errors.As(err, &na) || na.Field != tc.field {
				t.Fatalf("want TargetNotAllowed on %s, got %v", tc.field, err)
			}
			if failure.Name(err) != "TargetNotAllowed" {
				t.Errorf("failure.Name = %q", failure.Name(err))
			}
		})
	}
}

func TestNewAllowListRejectsBadConfig(t *testing.T) {
	cases := []struct {
		name                     string
		accounts, regions, roles []string
	}{
		{"bad account", []string{"12"}, []string{"eu-west-1"}, []string{"arn:aws:iam::222222222222:role/x"}},
		{"bad region", []string{"222222222222"}, []string{"mars"}, []string{"arn:aws:iam::222222222222:role/x"}},
		{"bad pattern", []string{"222222222222"}, []string{"eu-west-1"}, []string{"role/x"}},
		{"empty", nil, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewAllowList(tc.accounts, tc.regions, tc.roles); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

func FuzzParseTarget(f *testing.F) {
	for _, file := range []string{"valid.json", "invalid.json"} {
		raw, err := os.ReadFile("testdata/" + file)
		if err != nil {
			f.Fatal(err)
		}
		var cases []struct {
			Target json.RawMessage
			Raw    string
		}
		if err := json.Unmarshal(raw, &cases); err != nil {
			f.Fatal(err)
		}
		for _, c := range cases {
			f.Add([]byte(c.Target))
			if c.Raw != "" {
				f.Add([]byte(c.Raw))
			}
		}
	}
	p := testParser()
	f.Fuzz(func(t *testing.T, raw []byte) {
		tg, err := p.Parse(raw, 0)
		if err != nil {
			var it *failure.InvalidTarget
			if !errors.As(err, &it) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		// Whatever parses must satisfy the rules the starter relies on.
		if !IsAccountID(tg.Account) || !IsRegion(tg.Region) || !projectRe.MatchString(tg.Project) {
			t.Fatalf("accepted an invalid target: %+v", tg)
		}
		seen := map[string]bool{}
		for _, e := range tg.Env {
			if checkEnvName(e.Name) != "" || seen[e.Name] {
				t.Fatalf("accepted bad or duplicate variable %q", e.Name)
			}
			seen[e.Name] = true
		}
	})
}

func TestNamePolicy(t *testing.T) {
	for _, tc := range loadCases[struct {
		Name     string
		Allow    []string
		Variable string
		OK       bool
		Rule     string
	}](t, "names.json") {
		t.Run(tc.Name, func(t *testing.T) {
			policy, err := NewNamePolicy(tc.Allow, "CROSSBUILD_")
			if err != nil {
				t.Fatalf("NewNamePolicy(%v): %v", tc.Allow, err)
			}
			if rule := policy.Check(tc.Variable); (rule == "") != tc.OK || !strings.Contains(rule, tc.Rule) {
				t.Fatalf("Check(%q) = %q, want ok=%v and a rule mentioning %q", tc.Variable, rule, tc.OK, tc.Rule)
			}
			// The starter refuses the name whichever way a target sets it, naming the variable.
			p := Parser{Mapping: DefaultMapping(), ReservedPrefix: "CROSSBUILD_", Names: policy}
			base := `{"arn":"arn:aws:iam::222222222222:role/r","region":"eu-west-1","codeBuildProject":"pp"`
			for _, raw := range []string{
				base + `,"` + tc.Variable + `":"v"}`,
				base + `,"environmentVariables":[{"name":"` + tc.Variable + `","value":"v"}]}`,
			} {
				_, err := p.Parse([]byte(raw), 2)
				if tc.OK {
					if err != nil {
						t.Errorf("Parse(%s): %v", raw, err)
					}
					continue
				}
				var it *failure.InvalidTarget
				if !errors.As(err, &it) || !strings.Contains(it.Rule, `"`+tc.Variable+`"`) || !strings.Contains(it.Rule, tc.Rule) {
					t.Errorf("Parse(%s) = %v, want InvalidTarget naming %s", raw, err, tc.Variable)
				}
			}
		})
	}
}

func TestNewNamePolicy(t *testing.T) {
	for _, tc := range loadCases[struct {
		Name  string
		Allow []string
		Error string
	}](t, "names-config.json") {
		t.Run(tc.Name, func(t *testing.T) {
			p, err := NewNamePolicy(tc.Allow, "CROSSBUILD_")
			if tc.Error == "" {
				if err != nil {
					t.Fatalf("NewNamePolicy: %v", err)
				}
				if !reflect.DeepEqual(p.Entries(), tc.Allow) && len(tc.Allow) > 0 {
					t.Errorf("entries = %v", p.Entries())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.Error) {
				t.Fatalf("NewNamePolicy(%v) = %v, want an error mentioning %q", tc.Allow, err, tc.Error)
			}
		})
	}
}

func TestMappingCheckNames(t *testing.T) {
	if err := DefaultMapping().CheckNames(NamePolicy{}); err != nil {
		t.Fatalf("default mapping: %v", err)
	}
	m := Mapping{Rename: map[string]string{"Opts": "NODE_OPTIONS"}}
	if err := m.CheckNames(NamePolicy{}); err == nil || !strings.Contains(err.Error(), `"Opts"`) {
		t.Fatalf("want the key named, got %v", err)
	}
	allowed, err := NewNamePolicy([]string{"NODE_OPTIONS"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.CheckNames(allowed); err != nil {
		t.Fatalf("allowed by name: %v", err)
	}
}

// Every entry of the deny-list is documented in docs/security.md.
func TestDeniedNamesDocumented(t *testing.T) {
	raw, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range DeniedNames() {
		if !strings.Contains(string(raw), "`"+n+"`") {
			t.Errorf("docs/security.md does not list %s", n)
		}
	}
}
