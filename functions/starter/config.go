package main

import (
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/crossbuild/crossbuild/internal/assume"
	"github.com/crossbuild/crossbuild/internal/envconfig"
	"github.com/crossbuild/crossbuild/internal/settings"
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
		Table:      r.String(settings.TableName),
		ExternalID: r.String(settings.ExternalID),
		Allow:      settings.AllowList(r, true),
		Mapping: target.Mapping{
			Rename:    r.StringMap(settings.EnvMapping, def.Rename),
			Constants: r.StringMap(settings.ConstantEnv, def.Constants),
		},
		CorrelationPrefix:   r.StringOr(settings.CorrelationPrefix, settings.DefaultCorrelationPrefix),
		DefaultPollInterval: settings.DefaultPollIntervalSeconds.Read(r),
		RecordTTL:           settings.RecordTTLHours.Duration(r),
		SessionDuration:     settings.AssumeRoleSeconds.Duration(r),
		Lease:               settings.ClaimLeaseSeconds.Duration(r),
	}
	r.Check("ENV_MAPPING/CONSTANT_ENV", c.Mapping.Validate())
	names, err := target.NewNamePolicy(r.OptionalList(settings.EnvNamesAllowed), c.CorrelationPrefix)
	r.Check(settings.EnvNamesAllowed, err)
	c.Names = names
	if err == nil {
		r.Check("ENV_MAPPING/ENV_NAMES_ALLOWED", c.Mapping.CheckNames(names))
	}
	if c.ExternalID != "" {
		r.Check(settings.ExternalID, assume.Validate(c.ExternalID, c.SessionDuration))
	}
	if !validPrefix(c.CorrelationPrefix) {
		r.Check(settings.CorrelationPrefix, errBadPrefix)
	}
	return c, r.Err()
}

var prefixRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) // at most 64 characters, checked apart

var errBadPrefix = errors.New("must be letters, digits and _ (not starting with a digit, at most 64) and must not start with CODEBUILD_")

func validPrefix(p string) bool {
	return len(p) <= 64 && prefixRe.MatchString(p) && !strings.HasPrefix(p, "CODEBUILD_")
}
