// Package awsarn reads the ARNs crossbuild names roles and principals with: the SDK's
// aws/arn splits them, and this package adds what IAM requires of each kind on top.
package awsarn

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/crossbuild/crossbuild/internal/partition"
)

var (
	accountRe  = regexp.MustCompile(`^[0-9]{12}$`)
	roleNameRe = regexp.MustCompile(`^[\w+=,.@-]+$`) // at most 64 characters, checked apart
	// rolePathRe is "/" or "/…/" of printable ASCII.
	rolePathRe = regexp.MustCompile(`^/(?:[\x21-\x7e]*/)?$`)
)

// maxRolePath is IAM's limit on a role's path, slashes included.
const maxRolePath = 512

// Role is an IAM role ARN: arn:<partition>:iam::<account>:role/<path/><name>.
type Role struct {
	Partition, Account string
	Path               string // "/" or "/a/b/"
	Name               string
}

// String returns the role's ARN.
func (r Role) String() string {
	return "arn:" + r.Partition + ":iam::" + r.Account + ":role" + r.Path + r.Name
}

// ParseRole reads an IAM role ARN of a known partition.
func ParseRole(s string) (Role, error) {
	a, err := arn.Parse(s)
	if err != nil {
		return Role{}, fmt.Errorf("%q is not an ARN: %w", s, err)
	}
	rest, ok := strings.CutPrefix(a.Resource, "role/")
	if a.Service != "iam" || a.Region != "" || !ok {
		return Role{}, fmt.Errorf("%q is not an IAM role ARN", s)
	}
	if !partition.Known(a.Partition) {
		return Role{}, fmt.Errorf("role ARN %q: unknown partition %q", s, a.Partition)
	}
	if !accountRe.MatchString(a.AccountID) {
		return Role{}, fmt.Errorf("role ARN %q: account %q is not 12 digits", s, a.AccountID)
	}
	i := strings.LastIndex(rest, "/")
	r := Role{Partition: a.Partition, Account: a.AccountID, Path: "/" + rest[:i+1], Name: rest[i+1:]}
	if len(r.Path) > maxRolePath {
		return Role{}, fmt.Errorf("role ARN %q: the path is longer than %d characters", s, maxRolePath)
	}
	if !rolePathRe.MatchString(r.Path) || len(r.Name) > 64 || !roleNameRe.MatchString(r.Name) {
		return Role{}, fmt.Errorf("role ARN %q: the path or name breaks IAM's rules", s)
	}
	return r, nil
}
