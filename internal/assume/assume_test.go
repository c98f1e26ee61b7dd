package assume

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/crossbuild/crossbuild/internal/awstest"
	"github.com/crossbuild/crossbuild/internal/failure"
)

const roleARN = "arn:aws:iam::222222222222:role/crossbuild-target"

func credsXML(exp time.Time) string {
	return `<AssumeRoleResponse><AssumeRoleResult><Credentials>` +
		`<AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>s3cr3t</SecretAccessKey>` +
		`<SessionToken>tok</SessionToken><Expiration>` + exp.UTC().Format(time.RFC3339) + `</Expiration>` +
		`</Credentials><AssumedRoleUser><Arn>arn:aws:sts::222222222222:assumed-role/crossbuild-target/s</Arn>` +
		`<AssumedRoleId>AROAEXAMPLE:s</AssumedRoleId></AssumedRoleUser></AssumeRoleResult>` +
		`<ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></AssumeRoleResponse>`
}

func errorXML(code string) string {
	return `<ErrorResponse><Error><Type>Sender</Type><Code>` + code + `</Code><Message>no</Message></Error><RequestId>r2</RequestId></ErrorResponse>`
}

func TestCredentialsWire(t *testing.T) {
	cases := []struct {
		name    string
		reply   awstest.Reply
		errType string // failure name, "" for success
	}{
		{"success", awstest.XML(200, credsXML(time.Now().Add(time.Hour))), ""},
		{"access denied", awstest.XML(403, errorXML("AccessDenied")), "AssumeRoleFailed"},
		{"region disabled", awstest.XML(403, errorXML("RegionDisabledException")), "AssumeRoleFailed"},
		{"throttled", awstest.XML(400, errorXML("Throttling")), "TransientError"},
		{"outage", awstest.XML(503, errorXML("ServiceUnavailable")), "TransientError"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := awstest.NewServer(t, func(awstest.Request) awstest.Reply { return tc.reply })
			roles := NewRoles(sts.NewFromConfig(awstest.Config(srv.URL, 2)), "ext-id-1", 15*time.Minute)
			p, err := roles.Credentials(context.Background(), roleARN, "crossbuild-run-1")
			if got := failure.Name(err); got != tc.errType {
				t.Fatalf("error %v (%s), want %q", err, got, tc.errType)
			}
			reqs := srv.Requests()
			if len(reqs) == 0 {
				t.Fatal("no request reached STS")
			}
			form, _ := url.ParseQuery(string(reqs[0].Body))
			if form.Get("Action") != "AssumeRole" || form.Get("RoleArn") != roleARN ||
				form.Get("ExternalId") != "ext-id-1" || form.Get("RoleSessionName") != "crossbuild-run-1" ||
				form.Get("DurationSeconds") != "900" {
				t.Errorf("request form = %v", form)
			}
			if tc.errType != "" {
				var ar *failure.AssumeRoleFailed
				if tc.errType == "AssumeRoleFailed" && (!errors.As(err, &ar) || ar.RoleARN != roleARN) {
					t.Errorf("error does not name the role: %v", err)
				}
				return
			}
			c, err := p.Retrieve(context.Background())
			if err != nil || c.AccessKeyID != "ASIAEXAMPLE" || c.SessionToken != "tok" {
				t.Fatalf("credentials %+v %v", c, err)
			}
		})
	}
}

func TestCredentialsCachedAndRefreshedBeforeExpiry(t *testing.T) {
	cases := []struct {
		name      string
		expiresIn time.Duration
		wantCalls int32
	}{
		{"cached while valid", time.Hour, 1},
		// Inside the expiry window the cache treats credentials as expired: every use refreshes.
		{"refreshed inside the expiry window", ExpiryWindow / 2, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := awstest.NewServer(t, func(awstest.Request) awstest.Reply {
				calls.Add(1)
				return awstest.XML(200, credsXML(time.Now().Add(tc.expiresIn)))
			})
			roles := NewRoles(sts.NewFromConfig(awstest.Config(srv.URL, 1)), "ext", 15*time.Minute)
			for range 3 {
				if _, err := roles.Credentials(context.Background(), roleARN, "crossbuild-a"); err != nil {
					t.Fatal(err)
				}
			}
			if got := calls.Load(); got != tc.wantCalls {
				t.Fatalf("AssumeRole calls = %d, want %d", got, tc.wantCalls)
			}
		})
	}
}

func TestCacheIsBounded(t *testing.T) {
	srv := awstest.NewServer(t, func(awstest.Request) awstest.Reply {
		return awstest.XML(200, credsXML(time.Now().Add(time.Hour)))
	})
	roles := NewRoles(sts.NewFromConfig(awstest.Config(srv.URL, 1)), "ext", 15*time.Minute)
	for i := range maxEntries + 10 {
		roles.entry(roleARN, "s"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	if len(roles.cache) > maxEntries || len(roles.order) != len(roles.cache) {
		t.Fatalf("cache has %d entries, order %d", len(roles.cache), len(roles.order))
	}
}

func TestSessionName(t *testing.T) {
	long := "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:" + strings.Repeat("n", 80)
	cases := []struct{ in, want string }{
		{"arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1", "crossbuild-run-1"},
		{"arn:aws:states:eu-west-1:111111111111:execution:crossbuild:a b/c", "crossbuild-a-b-c"},
		{"", "crossbuild"},
	}
	for _, tc := range cases {
		if got := SessionName(tc.in); got != tc.want {
			t.Errorf("SessionName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	a, b := SessionName(long), SessionName(long+"x")
	if len(a) != 64 || a == b || sessionUnsafe.MatchString(a) {
		t.Errorf("long names: %q %q", a, b)
	}
}

func TestIsCrossbuildSession(t *testing.T) {
	long := "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:" + strings.Repeat("n", 80)
	cases := []struct {
		name string
		want bool
	}{
		{SessionName("arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1"), true},
		{SessionName("arn:aws:states:eu-west-1:111111111111:execution:crossbuild:a b/c"), true},
		{SessionName(long), true}, // the hashed long form
		{SessionName(""), true},
		{"crossbuild-" + strings.Repeat("n", 53), true}, // 64 characters
		{"crossbuild-" + strings.Repeat("n", 54), false},
		{"crossbuild-", false},
		{"crossbuildx-run-1", false},
		{"Crossbuild-run-1", false},
		{"x-crossbuild-run-1", false},
		{"crossbuild-run/1", false},
		{"botocore-session-1700000000", false}, // a foreign session
		{"1564844186052", false},
		{"", false},
	}
	for _, tc := range cases {
		if got := IsCrossbuildSession(tc.name); got != tc.want {
			t.Errorf("IsCrossbuildSession(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func FuzzIsCrossbuildSession(f *testing.F) {
	f.Add("arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1")
	f.Add("arn:aws:states:eu-west-1:111111111111:execution:crossbuild:" + strings.Repeat("é", 60))
	f.Fuzz(func(t *testing.T, executionARN string) {
		if s := SessionName(executionARN); !IsCrossbuildSession(s) {
			t.Fatalf("IsCrossbuildSession(SessionName(%q) = %q) = false", executionARN, s)
		}
	})
}

func TestValidate(t *testing.T) {
	cases := []struct {
		ext string
		d   time.Duration
		ok  bool
	}{
		{"crossbuild-ext", 15 * time.Minute, true},
		{"x", 15 * time.Minute, false},
		{"has space", 15 * time.Minute, false},
		{"okay", time.Minute, false},
	}
	for _, tc := range cases {
		if err := Validate(tc.ext, tc.d); (err == nil) != tc.ok {
			t.Errorf("Validate(%q, %v) = %v", tc.ext, tc.d, err)
		}
	}
}

func TestValidateRoleChainingLimit(t *testing.T) {
	if err := Validate("crossbuild-ext", time.Hour); err != nil {
		t.Fatalf("one hour is allowed: %v", err)
	}
	if err := Validate("crossbuild-ext", time.Hour+time.Second); err == nil {
		t.Fatal("longer than one hour must be refused: role chaining is capped at one hour")
	}
}
