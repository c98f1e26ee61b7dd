package main

import (
	"time"

	"github.com/crossbuild/crossbuild/internal/assume"
	"github.com/crossbuild/crossbuild/internal/envconfig"
	"github.com/crossbuild/crossbuild/internal/polling"
	"github.com/crossbuild/crossbuild/internal/target"
)

// config is the poller's environment (docs/reference.md, "Configuration").
type config struct {
	Table               string
	ExternalID          string
	Allow               *target.AllowList
	DefaultPollInterval int
	MaxPollInterval     int
	SessionDuration     time.Duration
}

func loadConfig(lookup func(string) (string, bool)) (config, error) {
	r := envconfig.New(lookup)
	c := config{
		Table:               r.String("TABLE_NAME"),
		ExternalID:          r.String("EXTERNAL_ID"),
		Allow:               r.AllowList(true),
		DefaultPollInterval: r.Int("DEFAULT_POLL_INTERVAL_SECONDS", 20, polling.MinIntervalSeconds, polling.MaxIntervalSeconds),
		MaxPollInterval:     r.Int("MAX_POLL_INTERVAL_SECONDS", polling.DefaultCapSeconds, polling.MinIntervalSeconds, polling.MaxIntervalSeconds),
		SessionDuration:     time.Duration(r.Int("ASSUME_ROLE_SECONDS", 900, 900, 3600)) * time.Second,
	}
	if c.ExternalID != "" {
		r.Check("EXTERNAL_ID", assume.Validate(c.ExternalID, c.SessionDuration))
	}
	return c, r.Err()
}
