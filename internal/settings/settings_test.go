package settings

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/crossbuild/crossbuild/internal/envconfig"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestIntBoundsAndEnv(t *testing.T) {
	for _, s := range Ints {
		if s.Default < s.Min || s.Default > s.Max {
			t.Errorf("%s: default %d outside %d..%d", s.Name, s.Default, s.Min, s.Max)
		}
		if v, err := s.Env(s.Default); err != nil || v != strconv.Itoa(s.Default) {
			t.Errorf("%s: Env(default) = %q, %v", s.Name, v, err)
		}
		if _, err := s.Env(s.Max + 1); err == nil || !strings.Contains(err.Error(), s.Name) {
			t.Errorf("%s: Env(max+1) = %v, want an error naming the variable", s.Name, err)
		}
		// What the CDK app sets is what the function reads back.
		v, _ := s.Env(s.Max)
		r := envconfig.New(env(map[string]string{s.Name: v}))
		if got := s.Read(r); got != s.Max || r.Err() != nil {
			t.Errorf("%s: Read(%s) = %d, %v", s.Name, v, got, r.Err())
		}
	}
}

func TestDurationAndDefaults(t *testing.T) {
	r := envconfig.New(env(map[string]string{RecordTTLHours.Name: "2", ClaimLeaseSeconds.Name: "1"}))
	if got := RecordTTLHours.Duration(r); got.Hours() != 2 {
		t.Errorf("RecordTTLHours = %v", got)
	}
	if got := AssumeRoleSeconds.Duration(r); got.Seconds() != 900 {
		t.Errorf("AssumeRoleSeconds default = %v", got)
	}
	ClaimLeaseSeconds.Duration(r)
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), ClaimLeaseSeconds.Name+":") {
		t.Errorf("out-of-bounds lease: %v", err)
	}
}

func TestAllowList(t *testing.T) {
	r := envconfig.New(env(map[string]string{
		AllowedAccounts: "111111111111", AllowedRegions: "eu-west-1",
		AllowedRoleARNs: "arn:aws:iam::*:role/crossbuild-target-role",
	}))
	if a := AllowList(r, true); a == nil || r.Err() != nil {
		t.Fatalf("AllowList = %v, %v", a, r.Err())
	}
	r = envconfig.New(env(map[string]string{AllowedAccounts: "1", AllowedRegions: "eu-west-1"}))
	if a := AllowList(r, false); a != nil || r.Err() == nil || !strings.Contains(r.Err().Error(), AllowedAccounts) {
		t.Errorf("bad account: %v, %v", a, r.Err())
	}
	r = envconfig.New(env(map[string]string{AllowedAccounts: "111111111111", AllowedRegions: "eu-west-1"}))
	if a := AllowList(r, true); a != nil || r.Err() == nil || !strings.Contains(r.Err().Error(), AllowedRoleARNs) {
		t.Errorf("missing roles: %v, %v", a, r.Err())
	}
}

// The Configuration table of docs/reference.md gives each whole-number setting the default
// declared here.
func TestReferenceDefaults(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "reference.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Ints {
		row := regexp.MustCompile("(?m)^\\| `" + s.Name + "` \\|.*$").Find(raw)
		cols := strings.Split(string(row), "|")
		if len(cols) < 6 {
			t.Errorf("%s has no row in docs/reference.md", s.Name)
			continue
		}
		if got := strings.Trim(strings.TrimSpace(cols[4]), "`"); got != strconv.Itoa(s.Default) {
			t.Errorf("docs/reference.md gives %s the default %q, the declaration %d", s.Name, got, s.Default)
		}
	}
}
