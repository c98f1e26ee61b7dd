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
	if err != nil || c.SessionDuration != 15*time.Minute || c.Concurrency != 16 || c.StateMachineARN != testSM ||
		c.Allow.CheckRole(testRole, "222222222222", "eu-west-1") != nil {
		t.Fatalf("%+v %v", c, err)
	}
	env["STOP_CONCURRENCY"] = "0"
	env["STATE_MACHINE_ARN"] = "crossbuild"
	delete(env, "ALLOWED_ROLE_ARNS")
	_, err = loadConfig(lookup)
	for _, name := range []string{"STOP_CONCURRENCY", "STATE_MACHINE_ARN", "ALLOWED_ROLE_ARNS"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}
