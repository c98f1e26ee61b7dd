package main

import (
	"errors"
	"strings"
	"time"

	"github.com/crossbuild/crossbuild/internal/assume"
	"github.com/crossbuild/crossbuild/internal/envconfig"
	"github.com/crossbuild/crossbuild/internal/target"
)

// config is the reconciler's environment (docs/reference.md, "Configuration").
type config struct {
	Table           string
	ExternalID      string
	StateMachineARN string
	Allow           *target.AllowList
	SessionDuration time.Duration
	Lease           time.Duration
	After           time.Duration
	Limit           int
	Concurrency     int
}

var errNotStateMachine = errors.New("must be a Step Functions state machine ARN")

func loadConfig(lookup func(string) (string, bool)) (config, error) {
	r := envconfig.New(lookup)
	c := config{
		Table:           r.String("TABLE_NAME"),
		ExternalID:      r.String("EXTERNAL_ID"),
		StateMachineARN: r.String("STATE_MACHINE_ARN"),
		Allow:           r.AllowList(true),
		SessionDuration: time.Duration(r.Int("ASSUME_ROLE_SECONDS", 900, 900, 3600)) * time.Second,
		Lease:           time.Duration(r.Int("CLAIM_LEASE_SECONDS", 60, 5, 900)) * time.Second,
		// Seconds rather than the deployment's minutes: the local runtime's tests shorten it.
		After:       time.Duration(r.Int("RECONCILE_AFTER_SECONDS", 600, 1, 7*24*3600)) * time.Second,
		Limit:       r.Int("RECONCILE_LIMIT", 1000, 1, 10000),
		Concurrency: r.Int("RECONCILE_CONCURRENCY", 8, 1, 64),
	}
	if c.ExternalID != "" {
		r.Check("EXTERNAL_ID", assume.Validate(c.ExternalID, c.SessionDuration))
	}
	if sm := c.StateMachineARN; sm != "" && (!strings.Contains(sm, ":states:") || !strings.Contains(sm, ":stateMachine:") || strings.Contains(sm, "/")) {
		r.Check("STATE_MACHINE_ARN", errNotStateMachine)
	}
	return c, r.Err()
}
