package codebuild

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/crossbuild/crossbuild/local/localaws"
)

// Requests the SDK would never send still get CodeBuild-shaped errors, never a panic.
func TestDispatchErrors(t *testing.T) {
	w := newWorld(t, Options{})
	type tc struct {
		Name     string `json:"name"`
		Unsigned bool   `json:"unsigned"`
		Method   string `json:"method"`
		Target   string `json:"target"`
		Body     string `json:"body"`
		Status   int    `json:"status"`
		Code     string `json:"code"`
	}
	caller := localaws.Caller{Principal: localaws.Principal{Account: targetAccount, ARN: starterARN, RoleARN: starterARN},
		Region: targetRegion, Service: "codebuild"}
	for _, c := range loadJSON[[]tc](t, "dispatch.json") {
		t.Run(c.Name, func(t *testing.T) {
			method := c.Method
			if method == "" {
				method = http.MethodPost
			}
			req := httptest.NewRequest(method, "/", strings.NewReader(c.Body))
			req.Header.Set("X-Amz-Target", c.Target)
			if !c.Unsigned {
				req = req.WithContext(localaws.WithCaller(req.Context(), caller))
			}
			rec := httptest.NewRecorder()
			w.svc.ServeHTTP(rec, req)
			if rec.Code != c.Status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.Status, rec.Body)
			}
			var body struct {
				Type string `json:"__type"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body is not JSON: %s", rec.Body)
			}
			if body.Type != c.Code {
				t.Errorf("__type %q, want %q", body.Type, c.Code)
			}
		})
	}
}
