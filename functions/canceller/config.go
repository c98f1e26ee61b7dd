package main

import (
	"strings"
	"time"

	"github.com/crossbuild/crossbuild/internal/assume"
	"github.com/crossbuild/crossbuild/internal/envconfig"
	"github.com/crossbuild/crossbuild/internal/settings"
	"github.com/crossbuild/crossbuild/internal/target"
)

// config is the canceller's environment (docs/reference.md, "Configuration").
type config struct {
	Table           string
	ExternalID      string
	StateMachineARN string
	Allow           *target.AllowList
	SessionDuration time.Duration
	Concurrency     int
}

func loadConfig(lookup func(string) (string, bool)) (config, error) {
	r := envconfig.New(lookup)
	c := config{
		Table:           r.String(settings.TableName),
		ExternalID:      r.String(settings.ExternalID),
		StateMachineARN: r.String(settings.StateMachineARN),
		Allow:           settings.AllowList(r, true),
		SessionDuration: settings.AssumeRoleSeconds.Duration(r),
		Concurrency:     settings.StopConcurrency.Read(r),
	}
	if c.ExternalID != "" {
		r.Check(settings.ExternalID, assume.Validate(c.ExternalID, c.SessionDuration))
	}
	if c.StateMachineARN != "" && !strings.Contains(c.StateMachineARN, ":states:") {
		r.Check(settings.StateMachineARN, errNotStateMachine)
	}
	return c, r.Err()
}
