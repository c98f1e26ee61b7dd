package main

import "github.com/crossbuild/crossbuild/internal/envconfig"

// config is the summariser's environment (docs/reference.md, "Configuration").
type config struct {
	Bucket string
}

func loadConfig(lookup func(string) (string, bool)) (config, error) {
	r := envconfig.New(lookup)
	c := config{Bucket: r.Bucket("CROSSBUILD_BUCKET")}
	return c, r.Err()
}
