package faults_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/crossbuild/crossbuild/internal/awserr"
	"github.com/crossbuild/crossbuild/internal/awstest"
	"github.com/crossbuild/crossbuild/local/faults"
	"github.com/crossbuild/crossbuild/local/localaws"
)

// The helper process of TestKill: it sends one DynamoDB write to the URL and reports how
// its call ended, unless it is killed first.
const envHelperURL = "FAULTS_TEST_HELPER_URL"

func TestMain(m *testing.M) {
	if url := os.Getenv(envHelperURL); url != "" {
		helper(url)
		return
	}
	os.Exit(m.Run())
}

func helper(url string) {
	client := dynamodb.NewFromConfig(awstest.Config(url, 1))
	_, err := client.PutItem(context.Background(), putRecord("arn:aws:codebuild:eu-west-1:222222222222:build/p:1"))
	fmt.Println("call ended:", err)
	os.Exit(0)
}

// callback is the role session of the callback function, as the router resolves it.
const callbackSession = "arn:aws:sts::111111111111:assumed-role/crossbuild-callback-role/crossbuild-callback"

// asCaller resolves every request's caller to principal, as the router does from the key.
func asCaller(principal string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := localaws.Caller{Principal: localaws.Principal{Account: "111111111111", ARN: principal}, Region: "eu-west-1"}
		next.ServeHTTP(w, r.WithContext(localaws.WithCaller(r.Context(), c)))
	})
}

// table stands for dynalite: it applies every write it is sent and answers 200.
type table struct {
	mu      sync.Mutex
	applied []string // operation and state set, in order
}

func (tb *table) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	op := r.Header.Get("X-Amz-Target")
	op = op[strings.LastIndexByte(op, '.')+1:]
	var in struct {
		ExpressionAttributeValues map[string]map[string]string
		Item                      map[string]map[string]string
	}
	_ = json.Unmarshal(body, &in)
	state := in.Item["state"]["S"]
	if v, ok := in.ExpressionAttributeValues[":claimed"]; ok {
		state = v["S"]
	}
	tb.mu.Lock()
	tb.applied = append(tb.applied, op+" "+state)
	tb.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_, _ = io.WriteString(w, `{}`)
}

func (tb *table) writes() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return slices.Clone(tb.applied)
}

func putRecord(buildARN string) *dynamodb.PutItemInput {
	return &dynamodb.PutItemInput{TableName: aws.String("tokens"), Item: map[string]dbtypes.AttributeValue{
		"buildArn": &dbtypes.AttributeValueMemberS{Value: buildARN},
		"state":    &dbtypes.AttributeValueMemberS{Value: "WAITING"},
	}}
}

func claim(buildARN string) *dynamodb.UpdateItemInput {
	return &dynamodb.UpdateItemInput{
		TableName:        aws.String("tokens"),
		Key:              map[string]dbtypes.AttributeValue{"buildArn": &dbtypes.AttributeValueMemberS{Value: buildARN}},
		UpdateExpression: aws.String("SET #state = :claimed, #claimedAt = :now"),
		ExpressionAttributeNames: map[string]string{
			"#state": "state", "#claimedAt": "claimedAt",
		},
		ExpressionAttributeValues: map[string]dbtypes.AttributeValue{
			":claimed": &dbtypes.AttributeValueMemberS{Value: "CLAIMED"},
			":now":     &dbtypes.AttributeValueMemberN{Value: "1"},
		},
	}
}

func newInjector(t *testing.T, p faults.Plan) *faults.Injector {
	t.Helper()
	in := faults.New(faults.Options{})
	if err := in.Set(p); err != nil {
		t.Fatal(err)
	}
	return in
}

func count(t *testing.T, in *faults.Injector, rule string) faults.Count {
	t.Helper()
	for _, c := range in.Counts() {
		if c.Rule == rule {
			return c
		}
	}
	t.Fatalf("no count for rule %q", rule)
	return faults.Count{}
}

// TestLostAnswers: a chosen write reaches the table and its caller sees a 500 or a closed
// connection; the SDK retries it, and the retry draws again. Writes the selection leaves
// out are never touched.
func TestLostAnswers(t *testing.T) {
	for _, loss := range []faults.Loss{faults.Answer500, faults.DropConnection} {
		t.Run(loss.String(), func(t *testing.T) {
			in := newInjector(t, faults.Plan{Seed: 1, Answers: []faults.AnswerRule{{
				Name: "claims", Loss: loss, Fraction: 1,
				Writes: faults.Writes{Function: "crossbuild-callback", SetsState: "CLAIMED"},
			}}})
			tb := &table{}
			srv := httptest.NewServer(asCaller(callbackSession, in.Intercept("dynamodb", tb)))
			defer srv.Close()
			client := dynamodb.NewFromConfig(awstest.Config(srv.URL, 3))

			_, err := client.UpdateItem(t.Context(), claim("arn:aws:codebuild:eu-west-1:222222222222:build/p:1"))
			if err == nil {
				t.Fatal("every answer lost, yet the claim succeeded")
			}
			if loss == faults.Answer500 && awserr.Code(err) != "InternalServerError" {
				t.Errorf("error %v, want InternalServerError", err)
			}
			if got := tb.writes(); !slices.Equal(got, []string{"UpdateItem CLAIMED", "UpdateItem CLAIMED", "UpdateItem CLAIMED"}) {
				t.Errorf("applied %v, want the claim applied by each of the SDK's 3 attempts", got)
			}
			if c := count(t, in, "claims"); c.Eligible != 3 || c.Injected != 3 {
				t.Errorf("count %+v, want 3 eligible and 3 injected", c)
			}
			// A write that sets another state is not selected.
			if _, err := client.PutItem(t.Context(), putRecord("arn:aws:codebuild:eu-west-1:222222222222:build/p:2")); err != nil {
				t.Errorf("a WAITING put was not selected, yet it failed: %v", err)
			}
		})
	}
}

// TestStall: a held write reaches the table late and its caller gets the answer.
func TestStall(t *testing.T) {
	const hold = 200 * time.Millisecond
	in := newInjector(t, faults.Plan{Seed: 2, Stalls: []faults.StallRule{{Name: "held", Fraction: 1, Delay: hold,
		Writes: faults.Writes{Function: "crossbuild-callback", Ops: []string{"PutItem"}}}}})
	tb := &table{}
	srv := httptest.NewServer(asCaller(callbackSession, in.Intercept("dynamodb", tb)))
	defer srv.Close()
	client := dynamodb.NewFromConfig(awstest.Config(srv.URL, 1))
	began := time.Now()
	if _, err := client.PutItem(t.Context(), putRecord("arn:aws:codebuild:eu-west-1:222222222222:build/p:1")); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < hold {
		t.Errorf("the held write took %s, want at least %s", took, hold)
	}
	if got := tb.writes(); !slices.Equal(got, []string{"PutItem WAITING"}) {
		t.Errorf("applied %v", got)
	}
	if _, err := client.UpdateItem(t.Context(), claim("arn:aws:codebuild:eu-west-1:222222222222:build/p:1")); err != nil {
		t.Fatal(err)
	}
	if c := count(t, in, "held"); c.Eligible != 1 || c.Injected != 1 {
		t.Errorf("count %+v, want the put alone held", c)
	}
}

// TestThrottles: each service throttles in its own protocol with its own code, which the
// SDK decodes as a throttling error; operations the rule does not name are served.
func TestThrottles(t *testing.T) {
	in := newInjector(t, faults.Plan{Seed: 7, Throttles: []faults.ThrottleRule{
		{Name: "sfn", Service: "states", Ops: []string{"SendTaskSuccess"}, Fraction: 1},
		{Name: "sts", Service: "sts", Ops: []string{"AssumeRole"}, Fraction: 1},
		{Name: "codebuild", Service: "codebuild", Ops: []string{"StartBuild"}, Fraction: 1},
	}})
	served := 0
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served++
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = io.WriteString(w, `{}`)
	})
	url := map[string]string{}
	for _, svc := range []string{"states", "sts", "codebuild"} {
		srv := httptest.NewServer(in.Intercept(svc, ok))
		defer srv.Close()
		url[svc] = srv.URL
	}

	cases := []struct {
		name, code string
		call       func() error
	}{
		{"states", "ThrottlingException", func() error {
			_, err := sfn.NewFromConfig(awstest.Config(url["states"], 1)).SendTaskSuccess(t.Context(),
				&sfn.SendTaskSuccessInput{TaskToken: aws.String("token"), Output: aws.String("{}")})
			return err
		}},
		{"sts", "Throttling", func() error {
			_, err := sts.NewFromConfig(awstest.Config(url["sts"], 1)).AssumeRole(t.Context(),
				&sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::222222222222:role/r"), RoleSessionName: aws.String("s")})
			return err
		}},
		{"codebuild", "ThrottlingException", func() error {
			_, err := codebuild.NewFromConfig(awstest.Config(url["codebuild"], 1)).StartBuild(t.Context(),
				&codebuild.StartBuildInput{ProjectName: aws.String("p")})
			return err
		}},
	}
	for _, c := range cases {
		err := c.call()
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != c.code || !awserr.IsThrottle(err) {
			t.Errorf("%s: error %v, want %s, a throttling error to the SDK", c.name, err, c.code)
		}
	}
	if served != 0 {
		t.Errorf("%d throttled requests reached the service", served)
	}
	// Not named: served.
	if _, err := sfn.NewFromConfig(awstest.Config(url["states"], 1)).SendTaskHeartbeat(t.Context(),
		&sfn.SendTaskHeartbeatInput{TaskToken: aws.String("token")}); err != nil || served != 1 {
		t.Errorf("SendTaskHeartbeat: %v, served %d; want it served", err, served)
	}
	sends := in.TaskSends()["token"]
	if sends.Accepted != 0 || sends.Heartbeats != 1 || sends.Refused["ThrottlingException"] != 1 {
		t.Errorf("task sends %+v, want one throttled completion and one heartbeat", sends)
	}
}

// TestDrawsAreSeeded: the choices depend on the seed and the request, not on the order
// requests arrive in, and hit about the fraction asked for.
func TestDrawsAreSeeded(t *testing.T) {
	choose := func(seed int64, order []int) map[int]bool {
		in := newInjector(t, faults.Plan{Seed: seed, Throttles: []faults.ThrottleRule{
			{Name: "sfn", Service: "states", Ops: []string{"SendTaskSuccess"}, Fraction: 0.3},
		}})
		h := in.Intercept("states", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		out := map[int]bool{}
		for _, i := range order {
			body := fmt.Sprintf(`{"taskToken":"t%d","output":"{}"}`, i)
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			r.Header.Set("X-Amz-Target", "AWSStepFunctions.SendTaskSuccess")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			out[i] = rec.Code == http.StatusBadRequest
		}
		return out
	}
	forward, backward := make([]int, 1000), make([]int, 1000)
	for i := range forward {
		forward[i], backward[len(backward)-1-i] = i, i
	}
	a, b, c := choose(42, forward), choose(42, backward), choose(43, forward)
	hits, differ := 0, 0
	for i := range forward {
		if a[i] != b[i] {
			t.Fatalf("request %d: chosen %v in one order and %v in the other", i, a[i], b[i])
		}
		if a[i] {
			hits++
		}
		if a[i] != c[i] {
			differ++
		}
	}
	if hits < 250 || hits > 350 {
		t.Errorf("%d of 1000 requests throttled at a fraction of 0.3", hits)
	}
	if differ == 0 {
		t.Error("another seed made the same choices")
	}
}

// TestKill: the process that sends a chosen write dies, before the write reaches the table
// or once it is applied, and the connection closes.
func TestKill(t *testing.T) {
	for _, after := range []bool{false, true} {
		t.Run(fmt.Sprintf("after write %v", after), func(t *testing.T) {
			in := newInjector(t, faults.Plan{Seed: 3, Kills: []faults.KillRule{{
				Name: "starter", After: after, Fraction: 1,
				Writes: faults.Writes{Function: "crossbuild-starter", KeyPrefix: "arn:"},
			}}})
			tb := &table{}
			srv := httptest.NewServer(asCaller("arn:aws:sts::111111111111:assumed-role/r/crossbuild-starter", in.Intercept("dynamodb", tb)))
			defer srv.Close()

			exe, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), envHelperURL+"="+srv.URL)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || !exit.Sys().(syscall.WaitStatus).Signaled() || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("helper ended with %v, output %q; want it killed", err, out)
			}
			want := []string(nil)
			if after {
				want = []string{"PutItem WAITING"}
			}
			if got := tb.writes(); !slices.Equal(got, want) {
				t.Errorf("applied %v, want %v", got, want)
			}
			if c := count(t, in, "starter"); c.Injected != 1 || c.Missed != 0 {
				t.Errorf("count %+v, want one kill", c)
			}
		})
	}
}

// recorder stands for the Lambda stand-in: it records the events it is given.
type recorder struct {
	mu     sync.Mutex
	events []string // function and event id
}

func (r *recorder) InvokeAsync(_ context.Context, arn string, payload []byte) error {
	var ev struct{ ID string }
	_ = json.Unmarshal(payload, &ev)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, arn[strings.LastIndexByte(arn, ':')+1:]+" "+ev.ID)
	return nil
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func event(id, build string) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"detail":{"build-id":%q}}`, id, build))
}

const (
	callbackARN  = "arn:aws:lambda:eu-west-1:111111111111:function:crossbuild-callback"
	cancellerARN = "arn:aws:lambda:eu-west-1:111111111111:function:crossbuild-canceller"
)

// TestEvents: dropped, duplicated, delayed and reordered deliveries to the rule's
// function; another function's events pass untouched.
func TestEvents(t *testing.T) {
	rule := func(kind faults.EventKind) faults.Plan {
		return faults.Plan{Seed: 5, Events: []faults.EventRule{{Name: "r", Function: "crossbuild-callback", Kind: kind,
			Fraction: 1, MaxDelay: 300 * time.Millisecond}}}
	}
	t.Run("drop", func(t *testing.T) {
		in, rec := newInjector(t, rule(faults.Drop)), &recorder{}
		inv := in.Events(rec)
		if err := inv.InvokeAsync(t.Context(), callbackARN, event("e1", "b")); err != nil {
			t.Fatal(err)
		}
		_ = inv.InvokeAsync(t.Context(), cancellerARN, event("e2", "b"))
		if got := rec.got(); !slices.Equal(got, []string{"crossbuild-canceller e2"}) {
			t.Errorf("delivered %v, want only the canceller's event", got)
		}
	})
	t.Run("duplicate", func(t *testing.T) {
		in, rec := newInjector(t, rule(faults.Duplicate)), &recorder{}
		_ = in.Events(rec).InvokeAsync(t.Context(), callbackARN, event("e1", "b"))
		if got := rec.got(); len(got) != 3 {
			t.Errorf("delivered %v, want the event 3 times", got)
		}
	})
	t.Run("delay", func(t *testing.T) {
		in, rec := newInjector(t, rule(faults.Delay)), &recorder{}
		began := time.Now()
		for i := range 5 {
			_ = in.Events(rec).InvokeAsync(t.Context(), callbackARN, event(fmt.Sprint(i), "b"))
		}
		if took := time.Since(began); took <= 0 || took > 5*300*time.Millisecond {
			t.Errorf("5 delayed deliveries took %s, want at most 5 × MaxDelay", took)
		}
		if c := count(t, in, "r"); c.Injected != 5 || len(rec.got()) != 5 {
			t.Errorf("count %+v, delivered %v", c, rec.got())
		}
	})
	t.Run("reorder", func(t *testing.T) {
		p := rule(faults.Reorder)
		p.Events[0].Fraction = 0.5
		in, rec := newInjector(t, p), &recorder{}
		inv := in.Events(rec)
		// Find an event id the seed holds and one it lets through.
		var held, passed string
		for i := 0; held == "" || passed == ""; i++ {
			probe := newInjector(t, p)
			probeRec := &recorder{}
			id := fmt.Sprint("probe-", i)
			began := time.Now()
			_ = probe.Events(probeRec).InvokeAsync(t.Context(), callbackARN, event(id, "x"))
			if time.Since(began) >= 300*time.Millisecond {
				if held == "" {
					held = id
				}
			} else if passed == "" {
				passed = id
			}
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = inv.InvokeAsync(t.Context(), callbackARN, event(held, "b"))
		}()
		time.Sleep(50 * time.Millisecond) // let the first one be held
		_ = inv.InvokeAsync(t.Context(), callbackARN, event(passed, "b"))
		<-done
		if got := rec.got(); !slices.Equal(got, []string{"crossbuild-callback " + passed, "crossbuild-callback " + held}) {
			t.Errorf("delivered %v, want %s to overtake %s", got, passed, held)
		}
		if c := count(t, in, "r"); c.Injected != 1 || c.Missed != 0 {
			t.Errorf("count %+v, want one reorder", c)
		}
	})
}

// TestValidate: a plan with a bad rule is refused, naming the rule.
func TestValidate(t *testing.T) {
	cases := map[string]faults.Plan{
		"fraction": {Throttles: []faults.ThrottleRule{{Name: "x", Service: "states", Ops: []string{"SendTaskSuccess"}, Fraction: 2}}},
		"service":  {Throttles: []faults.ThrottleRule{{Name: "x", Service: "s3", Ops: []string{"GetObject"}, Fraction: 1}}},
		"op":       {Answers: []faults.AnswerRule{{Name: "x", Loss: faults.Answer500, Writes: faults.Writes{Ops: []string{"GetItem"}}}}},
		"twice": {Events: []faults.EventRule{{Name: "x", Function: "f", Kind: faults.Drop},
			{Name: "x", Function: "f", Kind: faults.Drop}}},
		"delay":  {Events: []faults.EventRule{{Name: "x", Function: "f", Kind: faults.Delay}}},
		"victim": {Kills: []faults.KillRule{{Name: "x", Fraction: 1}}},
	}
	for name, p := range cases {
		if err := faults.New(faults.Options{}).Set(p); err == nil || !strings.Contains(err.Error(), `"x"`) {
			t.Errorf("%s: Set returned %v, want an error naming the rule", name, err)
		}
	}
}
