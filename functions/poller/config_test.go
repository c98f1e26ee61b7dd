package main

import (
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	env := map[string]string{
		"TABLE_NAME": "tokens", "EXTERNAL_ID": "crossbuild-ext", "ALLOWED_ACCOUNTS": "222222222222",
		"ALLOWED_REGIONS": "eu-west-1", "ALLOWED_ROLE_ARNS": "arn:aws:iam::222222222222:role/crossbuild-*",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if c, err := loadConfig(lookup); err != nil || c.Table != "tokens" || c.DefaultPollInterval != 20 {
		t.Fatalf("%+v %v", c, err)
	}
	delete(env, "ALLOWED_ROLE_ARNS")
	env["EXTERNAL_ID"] = "!"
	_, err := loadConfig(lookup)
	for _, name := range []string{"ALLOWED_ROLE_ARNS", "EXTERNAL_ID"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}
