package main

import (
	"time"

	"github.com/crossbuild/crossbuild/internal/envconfig"
	"github.com/crossbuild/crossbuild/internal/settings"
	"github.com/crossbuild/crossbuild/internal/target"
)

// config is the callback's environment (docs/reference.md, "Configuration").
type config struct {
	Table   string
	Allow   *target.AllowList
	Lease   time.Duration
	ParkTTL time.Duration
}

func loadConfig(lookup func(string) (string, bool)) (config, error) {
	r := envconfig.New(lookup)
	c := config{
		Table:   r.String(settings.TableName),
		Allow:   settings.AllowList(r, false),
		Lease:   settings.ClaimLeaseSeconds.Duration(r),
		ParkTTL: settings.RecordTTLHours.Duration(r),
	}
	return c, r.Err()
}
