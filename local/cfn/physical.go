package cfn

import (
	"fmt"
	"strings"
)

// kind describes how CloudFormation names one resource type.
type kind struct {
	nameProp string // property holding an explicit physical name
	maxLen   int    // limit of generated names
	// arn builds the ARN from the physical name; nil when the type has none we model.
	arn func(s *Stack, name string, props map[string]any) string
	// refIsARN: Ref returns the ARN instead of the name.
	refIsARN bool
}

func arnf(service, format string) func(*Stack, string, map[string]any) string {
	return func(s *Stack, name string, _ map[string]any) string {
		return fmt.Sprintf("arn:%s:%s:%s:%s:%s", s.Partition, service, s.Region, s.Account, fmt.Sprintf(format, name))
	}
}

var kinds = map[string]kind{
	"AWS::IAM::Role": {nameProp: "RoleName", maxLen: 64, arn: func(s *Stack, name string, props map[string]any) string {
		path, _ := props["Path"].(string)
		if path == "" {
			path = "/"
		}
		return fmt.Sprintf("arn:%s:iam::%s:role%s%s", s.Partition, s.Account, path, name)
	}},
	"AWS::IAM::ManagedPolicy": {nameProp: "ManagedPolicyName", maxLen: 128, refIsARN: true, arn: func(s *Stack, name string, _ map[string]any) string {
		return fmt.Sprintf("arn:%s:iam::%s:policy/%s", s.Partition, s.Account, name)
	}},
	"AWS::IAM::Policy":                 {nameProp: "PolicyName", maxLen: 128},
	"AWS::Lambda::Function":            {nameProp: "FunctionName", maxLen: 64, arn: arnf("lambda", "function:%s")},
	"AWS::DynamoDB::Table":             {nameProp: "TableName", maxLen: 255, arn: arnf("dynamodb", "table/%s")},
	"AWS::Events::EventBus":            {nameProp: "Name", maxLen: 256, arn: arnf("events", "event-bus/%s")},
	"AWS::Events::Archive":             {nameProp: "ArchiveName", maxLen: 48, arn: arnf("events", "archive/%s")},
	"AWS::SQS::Queue":                  {nameProp: "QueueName", maxLen: 80, arn: arnf("sqs", "%s")},
	"AWS::KMS::Key":                    {maxLen: 36, arn: arnf("kms", "key/%s")},
	"AWS::KMS::Alias":                  {nameProp: "AliasName", maxLen: 256},
	"AWS::Logs::LogGroup":              {nameProp: "LogGroupName", maxLen: 512, arn: arnf("logs", "log-group:%s:*")},
	"AWS::StepFunctions::StateMachine": {nameProp: "StateMachineName", maxLen: 80, refIsARN: true, arn: arnf("states", "stateMachine:%s")},
	"AWS::CodeBuild::Project":          {nameProp: "Name", maxLen: 255, arn: arnf("codebuild", "project/%s")},
	"AWS::CloudWatch::Alarm":           {nameProp: "AlarmName", maxLen: 255, arn: arnf("cloudwatch", "alarm:%s")},
	"AWS::CloudWatch::Dashboard":       {nameProp: "DashboardName", maxLen: 255},
	"AWS::SNS::Topic":                  {nameProp: "TopicName", maxLen: 256, refIsARN: true, arn: arnf("sns", "%s")},
	"AWS::Events::Rule":                {nameProp: "Name", maxLen: 64},
	"AWS::Lambda::Permission":          {maxLen: 64},
	"AWS::Events::EventBusPolicy":      {nameProp: "StatementId", maxLen: 64},
	"AWS::SQS::QueuePolicy":            {maxLen: 64},
	"AWS::Lambda::EventInvokeConfig":   {maxLen: 64},
	"AWS::CDK::Metadata":               {maxLen: 64},
	"AWS::Logs::ResourcePolicy":        {nameProp: "PolicyName", maxLen: 255},
	"AWS::IAM::InstanceProfile":        {nameProp: "InstanceProfileName", maxLen: 128},
	"AWS::Lambda::EventSourceMapping":  {maxLen: 64},
	"AWS::SNS::TopicPolicy":            {maxLen: 64},
	"AWS::KMS::ReplicaKey":             {maxLen: 36},
	"AWS::CloudWatch::CompositeAlarm":  {nameProp: "AlarmName", maxLen: 255},
	"AWS::StepFunctions::Activity":     {nameProp: "Name", maxLen: 80, refIsARN: true, arn: arnf("states", "activity:%s")},
	// Bucket ARNs name neither Region nor account: bucket names are global.
	"AWS::S3::Bucket": {nameProp: "BucketName", maxLen: 63, arn: func(s *Stack, name string, _ map[string]any) string {
		return fmt.Sprintf("arn:%s:s3:::%s", s.Partition, name)
	}},
	"AWS::S3::BucketPolicy": {maxLen: 64},
}

// PhysicalName returns a resource's physical name: its explicit name property or a
// generated one.
func (s *Stack) PhysicalName(logicalID string) (string, error) { return s.physicalName(logicalID) }

func (s *Stack) physicalName(logicalID string) (string, error) {
	r, ok := s.Template.Resources[logicalID]
	if !ok {
		return "", fmt.Errorf("stack %s has no resource %s", s.Name, logicalID)
	}
	k, known := kinds[r.Type]
	if !known {
		return "", fmt.Errorf("stack %s: resource %s: type %s is not supported by the local runtime", s.Name, logicalID, r.Type)
	}
	if k.nameProp != "" {
		if raw, ok := r.Properties[k.nameProp]; ok {
			v, err := s.resolve(raw, logicalID+".Properties."+k.nameProp)
			if err != nil {
				return "", err
			}
			name, err := scalar(v)
			if err != nil {
				return "", fmt.Errorf("stack %s: %s.%s: %w", s.Name, logicalID, k.nameProp, err)
			}
			return name, nil
		}
	}
	if r.Type == "AWS::KMS::Key" {
		h := strings.ToLower(s.suffix(logicalID, 32))
		return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], nil
	}
	// CloudFormation: <stack>-<logicalId>-<random>, shortened to the type's limit.
	suffix := s.suffix(logicalID, 12)
	base := s.Name + "-" + logicalID
	if max := k.maxLen - len(suffix) - 1; len(base) > max {
		base = base[:max]
	}
	if r.Type == "AWS::S3::Bucket" {
		// Bucket names admit lowercase letters only.
		return strings.ToLower(base + "-" + suffix), nil
	}
	return base + "-" + suffix, nil
}

// RefOf returns what Ref returns for a resource.
func (s *Stack) RefOf(logicalID string) (string, error) {
	name, err := s.physicalName(logicalID)
	if err != nil {
		return "", err
	}
	r := s.Template.Resources[logicalID]
	k := kinds[r.Type]
	switch {
	case r.Type == "AWS::SQS::Queue":
		return fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", s.Region, s.Account, name), nil
	case r.Type == "AWS::Events::Rule":
		if bus := s.ruleBus(logicalID); bus != "default" {
			return bus + "|" + name, nil
		}
		return name, nil
	case k.refIsARN:
		return s.arnOf(logicalID, name)
	}
	return name, nil
}

// GetAtt returns a resource attribute.
func (s *Stack) GetAtt(logicalID, attr string) (string, error) {
	r, ok := s.Template.Resources[logicalID]
	if !ok {
		return "", fmt.Errorf("stack %s: GetAtt of unknown resource %s", s.Name, logicalID)
	}
	name, err := s.physicalName(logicalID)
	if err != nil {
		return "", err
	}
	switch {
	case attr == "Arn" || (attr == "TopicArn" && r.Type == "AWS::SNS::Topic"):
		return s.arnOf(logicalID, name)
	case attr == "Name" || attr == "QueueName":
		return name, nil
	case attr == "RoleId":
		return "AROA" + s.suffix(logicalID, 17), nil
	case attr == "KeyId":
		return name, nil
	case attr == "QueueUrl":
		return s.RefOf(logicalID)
	case r.Type == "AWS::S3::Bucket" && (attr == "DomainName" || attr == "RegionalDomainName" || attr == "DualStackDomainName"):
		suffix := "amazonaws.com"
		if s.Partition == "aws-cn" {
			suffix = "amazonaws.com.cn"
		}
		host := map[string]string{
			"DomainName":          name + ".s3." + suffix,
			"RegionalDomainName":  name + ".s3." + s.Region + "." + suffix,
			"DualStackDomainName": name + ".s3.dualstack." + s.Region + "." + suffix,
		}[attr]
		return host, nil
	case attr == "StreamArn" && r.Type == "AWS::DynamoDB::Table":
		a, err := s.arnOf(logicalID, name)
		return a + "/stream/1970-01-01T00:00:00.000", err
	}
	return "", fmt.Errorf("stack %s: GetAtt %s.%s (%s) is not supported by the local runtime", s.Name, logicalID, attr, r.Type)
}

func (s *Stack) arnOf(logicalID, name string) (string, error) {
	r := s.Template.Resources[logicalID]
	k := kinds[r.Type]
	if r.Type == "AWS::Events::Rule" {
		bus := s.ruleBus(logicalID)
		if bus != "default" {
			name = bus + "/" + name
		}
		return fmt.Sprintf("arn:%s:events:%s:%s:rule/%s", s.Partition, s.Region, s.Account, name), nil
	}
	if k.arn == nil {
		return "", fmt.Errorf("stack %s: resource %s (%s) has no ARN in the local runtime", s.Name, logicalID, r.Type)
	}
	props, _ := s.resolve(r.Properties, logicalID+".Properties")
	m, _ := props.(map[string]any)
	return k.arn(s, name, m), nil
}

// ruleBus returns the bus name of a rule ("default" when none is given).
func (s *Stack) ruleBus(logicalID string) string {
	raw, ok := s.Template.Resources[logicalID].Properties["EventBusName"]
	if !ok {
		return "default"
	}
	v, err := s.resolve(raw, logicalID+".Properties.EventBusName")
	if err != nil {
		return "default"
	}
	str, _ := scalar(v)
	if i := strings.LastIndex(str, "/"); strings.HasPrefix(str, "arn:") && i >= 0 {
		str = str[i+1:]
	}
	if str == "" {
		return "default"
	}
	return str
}
