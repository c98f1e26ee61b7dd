package main

import (
	"time"

	"github.com/crossbuild/crossbuild/internal/envconfig"
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
		Table:   r.String("TABLE_NAME"),
		Allow:   r.AllowList(false),
		Lease:   time.Duration(r.Int("CLAIM_LEASE_SECONDS", 60, 5, 900)) * time.Second,
		ParkTTL: time.Duration(r.Int("RECORD_TTL_HOURS", 840, 1, 24*400)) * time.Hour,
	}
	return c, r.Err()
}
