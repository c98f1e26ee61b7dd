package iam

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossbuild/crossbuild/local/localaws"
)

// evalCase is one entry of testdata/cases/*.json: a policy given inline or by file name
// (under testdata/policies), a request, and the expected decision. Explain, when set, must
// occur in the explanation's String.
type evalCase struct {
	Name           string          `json:"name"`
	Policy         json.RawMessage `json:"policy"`
	PolicyFile     string          `json:"policyFile"`
	ResourcePolicy bool            `json:"resourcePolicy"`
	Request        Request         `json:"request"`
	Expect         *Decision       `json:"expect"`
	Explain        string          `json:"explain"`
}

func readFixture(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}

func (c evalCase) document(t testing.TB) []byte {
	t.Helper()
	if c.PolicyFile != "" {
		return readFixture(t, filepath.Join("testdata", "policies", c.PolicyFile))
	}
	if len(c.Policy) == 0 {
		t.Fatalf("case %q has no policy", c.Name)
	}
	return c.Policy
}

func loadEvalCases(t testing.TB) map[string][]evalCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "cases", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no case files: %v", err)
	}
	all := map[string][]evalCase{}
	for _, f := range files {
		var cases []evalCase
		if err := json.Unmarshal(readFixture(t, f), &cases); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, c := range cases {
			if c.Name == "" || c.Expect == nil {
				t.Fatalf("%s: case %q needs a name and an expected decision", f, c.Name)
			}
		}
		all[strings.TrimSuffix(filepath.Base(f), ".json")] = cases
	}
	return all
}

func TestEvaluateFixtures(t *testing.T) {
	for file, cases := range loadEvalCases(t) {
		t.Run(file, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.Name, func(t *testing.T) {
					p, err := Parse(c.document(t))
					if err != nil {
						t.Fatalf("Parse: %v", err)
					}
					got, exp := p.Evaluate(c.Request, c.ResourcePolicy)
					if got != *c.Expect {
						t.Fatalf("decision = %v, want %v\nexplanation: %s", got, *c.Expect, exp)
					}
					if exp.Decision != got {
						t.Fatalf("explanation decision %v != %v", exp.Decision, got)
					}
					if c.Explain != "" && !strings.Contains(exp.String(), c.Explain) {
						t.Fatalf("explanation %q\n does not contain %q", exp, c.Explain)
					}
				})
			}
		})
	}
}

type invalidCase struct {
	Name   string          `json:"name"`
	Policy json.RawMessage `json:"policy"`
	Raw    *string         `json:"raw"`
	Error  string          `json:"error"`
}

func TestParseRejects(t *testing.T) {
	var cases []invalidCase
	if err := json.Unmarshal(readFixture(t, filepath.Join("testdata", "invalid.json")), &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			doc := []byte(c.Policy)
			if c.Raw != nil {
				doc = []byte(*c.Raw)
			}
			p, err := Parse(doc)
			if err == nil {
				t.Fatalf("Parse accepted %s as %d statements", doc, p.Len())
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not *ParseError", err)
			}
			if !strings.Contains(err.Error(), c.Error) {
				t.Fatalf("error %q\n does not contain %q", err, c.Error)
			}
		})
	}
}

// Every fixture policy parses: a rejected fixture would otherwise only show up as a failing
// evaluation case.
func TestFixturePoliciesParse(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "policies", "*.json"))
	for _, f := range files {
		if _, err := Parse(readFixture(t, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestEvaluateAll(t *testing.T) {
	allowAll := MustParse(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}`)
	denyOne := MustParse(`{"Version":"2012-10-17","Statement":{"Sid":"NoProd","Effect":"Deny","Action":"sts:*","Resource":"arn:aws:iam::*:role/prod-*"}}`)
	caller := localaws.Principal{Account: "111111111111", ARN: "arn:aws:iam::111111111111:role/a", RoleARN: "arn:aws:iam::111111111111:role/a"}
	cases := []struct {
		name     string
		resource string
		policies []*Policy
		want     Decision
		explain  string
	}{
		{"allow from one policy", "arn:aws:iam::222222222222:role/dev", []*Policy{allowAll, denyOne}, Allow, "allowed by policy 0 statement 0"},
		{"deny from another policy wins", "arn:aws:iam::222222222222:role/prod-x", []*Policy{allowAll, denyOne}, ExplicitDeny, `explicitly denied by policy 1 statement 0 (Sid "NoProd")`},
		{"no policies", "arn:aws:iam::222222222222:role/dev", nil, ImplicitDeny, "no statement allows sts:AssumeRole on arn:aws:iam::222222222222:role/dev"},
		{"nil policies are skipped", "arn:aws:iam::222222222222:role/dev", []*Policy{nil, allowAll}, Allow, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, exp := EvaluateAll(Request{Principal: caller, Action: "sts:AssumeRole", Resource: c.resource}, false, c.policies...)
			if got != c.want || !strings.Contains(exp.String(), c.explain) {
				t.Fatalf("got %v %q, want %v containing %q", got, exp, c.want, c.explain)
			}
		})
	}
}

func TestExplanationDeciding(t *testing.T) {
	p := MustParse(`{"Version":"2012-10-17","Statement":[
		{"Sid":"Account","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"},
		{"Sid":"Role","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/a"},"Action":"sts:AssumeRole"}]}`)
	caller := localaws.Principal{Account: "111111111111", ARN: "arn:aws:sts::111111111111:assumed-role/a/s", RoleARN: "arn:aws:iam::111111111111:role/a"}
	d, exp := p.Evaluate(Request{Principal: caller, Action: "sts:AssumeRole"}, true)
	if d != Allow || len(exp.Applied) != 2 {
		t.Fatalf("%v %+v", d, exp)
	}
	s, ok := exp.Deciding()
	if !ok || s.Sid != "Account" || s.PrincipalKind != PrincipalAccount || exp.Applied[1].PrincipalKind != PrincipalARN {
		t.Fatalf("deciding %+v applied %+v", s, exp.Applied)
	}
	if _, ok := (&Explanation{}).Deciding(); ok {
		t.Fatal("an implicit deny has no deciding statement")
	}
}

func TestDecisionText(t *testing.T) {
	for _, d := range []Decision{Allow, ImplicitDeny, ExplicitDeny} {
		b, _ := d.MarshalText()
		var back Decision
		if err := back.UnmarshalText(b); err != nil || back != d {
			t.Fatalf("%v -> %s -> %v %v", d, b, back, err)
		}
	}
	var d Decision
	if err := d.UnmarshalText([]byte("Deny")); err == nil {
		t.Fatal("accepted Deny")
	}
	if Decision(0) != ImplicitDeny {
		t.Fatal("the zero Decision must deny")
	}
}

func TestMatchElems(t *testing.T) {
	cases := []struct {
		pat, s string
		fold   bool
		want   bool
	}{
		{"*", "", false, true},
		{"a*b*c", "aXbYbZc", false, true},
		{"a*b*c", "aXbYbZ", false, false},
		{"a?c", "abc", false, true},
		{"a?c", "ac", false, false},
		{"**a", "bba", false, true},
		{"ÄB*", "äbx", true, true},
		{"ÄB*", "äbx", false, false},
		{"*x*x*x*x*x*y", strings.Repeat("x", 200), false, false},
	}
	for _, c := range cases {
		p, err := compilePattern(c.pat, true, false)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := p.match(c.s, nil, c.fold); got != c.want {
			t.Errorf("match(%q, %q, fold=%v) = %v", c.pat, c.s, c.fold, got)
		}
	}
}

// FuzzParse: Parse never panics, and whatever it accepts evaluates without panicking.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "policies", "*.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"Statement":{"Effect":"Deny","NotAction":"*","NotResource":"arn:aws:s3:::${aws:username}/*","Condition":{"ForAllValues:StringLikeIfExists":{"k":["${*}?"]}}}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := Parse(doc)
		if err != nil {
			return
		}
		r := Request{
			Principal: localaws.Principal{Account: "111111111111", ARN: "arn:aws:sts::111111111111:assumed-role/r/s", RoleARN: "arn:aws:iam::111111111111:role/r", OrgID: "o-a1b2c3d4e5"},
			Service:   "events.amazonaws.com", Action: "sts:AssumeRole", Resource: "arn:aws:iam::222222222222:role/t",
			Context: map[string][]string{"k": {"v", "w"}, "aws:username": {"u"}},
		}
		for _, rp := range []bool{true, false} {
			_, exp := p.Evaluate(r, rp)
			_ = exp.String()
		}
	})
}

func TestParseStatement(t *testing.T) {
	// The Statement property of an AWS::Events::EventBusPolicy, as CDK synthesizes it.
	p, err := ParseStatement([]byte(`{"Action":"events:PutEvents","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},
		"Resource":"arn:aws:events:eu-west-1:111111111111:event-bus/crossbuild","Sid":"crossbuild-222222222222"}`))
	if err != nil {
		t.Fatal(err)
	}
	caller := localaws.Principal{Account: "222222222222", ARN: "arn:aws:iam::222222222222:root"}
	if d, exp := p.Evaluate(Request{Principal: caller, Action: "events:PutEvents", Resource: "arn:aws:events:eu-west-1:111111111111:event-bus/crossbuild"}, true); d != Allow {
		t.Fatalf("%v %s", d, exp)
	}
	for _, bad := range []string{`"Allow"`, `{"Effect":"Allow"}`, `{"Effect":"Allow","Action":"*"} trailing`, ``} {
		if _, err := ParseStatement([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
