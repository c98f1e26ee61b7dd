package s3

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/internal/iam"
	"github.com/crossbuild/crossbuild/local/localaws"
)

// fixture is testdata/world.json: buckets and the identity policies of roles.
type fixture struct {
	Buckets          []Bucket                     `json:"buckets"`
	IdentityPolicies map[string][]json.RawMessage `json:"identityPolicies"`
}

func readJSON(t testing.TB, name string, v any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

var epoch = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// newFixtureService returns a stand-in with the fixture's buckets and policies.
func newFixtureService(t testing.TB) *Service {
	t.Helper()
	var f fixture
	readJSON(t, "world.json", &f)
	s := New(Options{Now: func() time.Time { return epoch }})
	for _, b := range f.Buckets {
		if err := s.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	policies := map[string][]*iam.Policy{}
	for role, docs := range f.IdentityPolicies {
		for _, d := range docs {
			p, err := iam.Parse(d)
			if err != nil {
				t.Fatalf("identity policy of %s: %v", role, err)
			}
			policies[role] = append(policies[role], p)
		}
	}
	s.SetIdentityPolicies(func(roleARN string) []*iam.Policy { return policies[roleARN] })
	return s
}

// principal makes the caller an ARN stands for: an account's root user or a role session.
func principal(arn string) localaws.Principal {
	parts := strings.SplitN(arn, ":", 6)
	p := localaws.Principal{Account: parts[4], ARN: arn, RoleARN: arn}
	if rest, ok := strings.CutPrefix(parts[5], "assumed-role/"); ok {
		role, _, _ := strings.Cut(rest, "/")
		p.RoleARN = "arn:" + parts[1] + ":iam::" + parts[4] + ":role/" + role
	}
	return p
}
