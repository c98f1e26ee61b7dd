package doctor

import (
	"fmt"

	"github.com/crossbuild/crossbuild/infra/config"
	"github.com/crossbuild/crossbuild/internal/iam"
	"github.com/crossbuild/crossbuild/local/localaws"
)

// Policies are read and evaluated, not tried: the doctor's profile is not the starter's role
// (which trusts Lambda only), and PutEvents cannot send aws.* events. The evaluator is the
// one the local runtime decides AssumeRole and PutEvents with, so a policy the doctor
// passes is one the local runtime admits, and its explanation names the statement.

// allows evaluates a resource (or trust) policy for a request.
func allows(policy string, req iam.Request) (ok bool, why string, err error) {
	p, err := iam.Parse([]byte(policy))
	if err != nil {
		return false, "", err
	}
	decision, exp := p.Evaluate(req, true)
	if decision == iam.Allow {
		return true, "", nil
	}
	why = exp.String()
	if len(why) > 240 {
		why = why[:240] + "..."
	}
	return false, why, nil
}

// assumeRequest is sts:AssumeRole of the target role by a source function's role session,
// with the ExternalId, as the functions call it.
func assumeRequest(cfg *config.Config, sourceRole, targetRoleARN string) iam.Request {
	roleARN := cfg.SourceRoleARN(sourceRole)
	return iam.Request{
		Principal: localaws.Principal{
			Account: cfg.SourceAccount,
			ARN:     fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/crossbuild-%s", cfg.Partition, cfg.SourceAccount, sourceRole, sourceRole),
			RoleARN: roleARN,
			OrgID:   cfg.OrganizationID,
		},
		Action:   "sts:AssumeRole",
		Resource: targetRoleARN,
		Context:  map[string][]string{"sts:ExternalId": {cfg.ExternalID}},
	}
}

// putEventsRequest is events:PutEvents on the source bus of a forwarded CodeBuild event by a
// target account (its forwarding rule's role). With an Organization configured, the
// account is taken to be a member of it.
func putEventsRequest(cfg *config.Config, account, detailType string) iam.Request {
	root := fmt.Sprintf("arn:%s:iam::%s:root", cfg.Partition, account)
	ctx := map[string][]string{
		"events:source":      {"aws.codebuild"},
		"events:detail-type": {detailType},
	}
	if cfg.OrganizationID != "" {
		ctx["aws:PrincipalOrgID"] = []string{cfg.OrganizationID}
	}
	return iam.Request{
		Principal: localaws.Principal{Account: account, ARN: root, RoleARN: root, OrgID: cfg.OrganizationID},
		Action:    "events:PutEvents",
		Resource:  cfg.EventBusARN(),
		Context:   ctx,
	}
}
