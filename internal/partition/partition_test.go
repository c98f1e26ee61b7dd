package partition

import "testing"

func TestOf(t *testing.T) {
	cases := []struct{ region, want string }{
		{"eu-west-1", "aws"},
		{"us-east-1", "aws"},
		{"cn-north-1", "aws-cn"},
		{"us-gov-west-1", "aws-us-gov"},
		{"us-iso-east-1", "aws-iso"},
		{"us-isob-east-1", "aws-iso-b"},
		{"eu-isoe-west-1", "aws-iso-e"},
		{"us-isof-south-1", "aws-iso-f"},
		{"eusc-de-east-1", "aws-eusc"},
		{"", "aws"},
	}
	for _, c := range cases {
		if got := Of(c.region); got != c.want {
			t.Errorf("Of(%q) = %q, want %q", c.region, got, c.want)
		}
	}
}

func TestKnown(t *testing.T) {
	for _, p := range All {
		if !Known(p.Name) {
			t.Errorf("partition %+v", p)
		}
	}
	for _, name := range []string{"", "aws-xx", "AWS"} {
		if Known(name) {
			t.Errorf("Known(%q)", name)
		}
	}
}
