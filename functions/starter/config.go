package main

import (
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/crossbuild/crossbuild/internal/assume"
	"github.com/crossbuild/crossbuild/internal/envconfig"
	"github.com/crossbuild/crossbuild/internal/target"
)

// config is the starter's environment (docs/reference.md, "Configuration").
type config struct {
	Table               string
	ExternalID          string
	Allow               *target.AllowList
	Mapping             target.Mapping
	Names               target.NamePolicy
	CorrelationPrefix   string
	DefaultPollInterval int
	RecordTTL           time.Duration
	SessionDuration     time.Duration
	Lease               time.Duration
}

func loadConfig(lookup func(string) (string, bool)) (config, error) {
	r := envconfig.New(lookup)
	def := target.DefaultMapping()
	c := config{
		Table:      r.String("TABLE_NAME"),
		ExternalID: r.String("EXTERNAL_ID"),
		Allow:      r.AllowList(true),
		Mapping: target.Mapping{
			Rename:    r.StringMap("ENV_MAPPING", def.Rename),
			Constants: r.StringMap("CONSTANT_ENV", def.Constants),
		},
		CorrelationPrefix:   r.StringOr("CORRELATION_PREFIX", "CROSSBUILD_"),
		DefaultPollInterval: r.Int("DEFAULT_POLL_INTERVAL_SECONDS", 20, 5, 3600),
		RecordTTL:           time.Duration(r.Int("RECORD_TTL_HOURS", 840, 1, 24*400)) * time.Hour,
		SessionDuration:     time.Duration(r.Int("ASSUME_ROLE_SECONDS", 900, 900, 3600)) * time.Second,
		Lease:               time.Duration(r.Int("CLAIM_LEASE_SECONDS", 60, 5, 900)) * time.Second,
	}
	r.Check("ENV_MAPPING/CONSTANT_ENV", c.Mapping.Validate())
	names, err := target.NewNamePolicy(r.OptionalList("ENV_NAMES_ALLOWED"), c.CorrelationPrefix)
	r.Check("ENV_NAMES_ALLOWED", err)
	c.Names = names
	if err == nil {
		r.Check("ENV_MAPPING/ENV_NAMES_ALLOWED", c.Mapping.CheckNames(names))
	}
	if c.ExternalID != "" {
		r.Check("EXTERNAL_ID", assume.Validate(c.ExternalID, c.SessionDuration))
	}
	if !validPrefix(c.CorrelationPrefix) {
		r.Check("CORRELATION_PREFIX", errBadPrefix)
	}
	return c, r.Err()
}

var prefixRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

var errBadPrefix = errors.New("must be letters, digits and _ (not starting with a digit, at most 64) and must not start with CODEBUILD_")

func validPrefix(p string) bool {
	return prefixRe.MatchString(p) && !strings.HasPrefix(p, "CODEBUILD_")
}
