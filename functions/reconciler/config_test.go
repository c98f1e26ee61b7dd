package main

import (
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	env := map[string]string{
		"TABLE_NAME": "tokens", "EXTERNAL_ID": "crossbuild-ext", "STATE_MACHINE_ARN": testSM,
		"ALLOWED_ACCOUNTS": "222222222222", "ALLOWED_REGIONS": "eu-west-1", "ALLOWED_ROLE_ARNS": "arn:aws:iam::*:role/crossbuild-target",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	c, err := loadConfig(lookup)
	if err != nil || c.SessionDuration != 15*time.Minute || c.Lease != time.Minute || c.After != 10*time.Minute ||
		c.Limit != 1000 || c.Concurrency != 8 || c.StateMachineARN != testSM || c.Table != "tokens" ||
		c.Allow.CheckRole(testRole, "222222222222", "eu-west-1") != nil {
		t.Fatalf("%+v %v", c, err)
	}
	env["RECONCILE_AFTER_SECONDS"] = "2"
	env["RECONCILE_LIMIT"] = "10000"
	if c, err := loadConfig(lookup); err != nil || c.After != 2*time.Second || c.Limit != 10000 {
		t.Fatalf("%+v %v", c, err)
	}

	bad := map[string]string{
		"RECONCILE_AFTER_SECONDS": "0",
		"RECONCILE_LIMIT":         "10001",
		"RECONCILE_CONCURRENCY":   "65",
		"CLAIM_LEASE_SECONDS":     "1",
		"STATE_MACHINE_ARN":       testSM + "/child",
		"EXTERNAL_ID":             "x",
	}
	for k, v := range bad {
		env[k] = v
	}
	delete(env, "ALLOWED_ROLE_ARNS")
	delete(env, "TABLE_NAME")
	_, err = loadConfig(lookup)
	for _, name := range []string{"RECONCILE_AFTER_SECONDS", "RECONCILE_LIMIT", "RECONCILE_CONCURRENCY", "CLAIM_LEASE_SECONDS",
		"STATE_MACHINE_ARN", "EXTERNAL_ID", "ALLOWED_ROLE_ARNS", "TABLE_NAME"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}
