package codebuild

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/smithy-go"

	"github.com/crossbuild/crossbuild/local/localaws"
)

const (
	targetAccount = "222222222222"
	otherAccount  = "333333333333"
	targetRegion  = "eu-west-1"
	sampleProject = "sample-codebuild-project"
	starterARN    = "arn:aws:sts::222222222222:assumed-role/crossbuild-target-role/crossbuild-run-1"
	starterName   = "crossbuild-target-role/crossbuild-run-1"
	waitLimit     = 15 * time.Second
)

// published is one event a recorder received.
type published struct {
	account, region string
	raw             json.RawMessage
}

// recorder is a Publisher that keeps what it is given.
type recorder struct {
	mu     sync.Mutex
	events []published
	held   map[[2]string]chan struct{} // account and Region → closed when their events may pass
}

func (r *recorder) PublishDefault(ctx context.Context, account, region string, ev json.RawMessage) error {
	r.mu.Lock()
	gate := r.held[[2]string{account, region}]
	r.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, published{account, region, append(json.RawMessage(nil), ev...)})
	return nil
}

// hold blocks the publishing of an account's and Region's events, and with it the builds
// that send them, until release is called: a build is held in the phase it has just begun.
func (r *recorder) hold(account, region string) (release func()) {
	gate := make(chan struct{})
	r.mu.Lock()
	if r.held == nil {
		r.held = map[[2]string]chan struct{}{}
	}
	r.held[[2]string{account, region}] = gate
	r.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(gate) }) }
}

// of returns the events about one build, in the order they were published.
func (r *recorder) of(t *testing.T, buildARN string) []published {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []published
	for _, e := range r.events {
		var env struct {
			Resources []string `json:"resources"`
		}
		if err := json.Unmarshal(e.raw, &env); err != nil {
			t.Fatalf("event is not JSON: %v\n%s", err, e.raw)
		}
		if len(env.Resources) == 1 && env.Resources[0] == buildARN {
			out = append(out, e)
		}
	}
	return out
}

// world is a Service behind localaws.Router on a loopback httptest server, with the
// projects of testdata/projects.json.
type world struct {
	svc *Service
	pub *recorder // nil when the world was made with another Publisher
	srv *httptest.Server
	ids *localaws.Identities
}

func newWorld(t testing.TB, opts Options) *world {
	t.Helper()
	rec := &recorder{}
	w := newWorldPublishing(t, rec, opts)
	w.pub = rec
	return w
}

func newWorldPublishing(t testing.TB, pub Publisher, opts Options) *world {
	t.Helper()
	if opts.WorkDir == "" {
		opts.WorkDir = t.TempDir()
	}
	w := &world{ids: localaws.NewIdentities()}
	w.svc = New(pub, opts)
	t.Cleanup(func() {
		if err := w.svc.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	for _, p := range loadJSON[[]Project](t, "projects.json") {
		if err := w.svc.AddProject(p); err != nil {
			t.Fatalf("AddProject(%s): %v", p.Name, err)
		}
	}
	router := localaws.NewRouter(w.ids)
	router.Handle("codebuild", w.svc)
	w.srv = httptest.NewServer(router) // binds 127.0.0.1
	t.Cleanup(w.srv.Close)
	return w
}

// client is a real SDK client signing as principal arn of account, in region.
func (w *world) client(account, arn, region string) *codebuild.Client {
	creds := w.ids.LongTerm(localaws.Principal{Account: account, ARN: arn, RoleARN: arn})
	return codebuild.NewFromConfig(aws.Config{
		Region:           region,
		BaseEndpoint:     aws.String(w.srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		HTTPClient:       bufferedBodies{http.DefaultClient},
		RetryMaxAttempts: 1, // a retried StartBuild would start a second build
	})
}

// bufferedBodies hands the transport a copy of each request body. The SDK closes the body
// it built as soon as the response arrives; a server on loopback can answer before the
// transport has read the body's end, and the transport then drops the connection under
// the response ("use of closed network connection"). The SDK retries that by default;
// these tests send each request once, so they take the race away instead.
type bufferedBodies struct{ c *http.Client }

func (b bufferedBodies) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(raw))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }
	}
	return b.c.Do(r)
}

// starter is the client the starter Lambda would have in the target account.
func (w *world) starter() *codebuild.Client {
	return w.client(targetAccount, starterARN, targetRegion)
}

// wait waits, within waitLimit, for a build of the target account to complete.
func (w *world) wait(t *testing.T, id string) BuildInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	info, err := w.svc.Wait(ctx, targetAccount, targetRegion, id)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func loadJSON[T any](t testing.TB, name string) T {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// errorCode is the AWS error code of an SDK error.
func errorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
