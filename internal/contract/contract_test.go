package contract

import (
	"errors"
	"strings"
	"testing"

	"github.com/crossbuild/crossbuild/internal/failure"
)

func TestDecode(t *testing.T) {
	cases := []struct {
		raw string
		ok  bool
	}{
		{`{"executionArn":"a","mapIndex":1}`, true},
		{`{"executionArn":"a","mapIndx":1}`, false},
		{`{"mapIndex":"1"}`, false},
		{`{} {}`, false},
		{``, false},
	}
	for _, tc := range cases {
		var req StarterRequest
		err := Decode([]byte(tc.raw), &req, "starter request")
		if (err == nil) != tc.ok {
			t.Errorf("Decode(%q) = %v", tc.raw, err)
		}
		var it *failure.InvalidTarget
		if err != nil && !errors.As(err, &it) {
			t.Errorf("Decode(%q) error type %T", tc.raw, err)
		}
	}
}

func TestValidators(t *testing.T) {
	for arn, want := range map[string]bool{
		"arn:aws:states:eu-west-1:111111111111:execution:crossbuild/targets:0b5e8d4c-8a4b-4c1e-9b1d-2f0b6f4c6a11":    true,
		"arn:aws:states:eu-west-1:111111111111:execution:crossbuild/" + strings.Repeat("l", 40) + ":id":              true,
		"arn:aws:states:eu-west-1:111111111111:execution:crossbuild/" + strings.Repeat("l", 41) + ":id":              false,
		"arn:aws:states:eu-west-1:111111111111:execution:crossbuild/a/b:id":                                          false,
		"arn:aws:states:eu-west-1:111111111111:execution:" + strings.Repeat("s", 80) + ":" + strings.Repeat("n", 80): true,
		"arn:aws:states:eu-west-1:111111111111:execution:" + strings.Repeat("s", 81) + ":n":                          false,
		"arn:aws:states:eu-west-1:111111111111:execution:s:" + strings.Repeat("n", 81):                               false,
		"arn:aws:states:eu-west-1:111111111111:execution:crossbuild/:id":                                             false,
		"arn:aws:states:eu-west-1:111111111111:mapRun:crossbuild/targets:id":                                         false,
		"arn:aws:states:eu-west-1:111111111111:execution:crossbuild:release-42":                                      true,
		"arn:aws-cn:states:cn-north-1:111111111111:execution:crossbuild:a/b":                                         true,
		"arn:aws:lambda:eu-west-1:111111111111:execution:crossbuild:id":                                              false,
		"arn:aws:states:eu-west-1:1111:execution:crossbuild:id":                                                      false,
		"arn:aws:states:eu-west-1:111111111111:execution:crossbuild":                                                 false,
		"arn:aws:states:eu-west-1:111111111111:execution:crossbuild:a b":                                             false,
	} {
		if got := ValidExecutionARN(arn); got != want {
			t.Errorf("ValidExecutionARN(%q) = %v, want %v", arn, got, want)
		}
	}
	if !ValidExecutionARN("arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1") ||
		ValidExecutionARN("arn:aws:states:eu-west-1:111111111111:stateMachine:crossbuild") || ValidExecutionARN("") {
		t.Error("ValidExecutionARN")
	}
	zero, neg, big := 0, -1, MaxMapIndex+1
	if !ValidMapIndex(&zero) || ValidMapIndex(&neg) || ValidMapIndex(&big) || ValidMapIndex(nil) {
		t.Error("ValidMapIndex")
	}
}
