// Package stacks defines the crossbuild CloudFormation stacks: one source stack and one
// target stack per (account, Region), all with explicit environments so that synthesis
// needs neither credentials nor network.
package stacks

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/crossbuild/crossbuild/infra/config"
)

// Functions are the Lambda functions of the source stack, by their folder under the
// asset directory (the `make build` output: dist/<function>/bootstrap).
var Functions = []string{"planner", "starter", "callback", "poller", "summariser", "canceller", "reconciler"}

// Deployment holds every stack of one crossbuild installation.
type Deployment struct {
	Source  *Source
	Targets []*Target
}

// Build adds the source stack and the target stacks to app.
func Build(app awscdk.App, cfg *config.Config, assetDir string) (*Deployment, error) {
	src, err := NewSourceStack(app, cfg, assetDir)
	if err != nil {
		return nil, err
	}
	d := &Deployment{Source: src}
	for _, t := range cfg.Targets {
		d.Targets = append(d.Targets, NewTargetStack(app, cfg, t))
	}
	awscdk.Tags_Of(app).Add(jsii.String("project"), jsii.String("crossbuild"), nil)
	return d, nil
}

// CheckAssets verifies that every function's bootstrap exists under dir, so a missing
// build fails synthesis with a clear message instead of an empty or stale asset.
func CheckAssets(dir string) error {
	var errs []error
	for _, fn := range Functions {
		p := filepath.Join(dir, fn, "bootstrap")
		info, err := os.Stat(p)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("Lambda asset %s is missing: run `make build` first (it writes dist/%s/bootstrap for linux/arm64)", p, fn))
		case !info.Mode().IsRegular():
			errs = append(errs, fmt.Errorf("Lambda asset %s is not a regular file", p))
		}
	}
	return errors.Join(errs...)
}

// stackTags are set on every stack explicitly: with @aws-cdk/core:explicitStackTags (a
// recommended flag, cdk.json) tags added to the app reach the resources but not the stacks.
func stackTags() *map[string]*string {
	return &map[string]*string{"project": jsii.String("crossbuild")}
}

func env(account, region string) *awscdk.Environment {
	return &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}
}
