package main

import (
	"strings"
	"time"

	"github.com/crossbuild/crossbuild/internal/assume"
	"github.com/crossbuild/crossbuild/internal/envconfig"
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
		Table:           r.String("TABLE_NAME"),
		ExternalID:      r.String("EXTERNAL_ID"),
		StateMachineARN: r.String("STATE_MACHINE_ARN"),
		Allow:           r.AllowList(true),
		SessionDuration: time.Duration(r.Int("ASSUME_ROLE_SECONDS", 900, 900, 3600)) * time.Second,
		Concurrency:     r.Int("STOP_CONCURRENCY", 16, 1, 64),
	}
	if c.ExternalID != "" {
		r.Check("EXTERNAL_ID", assume.Validate(c.ExternalID, c.SessionDuration))
	}
	if c.StateMachineARN != "" && !strings.Contains(c.StateMachineARN, ":states:") {
		r.Check("STATE_MACHINE_ARN", errNotStateMachine)
	}
	return c, r.Err()
}
