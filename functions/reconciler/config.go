package main

import (
	"errors"
	"strings"
	"time"

	"github.com/crossbuild/crossbuild/internal/assume"
	"github.com/crossbuild/crossbuild/internal/envconfig"
	"github.com/crossbuild/crossbuild/internal/settings"
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
		Table:           r.String(settings.TableName),
		ExternalID:      r.String(settings.ExternalID),
		StateMachineARN: r.String(settings.StateMachineARN),
		Allow:           settings.AllowList(r, true),
		SessionDuration: settings.AssumeRoleSeconds.Duration(r),
		Lease:           settings.ClaimLeaseSeconds.Duration(r),
		After:           settings.ReconcileAfterSeconds.Duration(r),
		Limit:           settings.ReconcileLimit.Read(r),
		Concurrency:     settings.ReconcileConcurrency.Read(r),
	}
	if c.ExternalID != "" {
		r.Check(settings.ExternalID, assume.Validate(c.ExternalID, c.SessionDuration))
	}
	if sm := c.StateMachineARN; sm != "" && (!strings.Contains(sm, ":states:") || !strings.Contains(sm, ":stateMachine:") || strings.Contains(sm, "/")) {
		r.Check(settings.StateMachineARN, errNotStateMachine)
	}
	return c, r.Err()
}
