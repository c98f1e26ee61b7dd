package main

import (
	"github.com/crossbuild/crossbuild/internal/envconfig"
	"github.com/crossbuild/crossbuild/internal/settings"
)

// config is the summariser's environment (docs/reference.md, "Configuration").
type config struct {
	Bucket string
}

func loadConfig(lookup func(string) (string, bool)) (config, error) {
	r := envconfig.New(lookup)
	c := config{Bucket: r.Bucket(settings.Bucket)}
	return c, r.Err()
}
