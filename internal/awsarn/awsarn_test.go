package awsarn

import (
	"strings"
	"testing"
)

func TestParseRole(t *testing.T) {
	cases := []struct {
		in   string
		want Role
		ok   bool
	}{
		{"arn:aws:iam::123456789012:role/name", Role{"aws", "123456789012", "/", "name"}, true},
		{"arn:aws-cn:iam::123456789012:role/a/b/name", Role{"aws-cn", "123456789012", "/a/b/", "name"}, true},
		{"arn:aws-iso-f:iam::123456789012:role/x+=,.@-_", Role{"aws-iso-f", "123456789012", "/", "x+=,.@-_"}, true},
		{"arn:aws:iam::123456789012:role/", Role{}, false},
		{"arn:aws:iam::123456789012:role/a b", Role{}, false},
		{"arn:aws:iam::12345678901:role/name", Role{}, false},
		{"arn:aws:iam::123456789012:user/name", Role{}, false},
		{"arn:aws:sts::123456789012:role/name", Role{}, false},
		{"arn:aws:iam:eu-west-1:123456789012:role/name", Role{}, false},
		{"arn:aws-xx:iam::123456789012:role/name", Role{}, false},
		{"arn:aws:iam::123456789012:role/" + string(make([]byte, 65)), Role{}, false},
		{"role/name", Role{}, false},
		{"arn:aws:iam::123456789012:role/" + strings.Repeat("n", 64), Role{"aws", "123456789012", "/", strings.Repeat("n", 64)}, true},
		{"arn:aws:iam::123456789012:role/" + strings.Repeat("n", 65), Role{}, false},
		{"arn:aws:iam::123456789012:role/" + strings.Repeat("p", 511) + "/n", Role{}, false},
	}
	for _, c := range cases {
		got, err := ParseRole(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseRole(%q) = %+v, %v", c.in, got, err)
			continue
		}
		if c.ok && got.String() != c.in {
			t.Errorf("String() = %q, want %q", got.String(), c.in)
		}
	}
}
