package main

import (
	"github.com/crossbuild/crossbuild/internal/envconfig"
	"github.com/crossbuild/crossbuild/internal/plan"
	"github.com/crossbuild/crossbuild/internal/settings"
)

// config is the planner's environment (docs/reference.md, "Configuration").
type config struct {
	Bucket   string
	Defaults plan.Defaults
}

func loadConfig(lookup func(string) (string, bool)) (config, error) {
	r := envconfig.New(lookup)
	c := config{
		Bucket: r.Bucket(settings.Bucket),
		Defaults: plan.Defaults{
			MaxConcurrency:      settings.DefaultMaxConcurrency.Read(r),
			HeartbeatSeconds:    settings.DefaultHeartbeatSeconds.Read(r),
			TimeoutSeconds:      settings.DefaultTimeoutSeconds.Read(r),
			PollIntervalSeconds: settings.DefaultPollIntervalSeconds.Read(r),
		},
	}
	if r.Err() == nil {
		r.Check(settings.DefaultTimeoutSeconds.Name, c.Defaults.Validate())
	}
	return c, r.Err()
}
