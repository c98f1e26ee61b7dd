package codebuild

import (
	"context"
	"encoding/json"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
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

func TestBuildsListsEveryAccount(t *testing.T) {
	w := newWorld(t, Options{})
	if got := len(w.svc.Builds()); got != 0 {
		t.Fatalf("a new service lists %d builds", got)
	}
	ctx := context.Background()
	var ids []string
	for range 2 {
		out, err := w.starter().StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String(sampleProject)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(out.Build.Id))
	}
	for _, id := range ids {
		w.wait(t, id)
	}
	got := w.svc.Builds()
	if len(got) != 2 || got[0].Number != 1 || got[1].Number != 2 || got[0].Status != "SUCCEEDED" {
		t.Fatalf("Builds() = %+v", got)
	}
}
