package main

import (
	"strings"
	"testing"

	"github.com/crossbuild/crossbuild/internal/plan"
)

func TestLoadConfig(t *testing.T) {
	base := map[string]string{"CROSSBUILD_BUCKET": "crossbuild-111111111111-eu-west-1"}
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
	want := plan.Defaults{MaxConcurrency: 10, HeartbeatSeconds: 3600, TimeoutSeconds: 28800, PollIntervalSeconds: 20}
	if c.Bucket != "crossbuild-111111111111-eu-west-1" || c.Defaults != want {
		t.Errorf("defaults: %+v", c)
	}
	c, err = loadConfig(lookup(map[string]string{"DEFAULT_MAX_CONCURRENCY": "0", "DEFAULT_HEARTBEAT_SECONDS": "600",
		"DEFAULT_TIMEOUT_SECONDS": "7200", "DEFAULT_POLL_INTERVAL_SECONDS": "30"}))
	if err != nil || c.Defaults != (plan.Defaults{MaxConcurrency: 0, HeartbeatSeconds: 600, TimeoutSeconds: 7200, PollIntervalSeconds: 30}) {
		t.Errorf("set: %+v %v", c, err)
	}
	bad := []struct{ key, value string }{
		{"CROSSBUILD_BUCKET", "<unset>"},
		{"CROSSBUILD_BUCKET", "Not_A_Bucket"},
		{"DEFAULT_MAX_CONCURRENCY", "10001"},
		{"DEFAULT_HEARTBEAT_SECONDS", "59"},
		{"DEFAULT_TIMEOUT_SECONDS", "3600"}, // not above the default heartbeat
		{"DEFAULT_POLL_INTERVAL_SECONDS", "4"},
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
