package eventbridge

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

var (
	accountRE  = regexp.MustCompile(`^[0-9]{12}$`)
	regionRE   = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	busNameRE  = regexp.MustCompile(`^[A-Za-z0-9/._-]{1,256}$`)
	ruleNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	archiveRE  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,48}$`)
	targetIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
)

// busKey identifies a bus.
type busKey struct {
	account, region, name string
}

func (k busKey) String() string { return k.account + "/" + k.region + "/" + k.name }

// arnParts is an ARN split into its fields; resource is everything after the
// fifth colon.
type arnParts struct {
	partition, service, region, account, resource string
}

func parseARN(s string) (arnParts, error) {
	a, err := arn.Parse(s)
	if err != nil {
		return arnParts{}, fmt.Errorf("%q is not an ARN", s)
	}
	return arnParts{partition: a.Partition, service: a.Service, region: a.Region, account: a.AccountID, resource: a.Resource}, nil
}

// parseBusARN reads arn:<partition>:events:<region>:<account>:event-bus/<name>.
func parseBusARN(s string) (busKey, error) {
	a, err := parseARN(s)
	if err != nil {
		return busKey{}, err
	}
	name, ok := strings.CutPrefix(a.resource, "event-bus/")
	if a.service != "events" || !ok {
		return busKey{}, fmt.Errorf("%q is not an event bus ARN", s)
	}
	k := busKey{account: a.account, region: a.region, name: name}
	return k, validateBusKey(k)
}

func validateBusKey(k busKey) error {
	if !accountRE.MatchString(k.account) {
		return fmt.Errorf("account %q is not a 12-digit account id", k.account)
	}
	if !regionRE.MatchString(k.region) {
		return fmt.Errorf("region %q is not a Region name", k.region)
	}
	if !busNameRE.MatchString(k.name) {
		return fmt.Errorf("event bus name %q is not valid", k.name)
	}
	return nil
}

// isLambdaARN reports whether s names a Lambda function (optionally with a
// version or alias).
func isLambdaARN(s string) bool {
	a, err := parseARN(s)
	if err != nil || a.service != "lambda" || !accountRE.MatchString(a.account) || a.region == "" {
		return false
	}
	name, ok := strings.CutPrefix(a.resource, "function:")
	return ok && name != ""
}

// roleAccount returns the account of arn:<partition>:iam::<account>:role/<name>.
func roleAccount(s string) (string, error) {
	a, err := parseARN(s)
	if err != nil {
		return "", err
	}
	if a.service != "iam" || a.region != "" || !accountRE.MatchString(a.account) || !strings.HasPrefix(a.resource, "role/") {
		return "", fmt.Errorf("%q is not an IAM role ARN", s)
	}
	return a.account, nil
}

// roleName returns the last path element of a role ARN's resource.
func roleName(s string) string {
	return s[strings.LastIndex(s, "/")+1:]
}

func (s *Service) busARN(k busKey) string {
	return fmt.Sprintf("arn:%s:events:%s:%s:event-bus/%s", s.partition, k.region, k.account, k.name)
}

// ruleARN follows AWS: rules of the default bus omit the bus name.
func (s *Service) ruleARN(k busKey, rule string) string {
	if k.name == DefaultBus {
		return fmt.Sprintf("arn:%s:events:%s:%s:rule/%s", s.partition, k.region, k.account, rule)
	}
	return fmt.Sprintf("arn:%s:events:%s:%s:rule/%s/%s", s.partition, k.region, k.account, k.name, rule)
}

// resolveBus turns a bus name or ARN used by account in region into its key.
// An empty name is the default bus.
func resolveBus(nameOrARN, account, region string) (busKey, error) {
	if nameOrARN == "" {
		return busKey{account: account, region: region, name: DefaultBus}, nil
	}
	if strings.HasPrefix(nameOrARN, "arn:") {
		return parseBusARN(nameOrARN)
	}
	k := busKey{account: account, region: region, name: nameOrARN}
	if !busNameRE.MatchString(nameOrARN) {
		return busKey{}, fmt.Errorf("event bus name %q is not valid", nameOrARN)
	}
	return k, nil
}

// inputPath is a compiled InputPath: "$" or dotted field names.
type inputPath []string

func parseInputPath(p string) (inputPath, error) {
	if p == "$" {
		return inputPath{}, nil
	}
	rest, ok := strings.CutPrefix(p, "$.")
	if !ok {
		return nil, fmt.Errorf("%q must be $ or start with $.", p)
	}
	fields := strings.Split(rest, ".")
	for _, f := range fields {
		if f == "" || strings.ContainsAny(f, "[]*?@()'\" ") {
			return nil, fmt.Errorf("%q: only dotted field names are supported", p)
		}
	}
	return fields, nil
}

var errPathMissing = errors.New("no value at the path")

// apply selects the value at the path in a decoded event.
func (p inputPath) apply(doc any) (any, error) {
	v := doc
	for _, f := range p {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, errPathMissing
		}
		if v, ok = obj[f]; !ok {
			return nil, errPathMissing
		}
	}
	return v, nil
}
