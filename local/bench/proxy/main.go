// Command proxy is a Go stand-in for the original pattern's proxy function, for the
// benchmark's model of that pattern (local/bench). One handler, two requests, as the
// original's: START_BUILD assumes the target role, starts the build with the given
// variables and returns its input with the build's id and IN_PROGRESS; CHECK_STATUS
// assumes the role again, reads the build with BatchGetBuilds and returns its input with
// the build's status. It keeps no state and writes no log line per call beyond Lambda's.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// request is what the model's tasks send; the answer is the request with two fields set.
type request struct {
	InvocationType       string         `json:"invocationType"`
	RoleArn              string         `json:"roleArn"`
	Region               string         `json:"region"`
	CodeBuildProject     string         `json:"codeBuildProject,omitempty"`
	EnvironmentVariables []envVar       `json:"environmentVariables,omitempty"`
	JobID                string         `json:"jobId,omitempty"`
	OriginalPayload      map[string]any `json:"OriginalPayload"`
	CodeBuildJobID       string         `json:"CodeBuildJobId,omitempty"`
	CodeBuildJobStatus   string         `json:"CodeBuildJobStatus,omitempty"`
}

type envVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Type  string `json:"type"`
}

type handler struct {
	sts        *sts.Client
	base       aws.Config
	externalID string // the target roles here require one; the original's did not
}

func (h *handler) codeBuild(role, region string) *codebuild.Client {
	// A fresh session per call, as the original assumes the role on every invocation.
	creds := stscreds.NewAssumeRoleProvider(h.sts, role, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = "cross_account_role"
		if h.externalID != "" {
			o.ExternalID = aws.String(h.externalID)
		}
	})
	return codebuild.NewFromConfig(h.base, func(o *codebuild.Options) {
		o.Region = region
		o.Credentials = aws.NewCredentialsCache(creds)
	})
}

func (h *handler) Handle(ctx context.Context, r request) (request, error) {
	if r.RoleArn == "" || r.Region == "" {
		return r, errors.New("the request names no roleArn or region")
	}
	cb := h.codeBuild(r.RoleArn, r.Region)
	switch r.InvocationType {
	case "START_BUILD":
		vars := make([]cbtypes.EnvironmentVariable, 0, len(r.EnvironmentVariables))
		for _, v := range r.EnvironmentVariables {
			vars = append(vars, cbtypes.EnvironmentVariable{Name: aws.String(v.Name), Value: aws.String(v.Value), Type: cbtypes.EnvironmentVariableType(v.Type)})
		}
		out, err := cb.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String(r.CodeBuildProject), EnvironmentVariablesOverride: vars})
		if err != nil {
			return r, fmt.Errorf("start %s: %w", r.CodeBuildProject, err)
		}
		r.CodeBuildJobID, r.CodeBuildJobStatus = aws.ToString(out.Build.Id), "IN_PROGRESS"
	case "CHECK_STATUS":
		out, err := cb.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{r.JobID}})
		if err != nil || len(out.Builds) == 0 {
			return r, fmt.Errorf("read build %s: %w", r.JobID, err)
		}
		r.CodeBuildJobID, r.CodeBuildJobStatus = r.JobID, string(out.Builds[0].BuildStatus)
	default:
		return r, fmt.Errorf("unknown invocationType %q", r.InvocationType)
	}
	return r, nil
}

func main() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxy:", err)
		os.Exit(1)
	}
	h := &handler{sts: sts.NewFromConfig(cfg), base: cfg, externalID: os.Getenv("EXTERNAL_ID")}
	lambda.Start(h.Handle)
}
