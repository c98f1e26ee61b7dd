package main

import (
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	base := map[string]string{
		"TABLE_NAME": "tokens", "EXTERNAL_ID": "crossbuild-ext", "ALLOWED_ACCOUNTS": "222222222222,333333333333",
		"ALLOWED_REGIONS": "eu-west-1,us-east-1", "ALLOWED_ROLE_ARNS": "arn:aws:iam::*:role/crossbuild-target",
	}
	lookup := func(over map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			if v, ok := over[k]; ok {
				return v, v != "<unset>"
			}
			v, ok := base[k]
			return v, ok
		}
	}
	c, err := loadConfig(lookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Table != "tokens" || c.DefaultPollInterval != 20 || c.RecordTTL != 840*time.Hour || c.SessionDuration != 15*time.Minute ||
		c.CorrelationPrefix != "CROSSBUILD_" || c.Mapping.Rename["SampleValue1"] != "SAMPLE_VAR1" || c.Mapping.Constants["HARDCODED_VAR1"] != "I am hardcoded" {
		t.Errorf("defaults: %+v", c)
	}
	if c.Names.Restricted() || c.Names.Check("LD_PRELOAD") == "" {
		t.Errorf("without ENV_NAMES_ALLOWED: no allow-list and the default deny-list, got %v", c.Names.Entries())
	}
	c, err = loadConfig(lookup(map[string]string{"ENV_NAMES_ALLOWED": " DEPLOY_ENV, FEATURE_* ,NODE_OPTIONS", "ENV_MAPPING": `{"Opts":"NODE_OPTIONS"}`}))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Names.Entries(); strings.Join(got, ",") != "DEPLOY_ENV,FEATURE_*,NODE_OPTIONS" || c.Names.Check("OTHER") == "" {
		t.Errorf("ENV_NAMES_ALLOWED entries = %v", got)
	}
	bad := []struct{ key, value string }{
		{"TABLE_NAME", "<unset>"},
		{"EXTERNAL_ID", "x"},
		{"ALLOWED_ACCOUNTS", "12345"},
		{"ALLOWED_REGIONS", "<unset>"},
		{"ALLOWED_ROLE_ARNS", "role/x"},
		{"ENV_MAPPING", `{"a":"1BAD"}`},
		{"CONSTANT_ENV", `not json`},
		{"CORRELATION_PREFIX", "CODEBUILD_X_"},
		{"DEFAULT_POLL_INTERVAL_SECONDS", "1"},
		{"ASSUME_ROLE_SECONDS", "60"},
		{"ASSUME_ROLE_SECONDS", "7200"},
		{"ENV_NAMES_ALLOWED", "GOOD,1BAD"},
		{"ENV_NAMES_ALLOWED", "CROSSBUILD_*"},
		// A mapping onto a denied name could never be used.
		{"ENV_MAPPING", `{"Opts":"NODE_OPTIONS"}`},
	}
	for _, b := range bad {
		t.Run(b.key, func(t *testing.T) {
			_, err := loadConfig(lookup(map[string]string{b.key: b.value}))
			if err == nil || !strings.Contains(err.Error(), b.key) {
				t.Fatalf("want an error naming %s, got %v", b.key, err)
			}
		})
	}
}

func TestCorrelationPrefixLength(t *testing.T) {
	for p, want := range map[string]bool{
		"X" + strings.Repeat("_", 63): true,
		"X" + strings.Repeat("_", 64): false,
		"CODEBUILD_X":                 false,
		"1X":                          false,
	} {
		if got := validPrefix(p); got != want {
			t.Errorf("validPrefix(%d characters %.12q…) = %v, want %v", len(p), p, got, want)
		}
	}
}
