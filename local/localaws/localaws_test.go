package localaws

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestParseAuthorization(t *testing.T) {
	cases := []struct {
		h    string
		want Scope
		ok   bool
	}{
		{"AWS4-HMAC-SHA256 Credential=AKIA1/20261126/eu-west-1/codebuild/aws4_request, SignedHeaders=host, Signature=ab",
			Scope{"AKIA1", "20261126", "eu-west-1", "codebuild"}, true},
		{"AWS4-HMAC-SHA256 Credential=AKIA1/20261126/eu-west-1/codebuild", Scope{}, false},
		{"Basic abc", Scope{}, false},
		{"", Scope{}, false},
	}
	for _, tc := range cases {
		got, err := ParseAuthorization(tc.h)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseAuthorization(%q) = %+v, %v", tc.h, got, err)
		}
	}
}

func TestIdentities(t *testing.T) {
	ids := NewIdentities()
	p := Principal{Account: "111111111111", ARN: "arn:aws:iam::111111111111:role/starter", RoleARN: "arn:aws:iam::111111111111:role/starter"}
	lt := ids.LongTerm(p)
	if got, err := ids.Lookup(lt.AccessKeyID); err != nil || got != p {
		t.Fatalf("Lookup = %+v %v", got, err)
	}
	tmp := ids.Temporary(p, time.Minute)
	if !strings.HasPrefix(tmp.AccessKeyID, "ASIA") || tmp.SessionToken == "" {
		t.Fatalf("temporary = %+v", tmp)
	}
	ids.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if _, err := ids.Lookup(tmp.AccessKeyID); !errors.Is(err, ErrExpiredKey) {
		t.Fatalf("expired key: %v", err)
	}
	if _, err := ids.Lookup("AKIANOPE"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}
}

// A real SDK client reaches the registered service with its caller resolved.
func TestRouterWithSDK(t *testing.T) {
	ids := NewIdentities()
	p := Principal{Account: "222222222222", ARN: "arn:aws:iam::222222222222:root", RoleARN: "arn:aws:iam::222222222222:root"}
	c := ids.LongTerm(p)
	r := NewRouter(ids)
	var seen Caller
	r.Handle("sts", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		seen, _ = CallerFrom(req.Context())
		_, _ = io.Copy(io.Discard, req.Body)
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>`+seen.ARN+`</Arn><UserId>x</UserId><Account>`+seen.Account+`</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`)
	}))
	srv := httptest.NewServer(r)
	defer srv.Close()
	cfg := aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(out.Account) != "222222222222" || seen.Region != "eu-west-1" || seen.Service != "sts" {
		t.Fatalf("out %+v err %v caller %+v", out, err, seen)
	}
	cfg.Credentials = credentials.NewStaticCredentialsProvider("AKIAUNKNOWN", "x", "")
	_, err = sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err == nil || !strings.Contains(err.Error(), "InvalidClientTokenId") {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestErrorsCarryARequestID(t *testing.T) {
	for name, write := range map[string]func(http.ResponseWriter){
		"json":  func(w http.ResponseWriter) { WriteJSONError(w, 400, "ValidationException", "bad") },
		"query": func(w http.ResponseWriter) { WriteQueryError(w, 403, "AccessDenied", "no") },
	} {
		rec := httptest.NewRecorder()
		write(rec)
		if id := rec.Header().Get("X-Amzn-Requestid"); len(id) != 32 {
			t.Errorf("%s: request id %q", name, id)
		}
		if name == "query" && !strings.Contains(rec.Body.String(), rec.Header().Get("X-Amzn-Requestid")) {
			t.Errorf("query body lacks the request id: %s", rec.Body.String())
		}
	}
}
