package sts

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/crossbuild/crossbuild/internal/assume"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/iam"
	"github.com/crossbuild/crossbuild/local/localaws"
)

const (
	sourceAccount = "111111111111"
	targetAccount = "222222222222"
	starterRole   = "arn:aws:iam::111111111111:role/crossbuild-starter"
	pollerRole    = "arn:aws:iam::111111111111:role/crossbuild-poller"
	adminRole     = "arn:aws:iam::111111111111:role/admin"
	targetRole    = "arn:aws:iam::222222222222:role/crossbuild-target"
	otherTarget   = "arn:aws:iam::222222222222:role/other-target"
	localRole     = "arn:aws:iam::111111111111:role/crossbuild-local"   // trusts the starter role by ARN
	accountRole   = "arn:aws:iam::111111111111:role/crossbuild-account" // trusts account 111111111111
	breakGlass    = "arn:aws:iam::111111111111:role/break-glass"        // trusts the starter role by ARN
	externalID    = "crossbuild-ext"

	starterSession = "arn:aws:sts::111111111111:assumed-role/crossbuild-starter/crossbuild-starter-fn"
)

func policy(t testing.TB, name string) *iam.Policy {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	p, err := iam.Parse(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

func session(roleARN, name string) localaws.Principal {
	roleName := roleARN[strings.LastIndex(roleARN, "/")+1:]
	acct := strings.Split(roleARN, ":")[4]
	return localaws.Principal{Account: acct, ARN: "arn:aws:sts::" + acct + ":assumed-role/" + roleName + "/" + name, RoleARN: roleARN}
}

// world is a local AWS with STS behind localaws.Router on an httptest server.
type world struct {
	srv   *httptest.Server
	ids   *localaws.Identities
	svc   *Service
	logs  *bytes.Buffer
	creds map[string]localaws.Credentials
}

func newWorld(t *testing.T, configure func(*Service)) *world {
	t.Helper()
	ids := localaws.NewIdentities()
	svc := New(ids)
	w := &world{ids: ids, svc: svc, logs: &bytes.Buffer{}, creds: map[string]localaws.Credentials{}}
	svc.Logger = slog.New(slog.NewTextHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cdk := policy(t, "trust-cdk-cross-account.json")
	for _, r := range []Role{
		{ARN: targetRole, Trust: cdk, MaxSession: 2 * time.Hour, OrgID: "o-a1b2c3d4e5"},
		{ARN: otherTarget, Trust: cdk},
		{ARN: localRole, Trust: policy(t, "trust-starter-role.json")},
		{ARN: accountRole, Trust: policy(t, "trust-account-root.json")},
		{ARN: breakGlass, Trust: policy(t, "trust-starter-role.json")},
	} {
		if err := svc.AddRole(r); err != nil {
			t.Fatal(err)
		}
	}
	if configure != nil {
		configure(svc)
	}
	// Lambda functions run with assumed-role session credentials of their execution role.
	w.creds["starter"] = ids.Temporary(session(starterRole, "crossbuild-starter-fn"), time.Hour)
	w.creds["poller"] = ids.Temporary(session(pollerRole, "crossbuild-poller-fn"), time.Hour)
	w.creds["admin"] = ids.Temporary(session(adminRole, "ana"), time.Hour)
	w.creds["root"] = ids.LongTerm(localaws.Principal{Account: sourceAccount, ARN: "arn:aws:iam::111111111111:root", RoleARN: "arn:aws:iam::111111111111:root"})
	// A long-term key standing for the starter role itself: not role chaining.
	w.creds["starter-longterm"] = ids.LongTerm(localaws.Principal{Account: sourceAccount, ARN: starterRole, RoleARN: starterRole})

	router := localaws.NewRouter(ids)
	router.Handle("sts", svc)
	w.srv = httptest.NewServer(router)
	t.Cleanup(w.srv.Close)
	return w
}

func (w *world) config(c localaws.Credentials) aws.Config {
	return aws.Config{
		Region:           "eu-west-1",
		BaseEndpoint:     aws.String(w.srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
		RetryMaxAttempts: 1,
	}
}

func (w *world) client(caller string) *sts.Client {
	c, ok := w.creds[caller]
	if !ok {
		panic("no caller " + caller)
	}
	return sts.NewFromConfig(w.config(c))
}

// apiError returns the error code, message and HTTP status of an SDK error.
func apiError(t *testing.T, err error) (string, string, int) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an API error", err, err)
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return ae.ErrorCode(), ae.ErrorMessage(), status
}

func notAuthorized(caller, role string) string {
	return "User: " + caller + " is not authorized to perform: sts:AssumeRole on resource: " + role
}

type assumeCase struct {
	name       string
	caller     string
	role       string
	session    string
	externalID *string
	duration   int32
	wantCode   string // "" for success
	wantStatus int
	wantMsg    string // exact message for errors
	wantTTL    time.Duration
}

func runAssumeCases(t *testing.T, w *world, cases []assumeCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := &sts.AssumeRoleInput{RoleArn: aws.String(c.role), RoleSessionName: aws.String(c.session), ExternalId: c.externalID}
			if c.duration != 0 {
				in.DurationSeconds = aws.Int32(c.duration)
			}
			before := time.Now()
			out, err := w.client(c.caller).AssumeRole(context.Background(), in)
			if c.wantCode != "" {
				if err == nil {
					t.Fatalf("AssumeRole succeeded as %s, want %s", aws.ToString(out.AssumedRoleUser.Arn), c.wantCode)
				}
				code, msg, status := apiError(t, err)
				if code != c.wantCode || status != c.wantStatus || (c.wantMsg != "" && msg != c.wantMsg) {
					t.Fatalf("got %s %d %q\nwant %s %d %q", code, status, msg, c.wantCode, c.wantStatus, c.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("AssumeRole: %v\nlogs:\n%s", err, w.logs)
			}
			roleName := c.role[strings.LastIndex(c.role, "/")+1:]
			acct := strings.Split(c.role, ":")[4]
			wantARN := "arn:aws:sts::" + acct + ":assumed-role/" + roleName + "/" + c.session
			if got := aws.ToString(out.AssumedRoleUser.Arn); got != wantARN {
				t.Fatalf("AssumedRoleUser.Arn = %s, want %s", got, wantARN)
			}
			id := aws.ToString(out.AssumedRoleUser.AssumedRoleId)
			if !strings.HasPrefix(id, "AROA") || !strings.HasSuffix(id, ":"+c.session) {
				t.Fatalf("AssumedRoleId = %s", id)
			}
			cr := out.Credentials
			if !strings.HasPrefix(aws.ToString(cr.AccessKeyId), "ASIA") || aws.ToString(cr.SecretAccessKey) == "" || aws.ToString(cr.SessionToken) == "" {
				t.Fatalf("credentials %+v", cr)
			}
			ttl := aws.ToTime(cr.Expiration).Sub(before)
			if ttl < c.wantTTL-5*time.Second || ttl > c.wantTTL+5*time.Second {
				t.Fatalf("credentials live %v, want %v", ttl, c.wantTTL)
			}
			// The credentials are usable: STS sees the assumed-role session.
			cfg := w.config(localaws.Credentials{AccessKeyID: *cr.AccessKeyId, SecretAccessKey: *cr.SecretAccessKey, SessionToken: *cr.SessionToken})
			who, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
			if err != nil {
				t.Fatalf("GetCallerIdentity with the new credentials: %v", err)
			}
			if aws.ToString(who.Arn) != wantARN || aws.ToString(who.Account) != acct || aws.ToString(who.UserId) != id {
				t.Fatalf("GetCallerIdentity = %s %s %s, want %s %s %s", aws.ToString(who.Arn), aws.ToString(who.Account), aws.ToString(who.UserId), wantARN, acct, id)
			}
		})
	}
}

func TestAssumeRole(t *testing.T) {
	w := newWorld(t, nil)
	ext := aws.String(externalID)
	long := strings.Repeat("s", 65)
	runAssumeCases(t, w, []assumeCase{
		{name: "starter assumes the target role", caller: "starter", role: targetRole, session: "crossbuild-exec-1", externalID: ext, duration: 900, wantTTL: 15 * time.Minute},
		{name: "poller, default duration", caller: "poller", role: targetRole, session: "crossbuild-exec-1", externalID: ext, wantTTL: time.Hour},
		{name: "session names may use +=,.@-", caller: "starter", role: targetRole, session: "a+b=c,d.e@f-g_h", externalID: ext, wantTTL: time.Hour},
		{name: "not chained: up to the role's MaxSession", caller: "starter-longterm", role: targetRole, session: "long", externalID: ext, duration: 7200, wantTTL: 2 * time.Hour},
		{name: "same account, trusted by role ARN", caller: "starter", role: localRole, session: "local", wantTTL: time.Hour},

		{name: "wrong ExternalId", caller: "starter", role: targetRole, session: "s1", externalID: aws.String("crossbuild-other"),
			wantCode: "AccessDenied", wantStatus: 403, wantMsg: notAuthorized(starterSession, targetRole)},
		{name: "ExternalId differs in case", caller: "starter", role: targetRole, session: "s1", externalID: aws.String("Crossbuild-Ext"),
			wantCode: "AccessDenied", wantStatus: 403},
		{name: "missing ExternalId", caller: "starter", role: targetRole, session: "s1",
			wantCode: "AccessDenied", wantStatus: 403, wantMsg: notAuthorized(starterSession, targetRole)},
		{name: "caller role not in aws:PrincipalArn", caller: "admin", role: targetRole, session: "s1", externalID: ext,
			wantCode: "AccessDenied", wantStatus: 403, wantMsg: notAuthorized("arn:aws:sts::111111111111:assumed-role/admin/ana", targetRole)},
		{name: "unknown role", caller: "starter", role: "arn:aws:iam::222222222222:role/no-such-role", session: "s1", externalID: ext,
			wantCode: "AccessDenied", wantStatus: 403, wantMsg: notAuthorized(starterSession, "arn:aws:iam::222222222222:role/no-such-role")},
		{name: "same account, the trust names another role", caller: "admin", role: localRole, session: "s1",
			wantCode: "AccessDenied", wantStatus: 403},
		{name: "root users cannot assume roles", caller: "root", role: accountRole, session: "s1",
			wantCode: "AccessDenied", wantStatus: 403, wantMsg: "Roles may not be assumed by root accounts."},

		{name: "bad session name", caller: "starter", role: targetRole, session: "bad name", externalID: ext,
			wantCode: "ValidationError", wantStatus: 400,
			wantMsg: `1 validation error detected: Value 'bad name' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*`},
		{name: "session name too short", caller: "starter", role: targetRole, session: "a", externalID: ext,
			wantCode: "ValidationError", wantStatus: 400,
			wantMsg: "1 validation error detected: Value 'a' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"},
		{name: "session name too long", caller: "starter", role: targetRole, session: long, externalID: ext,
			wantCode: "ValidationError", wantStatus: 400,
			wantMsg: "1 validation error detected: Value '" + long + "' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64"},
		{name: "duration below 900", caller: "starter", role: targetRole, session: "s1", externalID: ext, duration: 899,
			wantCode: "ValidationError", wantStatus: 400,
			wantMsg: "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"},
		{name: "duration above 43200", caller: "starter", role: targetRole, session: "s1", externalID: ext, duration: 43201,
			wantCode: "ValidationError", wantStatus: 400,
			wantMsg: "1 validation error detected: Value '43201' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200"},
		{name: "duration above the role's MaxSession", caller: "starter-longterm", role: targetRole, session: "s1", externalID: ext, duration: 7201,
			wantCode: "ValidationError", wantStatus: 400, wantMsg: "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."},
		{name: "duration above an hour when role chaining", caller: "starter", role: targetRole, session: "s1", externalID: ext, duration: 3601,
			wantCode: "ValidationError", wantStatus: 400, wantMsg: "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."},
		{name: "duration above the default MaxSession", caller: "starter", role: localRole, session: "s1", duration: 3601,
			wantCode: "ValidationError", wantStatus: 400, wantMsg: "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."},
		{name: "malformed role ARN", caller: "starter", role: "arn:aws:iam::2222:role/crossbuild-target", session: "s1", externalID: ext,
			wantCode: "ValidationError", wantStatus: 400, wantMsg: "Request ARN is invalid"},
		{name: "a user ARN is not a role ARN", caller: "starter", role: "arn:aws:iam::222222222222:user/crossbuild", session: "s1", externalID: ext,
			wantCode: "ValidationError", wantStatus: 400, wantMsg: "Request ARN is invalid"},
		{name: "role ARN too short", caller: "starter", role: "crossbuild-target", session: "s1", externalID: ext,
			wantCode: "ValidationError", wantStatus: 400,
			wantMsg: "1 validation error detected: Value 'crossbuild-target' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20"},
		{name: "ExternalId with a space", caller: "starter", role: targetRole, session: "s1", externalID: aws.String("crossbuild ext"),
			wantCode: "ValidationError", wantStatus: 400,
			wantMsg: `1 validation error detected: Value 'crossbuild ext' at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@:\/-]*`},
		{name: "ExternalId too short", caller: "starter", role: targetRole, session: "s1", externalID: aws.String("x"),
			wantCode: "ValidationError", wantStatus: 400},
		{name: "ExternalId too long", caller: "starter", role: targetRole, session: "s1", externalID: aws.String(strings.Repeat("x", 1225)),
			wantCode: "ValidationError", wantStatus: 400},
		{name: "several problems at once", caller: "starter", role: targetRole, session: "a", externalID: aws.String("x"), duration: 60,
			wantCode: "ValidationError", wantStatus: 400,
			wantMsg: "3 validation errors detected: Value 'a' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2; " +
				"Value '60' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900; " +
				"Value 'x' at 'externalId' failed to satisfy constraint: Member must have length greater than or equal to 2"},
	})
	if !strings.Contains(w.logs.String(), "ArnEquals aws:PrincipalArn") {
		t.Errorf("the denial of the admin role was not explained in the log:\n%s", w.logs)
	}
}

// The SDK's own credential provider, and the project's role cache built on it, work
// against the stand-in.
func TestAssumeRoleProvider(t *testing.T) {
	w := newWorld(t, nil)
	cfg := w.config(w.creds["starter"])
	client := sts.NewFromConfig(cfg)

	p := stscreds.NewAssumeRoleProvider(client, targetRole, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = "crossbuild-exec-2"
		o.ExternalID = aws.String(externalID)
		o.Duration = 15 * time.Minute
	})
	assumed := cfg.Copy()
	assumed.Credentials = aws.NewCredentialsCache(p)
	who, err := sts.NewFromConfig(assumed).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(who.Arn); got != "arn:aws:sts::222222222222:assumed-role/crossbuild-target/crossbuild-exec-2" || aws.ToString(who.Account) != targetAccount {
		t.Fatalf("GetCallerIdentity = %s %s", got, aws.ToString(who.Account))
	}
	creds, err := assumed.Credentials.Retrieve(context.Background())
	if err != nil || !creds.CanExpire || time.Until(creds.Expires) > 15*time.Minute+5*time.Second {
		t.Fatalf("credentials %+v %v", creds, err)
	}
	// The session carries the target role's organization.
	pr, err := w.ids.Lookup(creds.AccessKeyID)
	if err != nil || pr.OrgID != "o-a1b2c3d4e5" || pr.RoleARN != targetRole {
		t.Fatalf("session principal %+v %v", pr, err)
	}

	// A provider with the wrong ExternalId fails on Retrieve with AccessDenied.
	bad := stscreds.NewAssumeRoleProvider(client, targetRole, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = "crossbuild-exec-2"
		o.ExternalID = aws.String("nope-nope")
	})
	if _, err := bad.Retrieve(context.Background()); err == nil {
		t.Fatal("wrong ExternalId accepted")
	} else if code, _, status := apiError(t, err); code != "AccessDenied" || status != 403 {
		t.Fatalf("got %s %d", code, status)
	}

	// internal/assume, as the starter and poller use it.
	roles := assume.NewRoles(client, externalID, 15*time.Minute)
	session := assume.SessionName("arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1")
	if _, err := roles.Credentials(context.Background(), targetRole, session); err != nil {
		t.Fatalf("assume.Roles: %v", err)
	}
	wrong := assume.NewRoles(client, "wrong-ext", 15*time.Minute)
	_, err = wrong.Credentials(context.Background(), targetRole, session)
	var arf *failure.AssumeRoleFailed
	if !errors.As(err, &arf) || arf.RoleARN != targetRole {
		t.Fatalf("assume.Roles with the wrong ExternalId: %v (%T)", err, err)
	}
	chained := assume.NewRoles(client, externalID, 2*time.Hour)
	if _, err := chained.Credentials(context.Background(), targetRole, session); !errors.As(err, &arf) {
		t.Fatalf("a 2 hour session from Lambda credentials (role chaining) must fail: %v", err)
	}
}

func TestIdentityPolicies(t *testing.T) {
	w := newWorld(t, func(s *Service) {
		starter, admin := policy(t, "identity-starter.json"), policy(t, "identity-admin.json")
		s.IdentityPolicies = func(roleARN string) []*iam.Policy {
			switch roleARN {
			case starterRole:
				return []*iam.Policy{starter}
			case adminRole:
				return []*iam.Policy{admin}
			}
			return nil
		}
	})
	ext := aws.String(externalID)
	runAssumeCases(t, w, []assumeCase{
		{name: "cross-account, trusted and allowed", caller: "starter", role: targetRole, session: "s1", externalID: ext, wantTTL: time.Hour},
		{name: "cross-account, trusted but not allowed by the caller's policy", caller: "starter", role: otherTarget, session: "s1", externalID: ext,
			wantCode: "AccessDenied", wantStatus: 403, wantMsg: notAuthorized(starterSession, otherTarget)},
		{name: "cross-account, caller without policies", caller: "poller", role: targetRole, session: "s1", externalID: ext,
			wantCode: "AccessDenied", wantStatus: 403},
		{name: "same account, trusted by role ARN: no identity policy needed", caller: "starter", role: localRole, session: "s1", wantTTL: time.Hour},
		{name: "same account, trusted by account: identity policy needed", caller: "starter", role: accountRole, session: "s1",
			wantCode: "AccessDenied", wantStatus: 403},
		{name: "same account, trusted by account and allowed", caller: "admin", role: accountRole, session: "s1", wantTTL: time.Hour},
		{name: "an explicit deny in the caller's policy wins over the trust policy", caller: "starter", role: breakGlass, session: "s1",
			wantCode: "AccessDenied", wantStatus: 403},
	})
	logs := w.logs.String()
	for _, want := range []string{
		"the role is in another account",
		"the trust policy trusts the caller's account, not the caller",
		`explicitly denied by statement 1 (Sid \"NeverTheBreakGlassRole\")`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestGetCallerIdentity(t *testing.T) {
	w := newWorld(t, nil)
	cases := []struct {
		caller, arn, account, userID string
	}{
		{"root", "arn:aws:iam::111111111111:root", sourceAccount, sourceAccount},
		{"starter", starterSession, sourceAccount, uniqueID("AROA", starterRole) + ":crossbuild-starter-fn"},
		{"starter-longterm", starterRole, sourceAccount, uniqueID("AROA", starterRole)},
	}
	for _, c := range cases {
		out, err := w.client(c.caller).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatalf("%s: %v", c.caller, err)
		}
		if aws.ToString(out.Arn) != c.arn || aws.ToString(out.Account) != c.account || aws.ToString(out.UserId) != c.userID {
			t.Errorf("%s: got %s %s %s", c.caller, aws.ToString(out.Arn), aws.ToString(out.Account), aws.ToString(out.UserId))
		}
	}
}

// Raw requests: the wire shapes the SDK tests above do not pin down.
func TestWire(t *testing.T) {
	w := newWorld(t, nil)
	starter := w.creds["starter"]
	auth := "AWS4-HMAC-SHA256 Credential=" + starter.AccessKeyID + "/20261126/eu-west-1/sts/aws4_request, SignedHeaders=host, Signature=00"
	do := func(method, body string) (*http.Response, []byte) {
		t.Helper()
		target := w.srv.URL + "/"
		var rd io.Reader
		if method == http.MethodGet {
			target += "?" + body
		} else {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, target, rd)
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}

	t.Run("AssumeRole response shape", func(t *testing.T) {
		form := url.Values{"Action": {"AssumeRole"}, "Version": {APIVersion}, "RoleArn": {targetRole},
			"RoleSessionName": {"shape"}, "ExternalId": {externalID}, "DurationSeconds": {"1800"}}
		resp, body := do(http.MethodPost, form.Encode())
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/xml" {
			t.Fatalf("%d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		var out struct {
			XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleResponse"`
			Result  struct {
				User struct {
					Arn, AssumedRoleId string
				} `xml:"AssumedRoleUser"`
				Credentials struct {
					AccessKeyId, SecretAccessKey, SessionToken, Expiration string
				}
			} `xml:"AssumeRoleResult"`
			RequestID string `xml:"ResponseMetadata>RequestId"`
		}
		if err := xml.Unmarshal(body, &out); err != nil {
			t.Fatalf("%v\n%s", err, body)
		}
		exp, err := time.Parse(time.RFC3339, out.Result.Credentials.Expiration)
		if err != nil || !strings.HasSuffix(out.Result.Credentials.Expiration, "Z") || time.Until(exp) > 30*time.Minute || time.Until(exp) < 29*time.Minute {
			t.Fatalf("Expiration %q", out.Result.Credentials.Expiration)
		}
		if out.Result.User.AssumedRoleId != uniqueID("AROA", targetRole)+":shape" || len(out.Result.User.AssumedRoleId) != len("AROA")+17+len(":shape") {
			t.Fatalf("AssumedRoleId %q", out.Result.User.AssumedRoleId)
		}
		if out.RequestID == "" || resp.Header.Get("X-Amzn-Requestid") != out.RequestID {
			t.Fatalf("request id %q header %q", out.RequestID, resp.Header.Get("X-Amzn-Requestid"))
		}
	})

	t.Run("GetCallerIdentity over GET", func(t *testing.T) {
		resp, body := do(http.MethodGet, "Action=GetCallerIdentity&Version=2011-06-15")
		var out struct {
			XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ GetCallerIdentityResponse"`
			Arn     string   `xml:"GetCallerIdentityResult>Arn"`
			Account string   `xml:"GetCallerIdentityResult>Account"`
		}
		if resp.StatusCode != 200 || xml.Unmarshal(body, &out) != nil || out.Arn != starterSession || out.Account != sourceAccount {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})

	errorCases := []struct {
		name, method, body string
		status             int
		code, msg          string
	}{
		{"unknown action", "POST", "Action=GetSessionTokn&Version=2011-06-15", 400, "InvalidAction", "Could not find operation GetSessionTokn for version 2011-06-15"},
		{"wrong version", "POST", "Action=AssumeRole&Version=2011-06-16", 400, "InvalidAction", "Could not find operation AssumeRole for version 2011-06-16"},
		{"missing action", "POST", "Version=2011-06-15", 400, "MissingAction", "Missing Action"},
		{"method", "DELETE", "", 405, "InvalidAction", ""},
		{"missing required parameters", "POST", "Action=AssumeRole&Version=2011-06-15", 400, "ValidationError",
			"2 validation errors detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null; Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null"},
		{"duration not a number", "POST", "Action=AssumeRole&Version=2011-06-15&RoleArn=" + url.QueryEscape(targetRole) + "&RoleSessionName=s1&DurationSeconds=1h", 400, "ValidationError",
			"1 validation error detected: Value '1h' at 'durationSeconds' failed to satisfy constraint: Member must be an integer"},
		{"session policy refused", "POST", "Action=AssumeRole&Version=2011-06-15&RoleArn=" + url.QueryEscape(targetRole) + "&RoleSessionName=s1&ExternalId=crossbuild-ext&Policy=%7B%7D", 400, "NotImplemented", ""},
		{"session tags refused", "POST", "Action=AssumeRole&Version=2011-06-15&RoleArn=" + url.QueryEscape(targetRole) + "&RoleSessionName=s1&ExternalId=crossbuild-ext&Tags.member.1.Key=k&Tags.member.1.Value=v", 400, "NotImplemented", ""},
		{"policy ARNs refused", "POST", "Action=AssumeRole&Version=2011-06-15&RoleArn=" + url.QueryEscape(targetRole) + "&RoleSessionName=s1&PolicyArns.member.1.arn=arn:aws:iam::aws:policy/ReadOnlyAccess", 400, "NotImplemented", ""},
	}
	for _, c := range errorCases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := do(c.method, c.body)
			var e struct {
				XMLName xml.Name `xml:"ErrorResponse"`
				Type    string   `xml:"Error>Type"`
				Code    string   `xml:"Error>Code"`
				Message string   `xml:"Error>Message"`
			}
			if err := xml.Unmarshal(body, &e); err != nil {
				t.Fatalf("%v\n%s", err, body)
			}
			if resp.StatusCode != c.status || e.Code != c.code || e.Type != "Sender" || (c.msg != "" && e.Message != c.msg) {
				t.Fatalf("got %d %s %s %q\nwant %d %s %q", resp.StatusCode, e.Type, e.Code, e.Message, c.status, c.code, c.msg)
			}
		})
	}

	t.Run("without the router there is no caller", func(t *testing.T) {
		rec := httptest.NewRecorder()
		w.svc.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("Action=GetCallerIdentity&Version=2011-06-15")))
		if rec.Code != 403 || !strings.Contains(rec.Body.String(), "MissingAuthenticationToken") {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
}

func TestAddRole(t *testing.T) {
	trust := iam.MustParse(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole"}}`)
	cases := []struct {
		name string
		role Role
		err  string
	}{
		{"defaults from the ARN", Role{ARN: "arn:aws:iam::222222222222:role/a", Trust: trust}, ""},
		{"role with a path", Role{ARN: "arn:aws:iam::222222222222:role/service-role/team/b", Name: "b", Account: "222222222222", Trust: trust, MaxSession: 12 * time.Hour}, ""},
		{"duplicate", Role{ARN: "arn:aws:iam::222222222222:role/a", Trust: trust}, "already exists"},
		{"not a role ARN", Role{ARN: "arn:aws:iam::222222222222:user/a", Trust: trust}, "is not a role ARN"},
		{"account mismatch", Role{ARN: "arn:aws:iam::222222222222:role/c", Account: "333333333333", Trust: trust}, `account "333333333333" does not match`},
		{"name mismatch", Role{ARN: "arn:aws:iam::222222222222:role/c", Name: "d", Trust: trust}, `name "d" does not match`},
		{"no trust policy", Role{ARN: "arn:aws:iam::222222222222:role/c"}, "a trust policy is required"},
		{"MaxSession too short", Role{ARN: "arn:aws:iam::222222222222:role/c", Trust: trust, MaxSession: 30 * time.Minute}, "outside 1h to 12h"},
		{"MaxSession too long", Role{ARN: "arn:aws:iam::222222222222:role/c", Trust: trust, MaxSession: 13 * time.Hour}, "outside 1h to 12h"},
	}
	s := New(localaws.NewIdentities())
	for _, c := range cases {
		err := s.AddRole(c.role)
		if (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.err)
		}
	}
	r, ok := s.role("arn:aws:iam::222222222222:role/service-role/team/b")
	if !ok || r.Name != "b" || r.MaxSession != 12*time.Hour {
		t.Fatalf("role with a path: %+v", r)
	}
	if r, _ := s.role("arn:aws:iam::222222222222:role/a"); r.Account != "222222222222" || r.Name != "a" || r.MaxSession != time.Hour {
		t.Fatalf("defaults: %+v", r)
	}
}

// A session of a role with a path is named after the role's name alone, as in AWS.
func TestRoleWithPathSessionARN(t *testing.T) {
	ids := localaws.NewIdentities()
	s := New(ids)
	trust := iam.MustParse(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/crossbuild-starter"},"Action":"sts:AssumeRole"}}`)
	const arn = "arn:aws:iam::111111111111:role/service-role/team/deployer"
	if err := s.AddRole(Role{ARN: arn, Trust: trust}); err != nil {
		t.Fatal(err)
	}
	router := localaws.NewRouter(ids)
	router.Handle("sts", s)
	srv := httptest.NewServer(router)
	defer srv.Close()
	c := ids.Temporary(session(starterRole, "fn"), time.Hour)
	client := sts.NewFromConfig(aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)})
	out, err := client.AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(arn), RoleSessionName: aws.String("x1")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.AssumedRoleUser.Arn); got != "arn:aws:sts::111111111111:assumed-role/deployer/x1" {
		t.Fatalf("Arn = %s", got)
	}
}
