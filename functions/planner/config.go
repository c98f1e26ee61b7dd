package main

import (
	"github.com/crossbuild/crossbuild/internal/envconfig"
	"github.com/crossbuild/crossbuild/internal/plan"
)

// config is the planner's environment (docs/reference.md, "Configuration").
type config struct {
	Bucket   string
	Defaults plan.Defaults
}

func loadConfig(lookup func(string) (string, bool)) (config, error) {
	r := envconfig.New(lookup)
	c := config{
		Bucket: r.Bucket("CROSSBUILD_BUCKET"),
		Defaults: plan.Defaults{
			MaxConcurrency:      r.Int("DEFAULT_MAX_CONCURRENCY", 10, 0, plan.MaxConcurrencyLimit),
			HeartbeatSeconds:    r.Int("DEFAULT_HEARTBEAT_SECONDS", 3600, plan.MinHeartbeatSeconds, plan.MaxHeartbeatSeconds),
			TimeoutSeconds:      r.Int("DEFAULT_TIMEOUT_SECONDS", 28800, plan.MinTimeoutSeconds, plan.MaxTimeoutSeconds),
			PollIntervalSeconds: r.Int("DEFAULT_POLL_INTERVAL_SECONDS", 20, plan.MinPollSeconds, plan.MaxPollSeconds),
		},
	}
	if r.Err() == nil {
		r.Check("DEFAULT_TIMEOUT_SECONDS", c.Defaults.Validate())
	}
	return c, r.Err()
}
