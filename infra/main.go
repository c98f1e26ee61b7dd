// Command infra is the crossbuild CDK app: it reads the cdk context, validates it, defines
// the source stack and one target stack per (account, Region), applies the cdk-nag
// AwsSolutions checks and synthesizes. `cdk.json` runs it as `go run .` from this folder.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/crossbuild/crossbuild/infra/config"
	"github.com/crossbuild/crossbuild/infra/stacks"
)

// keyDistDir names the folder holding the `make build` output (<function>/bootstrap),
// relative to the working directory; cdk runs the app from infra/.
const (
	keyDistDir     = "crossbuild:distDir"
	defaultDistDir = "../dist"
)

func main() {
	err := run()
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "crossbuild:", err)
		os.Exit(1)
	}
}

func run() (err error) {
	// CDK reports construct errors as panics through jsii; report them like any other.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("synthesis failed: %v", r)
		}
	}()
	app := awscdk.NewApp(nil)
	get := func(key string) any { return app.Node().TryGetContext(jsii.String(key)) }
	cfg, err := config.Load(get)
	if err != nil {
		return err
	}
	dist := defaultDistDir
	if s, ok := get(keyDistDir).(string); ok && s != "" {
		dist = s
	}
	dist, err = filepath.Abs(dist)
	if err != nil {
		return fmt.Errorf("%s: %w", keyDistDir, err)
	}
	// `cdk deploy` run by hand would otherwise ship whatever an earlier build left.
	if root, ok := moduleRoot(); ok {
		if err := stacks.CheckAssetsCurrent(dist, root); err != nil {
			return err
		}
	}
	if _, err := stacks.Build(app, cfg, dist); err != nil {
		return err
	}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	app.Synth(nil)
	return nil
}

// moduleRoot finds the folder of go.mod above the working directory (cdk runs the app from
// infra/), where the functions' sources are.
func moduleRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for range 32 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", false
}
