package target

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/crossbuild/crossbuild/internal/awsarn"
	"github.com/crossbuild/crossbuild/internal/failure"
)

// AllowList is the set of targets a deployment may reach. The same lists shape the IAM
// policies of the source stack; checking them here as well gives a named error before any
// AWS call, and keeps a mistaken policy from being the only guard.
type AllowList struct {
	accounts map[string]bool
	regions  map[string]bool
	roles    []*regexp.Regexp
	patterns []string
}

// NewAllowList validates the lists. Role patterns are role ARNs where `*` matches any run
// of characters other than ':'.
func NewAllowList(accounts, regions, rolePatterns []string) (*AllowList, error) {
	a := &AllowList{accounts: map[string]bool{}, regions: map[string]bool{}}
	for _, acct := range accounts {
		if !IsAccountID(acct) {
			return nil, fmt.Errorf("allowed account %q is not a 12-digit account id", acct)
		}
		a.accounts[acct] = true
	}
	for _, r := range regions {
		if !IsRegion(r) {
			return nil, fmt.Errorf("allowed Region %q is not a Region name", r)
		}
		a.regions[r] = true
	}
	for _, p := range rolePatterns {
		if !strings.HasPrefix(p, "arn:") || strings.Count(p, ":") != 5 {
			return nil, fmt.Errorf("allowed role pattern %q is not a role ARN pattern", p)
		}
		parts := strings.Split(p, "*")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		a.roles = append(a.roles, regexp.MustCompile("^"+strings.Join(parts, "[^:]*")+"$"))
		a.patterns = append(a.patterns, p)
	}
	if len(a.accounts) == 0 || len(a.regions) == 0 || len(a.roles) == 0 {
		return nil, fmt.Errorf("allow-list needs at least one account, one Region and one role pattern")
	}
	return a, nil
}

// NewAccountRegionList is an allow-list of accounts and Regions only, for functions that
// never assume a role; CheckRole always refuses with it.
func NewAccountRegionList(accounts, regions []string) (*AllowList, error) {
	return NewAllowList(accounts, regions, []string{"arn:none:iam::000000000000:role/none"})
}

// Check returns *failure.TargetNotAllowed when t falls outside the list.
func (a *AllowList) Check(t Target) error {
	return a.CheckRole(t.RoleARN, t.Account, t.Region)
}

// CheckRole checks a role ARN, its account and a Region.
func (a *AllowList) CheckRole(roleARN, account, region string) error {
	if !a.accounts[account] {
		return &failure.TargetNotAllowed{Field: "account", Value: account, Rule: "not in the allowed accounts " + join(a.accounts)}
	}
	if !a.regions[region] {
		return &failure.TargetNotAllowed{Field: "region", Value: region, Rule: "not in the allowed Regions " + join(a.regions)}
	}
	for _, re := range a.roles {
		if re.MatchString(roleARN) {
			return nil
		}
	}
	return &failure.TargetNotAllowed{Field: "arn", Value: roleARN, Rule: "matches none of the allowed role patterns " + strings.Join(a.patterns, ", ")}
}

// AllowsAccountRegion reports whether events from this account and Region may concern us.
func (a *AllowList) AllowsAccountRegion(account, region string) bool {
	return a.accounts[account] && a.regions[region]
}

func join(set map[string]bool) string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// ParseRoleARN returns the partition and account of a role ARN.
func ParseRoleARN(s string) (partition, account string, err error) {
	r, err := awsarn.ParseRole(s)
	if err != nil {
		return "", "", err
	}
	return r.Partition, r.Account, nil
}
