package envconfig

import "github.com/crossbuild/crossbuild/internal/target"

// Names of the allow-list variables, shared by every function.
const (
	AllowedAccounts = "ALLOWED_ACCOUNTS"
	AllowedRegions  = "ALLOWED_REGIONS"
	AllowedRoleARNs = "ALLOWED_ROLE_ARNS"
)

// AllowList reads the allow-list; withRoles also reads the role ARN patterns.
func (r *Reader) AllowList(withRoles bool) *target.AllowList {
	accounts, regions := r.List(AllowedAccounts), r.List(AllowedRegions)
	var roles []string
	if withRoles {
		roles = r.List(AllowedRoleARNs)
	}
	if len(accounts) == 0 || len(regions) == 0 || (withRoles && len(roles) == 0) {
		return nil // already reported
	}
	var (
		a   *target.AllowList
		err error
	)
	if withRoles {
		a, err = target.NewAllowList(accounts, regions, roles)
	} else {
		a, err = target.NewAccountRegionList(accounts, regions)
	}
	r.Check(AllowedAccounts+"/"+AllowedRegions+"/"+AllowedRoleARNs, err)
	return a
}
