package world

import (
	"context"
	"fmt"

	"github.com/crossbuild/crossbuild/internal/awsarn"
	"github.com/crossbuild/crossbuild/internal/iam"
	"github.com/crossbuild/crossbuild/local/asl"
	"github.com/crossbuild/crossbuild/local/localaws"
	"github.com/crossbuild/crossbuild/local/s3"
)

// objectStore reads and writes the S3 objects of Step Functions' ItemReader and
// ResultWriter, acting as the execution's role: the S3 stand-in decides each call with the
// role's identity policies and the bucket policy, as S3 decides the calls Step Functions
// makes with the role's credentials.
type objectStore struct {
	s3 *s3.Service
}

var _ asl.ObjectStore = objectStore{}

func (o objectStore) GetObject(ctx context.Context, roleArn, bucket, key string) ([]byte, error) {
	p, err := roleSession(roleArn)
	if err != nil {
		return nil, err
	}
	body, err := o.s3.GetObject(ctx, p, bucket, key)
	if err != nil {
		return nil, fmt.Errorf("s3 GetObject s3://%s/%s as %s: %w", bucket, key, roleArn, err)
	}
	return body, nil
}

func (o objectStore) PutObject(ctx context.Context, roleArn, bucket, key string, body []byte) error {
	p, err := roleSession(roleArn)
	if err != nil {
		return err
	}
	if err := o.s3.PutObject(ctx, p, bucket, key, body); err != nil {
		return fmt.Errorf("s3 PutObject s3://%s/%s as %s: %w", bucket, key, roleArn, err)
	}
	return nil
}

// roleSession is the principal of a session of the role, as Step Functions holds one. The
// session name decides nothing here.
func roleSession(roleArn string) (localaws.Principal, error) {
	role, err := awsarn.ParseRole(roleArn)
	if err != nil {
		return localaws.Principal{}, err
	}
	return localaws.Principal{
		Account: role.Account,
		ARN:     fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/states", role.Partition, role.Account, role.Name),
		RoleARN: roleArn,
	}, nil
}

// operatorARN is the role World.Operator's credentials stand for.
func operatorARN(account string) string {
	return fmt.Sprintf("arn:aws:iam::%s:role/operator", account)
}

// operatorPolicy makes an operator an administrator of its account, as the person or CI
// deploying the app is.
var operatorPolicy = iam.MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)

// s3IdentityPolicies are the identity policies S3 decides with: the templates' for their
// roles, administrator rights for operators.
func (d *deployer) s3IdentityPolicies(roleARN string) []*iam.Policy {
	if p, ok := d.rolePolicies[roleARN]; ok {
		return p
	}
	if role, err := awsarn.ParseRole(roleARN); err == nil && roleARN == operatorARN(role.Account) {
		return []*iam.Policy{operatorPolicy}
	}
	return nil
}
