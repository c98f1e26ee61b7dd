package main

import (
	"time"

	"github.com/crossbuild/crossbuild/internal/assume"
	"github.com/crossbuild/crossbuild/internal/envconfig"
	"github.com/crossbuild/crossbuild/internal/settings"
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
		Table:               r.String(settings.TableName),
		ExternalID:          r.String(settings.ExternalID),
		Allow:               settings.AllowList(r, true),
		DefaultPollInterval: settings.DefaultPollIntervalSeconds.Read(r),
		MaxPollInterval:     settings.MaxPollIntervalSeconds.Read(r),
		SessionDuration:     settings.AssumeRoleSeconds.Duration(r),
	}
	if c.ExternalID != "" {
		r.Check(settings.ExternalID, assume.Validate(c.ExternalID, c.SessionDuration))
	}
	return c, r.Err()
}
