package localaws

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type echoInput struct {
	Name string `json:"name"`
}

func testJSONProtocol() *JSONProtocol {
	return &JSONProtocol{Service: "Test", TargetPrefix: "Test_1.", ContentType: JSON10, MaxBody: 64,
		Operations: map[string]JSONOperation{
			"Echo": JSONOp(func(_ *http.Request, c Caller, in echoInput) (any, error) {
				return map[string]string{"name": in.Name, "account": c.Account}, nil
			}),
			"Fail": func(*http.Request, Caller, []byte) (any, error) {
				return nil, errorsWrap(BadRequest("ThingNotFound", "thing %s is missing", "x"))
			},
			"Crash": func(*http.Request, Caller, []byte) (any, error) { return nil, errors.New("boom") },
		}}
}

// errorsWrap wraps an Error as an operation's helpers would: the writer still finds it.
func errorsWrap(e *Error) error { return errors.Join(errors.New("context"), e) }

func TestJSONProtocol(t *testing.T) {
	signed := WithCaller(t.Context(), Caller{Principal: Principal{Account: "111111111111"}})
	cases := []struct {
		name, method, target, body string
		signed                     bool
		status                     int
		want                       string // __type, or the body of a success
	}{
		{"operation", "POST", "Test_1.Echo", `{"name":"a"}`, true, 200, `{"account":"111111111111","name":"a"}`},
		{"empty body", "POST", "Test_1.Echo", ``, true, 200, `{"account":"111111111111","name":""}`},
		{"unsigned", "POST", "Test_1.Echo", `{}`, false, 403, "MissingAuthenticationTokenException"},
		{"method", "GET", "Test_1.Echo", ``, true, 405, "UnknownOperationException"},
		{"foreign target", "POST", "Other.Echo", `{}`, true, 400, "UnknownOperationException"},
		{"unknown operation", "POST", "Test_1.Nope", `{}`, true, 400, "UnknownOperationException"},
		{"not JSON", "POST", "Test_1.Echo", `{nope`, true, 400, "SerializationException"},
		{"too large", "POST", "Test_1.Echo", `{"name":"` + strings.Repeat("a", 64) + `"}`, true, 413, "RequestEntityTooLarge"},
		{"service error", "POST", "Test_1.Fail", `{}`, true, 400, "ThingNotFound"},
		{"internal failure", "POST", "Test_1.Crash", `{}`, true, 500, "InternalFailure"},
	}
	p := testJSONProtocol()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, "/", strings.NewReader(c.body))
			r.Header.Set("X-Amz-Target", c.target)
			if c.signed {
				r = r.WithContext(signed)
			}
			rec := httptest.NewRecorder()
			p.ServeHTTP(rec, r)
			if rec.Code != c.status || rec.Header().Get("Content-Type") != JSON10 || len(rec.Header().Get("X-Amzn-Requestid")) != 32 {
				t.Fatalf("%d %v %s", rec.Code, rec.Header(), rec.Body)
			}
			if c.status == 200 {
				if got := strings.TrimSpace(rec.Body.String()); got != c.want {
					t.Fatalf("body %s, want %s", got, c.want)
				}
				return
			}
			var e map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e["__type"] != c.want || e["message"] == "" || len(e) != 2 {
				t.Fatalf("error body %s, want __type %s", rec.Body, c.want)
			}
			if rec.Header().Get("X-Amzn-ErrorType") != c.want {
				t.Fatalf("X-Amzn-ErrorType %q", rec.Header().Get("X-Amzn-ErrorType"))
			}
		})
	}
}

// A stand-in that serves on its own names the caller of unsigned requests.
func TestJSONProtocolUnsigned(t *testing.T) {
	p := testJSONProtocol()
	p.Unsigned = func(*http.Request) Caller { return Caller{Principal: Principal{Account: "999999999999"}} }
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"name":"b"}`))
	r.Header.Set("X-Amz-Target", "Test_1.Echo")
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, r)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "999999999999") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

func TestQueryProtocol(t *testing.T) {
	type result struct {
		Name string `xml:"Name"`
	}
	p := &QueryProtocol{Service: "Test", Version: "2020-01-01", Xmlns: "https://example.com/doc/", Actions: map[string]QueryAction{
		"Get":    func(r *http.Request, _ Caller) (any, error) { return result{Name: r.Form.Get("Name")}, nil },
		"Change": func(*http.Request, Caller) (any, error) { return nil, nil },
		"Fail":   func(*http.Request, Caller) (any, error) { return nil, Errorf(404, "NoSuchEntity", "gone") },
	}}
	signed := WithCaller(t.Context(), Caller{Principal: Principal{Account: "111111111111"}})
	cases := []struct {
		name, method, body string
		signed             bool
		status             int
		want               string // the error code, or the body of a success after the XML header
	}{
		{"result", "POST", "Action=Get&Version=2020-01-01&Name=n", true, 200, `<GetResponse xmlns="https://example.com/doc/"><GetResult><Name>n</Name></GetResult><ResponseMetadata><RequestId>ID</RequestId></ResponseMetadata></GetResponse>`},
		{"no result", "POST", "Action=Change&Version=2020-01-01", true, 200, `<ChangeResponse xmlns="https://example.com/doc/"><ResponseMetadata><RequestId>ID</RequestId></ResponseMetadata></ChangeResponse>`},
		{"error", "POST", "Action=Fail&Version=2020-01-01", true, 404, "NoSuchEntity"},
		{"unsigned", "POST", "Action=Get&Version=2020-01-01", false, 403, "MissingAuthenticationToken"},
		{"GET not taken", "GET", "", true, 405, "InvalidAction"},
		{"missing action", "POST", "Version=2020-01-01", true, 400, "MissingAction"},
		{"wrong version", "POST", "Action=Get&Version=2011-01-01", true, 400, "InvalidAction"},
		{"unknown action", "POST", "Action=Nope&Version=2020-01-01", true, 400, "InvalidAction"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, "/", strings.NewReader(c.body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if c.signed {
				r = r.WithContext(signed)
			}
			rec := httptest.NewRecorder()
			p.ServeHTTP(rec, r)
			id := rec.Header().Get("X-Amzn-Requestid")
			if rec.Code != c.status || len(id) != 32 {
				t.Fatalf("%d %v %s", rec.Code, rec.Header(), rec.Body)
			}
			if c.status == 200 {
				want := xml.Header + strings.ReplaceAll(c.want, "ID", id)
				if rec.Body.String() != want {
					t.Fatalf("body\n%s\nwant\n%s", rec.Body, want)
				}
				return
			}
			var e struct {
				Code string `xml:"Error>Code"`
			}
			if err := xml.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code != c.want {
				t.Fatalf("error %s, want %s", rec.Body, c.want)
			}
		})
	}
}
