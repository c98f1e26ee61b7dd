package main

import (
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	c, err := loadConfig(func(k string) (string, bool) {
		return map[string]string{"CROSSBUILD_BUCKET": "crossbuild-bucket"}[k], k == "CROSSBUILD_BUCKET"
	})
	if err != nil || c.Bucket != "crossbuild-bucket" {
		t.Fatalf("%+v %v", c, err)
	}
	for _, v := range []string{"", "Bad_Bucket"} {
		_, err := loadConfig(func(string) (string, bool) { return v, v != "" })
		if err == nil || !strings.Contains(err.Error(), "CROSSBUILD_BUCKET") {
			t.Errorf("%q: %v", v, err)
		}
	}
}
