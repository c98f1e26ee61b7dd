package main

import (
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	env := map[string]string{"TABLE_NAME": "tokens", "ALLOWED_ACCOUNTS": "222222222222", "ALLOWED_REGIONS": "eu-west-1"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	c, err := loadConfig(lookup)
	if err != nil || c.Lease != time.Minute || c.ParkTTL != 840*time.Hour || !c.Allow.AllowsAccountRegion("222222222222", "eu-west-1") {
		t.Fatalf("%+v %v", c, err)
	}
	env["CLAIM_LEASE_SECONDS"] = "1"
	delete(env, "TABLE_NAME")
	_, err = loadConfig(lookup)
	for _, name := range []string{"CLAIM_LEASE_SECONDS", "TABLE_NAME"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}
