package faults

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/crossbuild/crossbuild/local/localaws"
)

// Attributes of the token table the write selections read.
const (
	keyAttribute   = "buildArn" // the table's partition key
	stateAttribute = "state"
)

// maxBody bounds the request bodies read: far above any request of the functions.
const maxBody = 16 << 20

// Intercept wraps the handler of a service (its SigV4 signing name) with the faults the
// plan holds for it: lost DynamoDB answers and killed writers in front of dynalite,
// throttling in front of Step Functions, STS and CodeBuild. It also watches the answers
// to SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat (TaskSends). Other services
// are returned as they are.
func (in *Injector) Intercept(service string, next http.Handler) http.Handler {
	switch service {
	case "dynamodb":
		return &dynamoFaults{in: in, next: next}
	case "states", "sts", "codebuild":
		return &apiFaults{in: in, service: service, next: next}
	}
	return next
}

// readBody reads a request's body and puts it back for the next handler.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

// operation names the operation of a request: the X-Amz-Target of the JSON protocols,
// the Action of the query protocol.
func operation(r *http.Request, body []byte) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		return t[strings.LastIndexByte(t, '.')+1:]
	}
	if a := r.URL.Query().Get("Action"); a != "" {
		return a
	}
	if form, err := url.ParseQuery(string(body)); err == nil {
		return form.Get("Action")
	}
	return ""
}

// callerFunction is the name of the function that signed a request: Lambda names a
// function's role session after the function, the last part of the caller's ARN.
func callerFunction(r *http.Request) string {
	c, ok := localaws.CallerFrom(r.Context())
	if !ok || !strings.Contains(c.ARN, ":assumed-role/") {
		return ""
	}
	return c.ARN[strings.LastIndexByte(c.ARN, '/')+1:]
}

// apiFaults throttles Step Functions, STS and CodeBuild operations and records the answers
// to task completions.
type apiFaults struct {
	in      *Injector
	service string
	next    http.Handler
}

func (a *apiFaults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		http.Error(w, "read request: "+err.Error(), http.StatusBadRequest)
		return
	}
	op := operation(r, body)
	for _, rule := range a.in.Plan().Throttles {
		if rule.Service != a.service || !slices.Contains(rule.Ops, op) {
			continue
		}
		// The body names the request: a retry sends the same body and draws anew.
		if hit, _ := a.in.draw(rule.Name, op+"\x00"+string(body), rule.Fraction); hit {
			a.in.injected(rule.Name, "service", a.service, "operation", op, "caller", callerFunction(r))
			writeThrottle(w, a.service)
			a.observe(op, body, http.StatusBadRequest, throttleCode(a.service))
			return
		}
	}
	if a.service != "states" || !strings.HasPrefix(op, "SendTask") {
		a.next.ServeHTTP(w, r)
		return
	}
	rec := &statusRecorder{ResponseWriter: w}
	a.next.ServeHTTP(rec, r)
	a.observe(op, body, rec.status(), w.Header().Get("X-Amzn-ErrorType"))
}

func (a *apiFaults) observe(op string, body []byte, status int, code string) {
	if a.service != "states" || !strings.HasPrefix(op, "SendTask") {
		return
	}
	var in struct {
		TaskToken string `json:"taskToken"`
	}
	if json.Unmarshal(body, &in) == nil {
		a.in.recordSend(op, in.TaskToken, status, code, time.Now())
	}
}

// throttleCode is the error code each service throttles with: Step Functions and CodeBuild
// answer ThrottlingException (JSON protocols), STS answers Throttling (query protocol).
func throttleCode(service string) string {
	if service == "sts" {
		return "Throttling"
	}
	return "ThrottlingException"
}

// writeThrottle answers as the service does when it throttles a caller: HTTP 400 with the
// service's throttling code, in the service's protocol.
func writeThrottle(w http.ResponseWriter, service string) {
	const message = "Rate exceeded"
	switch service {
	case "sts":
		localaws.WriteQueryError(w, http.StatusBadRequest, throttleCode(service), message)
	case "states":
		// Step Functions speaks JSON 1.0.
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-ErrorType", throttleCode(service))
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": throttleCode(service), "message": message})
	default:
		localaws.WriteJSONError(w, http.StatusBadRequest, throttleCode(service), message)
	}
}

// statusRecorder passes a response through and remembers its status.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) status() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}

// dynamoFaults stands between the functions and dynalite.
type dynamoFaults struct {
	in   *Injector
	next http.Handler
}

// write is what the selections read of a DynamoDB write request.
type write struct {
	Key                       map[string]map[string]any `json:"Key"`
	Item                      map[string]map[string]any `json:"Item"`
	UpdateExpression          string                    `json:"UpdateExpression"`
	ExpressionAttributeNames  map[string]string         `json:"ExpressionAttributeNames"`
	ExpressionAttributeValues map[string]map[string]any `json:"ExpressionAttributeValues"`
}

// item returns the key of the written item.
func (w write) item() string {
	if v, ok := w.Key[keyAttribute]["S"].(string); ok {
		return v
	}
	v, _ := w.Item[keyAttribute]["S"].(string)
	return v
}

// setsState returns the value a write gives the state attribute, or "".
func (w write) setsState() string {
	if w.Item != nil {
		v, _ := w.Item[stateAttribute]["S"].(string)
		return v
	}
	for _, assignment := range setClause(w.UpdateExpression) {
		path, value, ok := strings.Cut(assignment, "=")
		if !ok {
			continue
		}
		path, value = strings.TrimSpace(path), strings.TrimSpace(value)
		if name, ok := w.ExpressionAttributeNames[path]; ok {
			path = name
		}
		if path != stateAttribute {
			continue
		}
		v, _ := w.ExpressionAttributeValues[value]["S"].(string)
		return v
	}
	return ""
}

// setClause splits the SET clause of an update expression into its assignments. The
// functions write placeholders only, so no comma hides inside a value.
func setClause(expr string) []string {
	fields := strings.Fields(expr)
	var clause []string
	in := false
	for _, f := range fields {
		switch strings.ToUpper(f) {
		case "SET":
			in = true
			continue
		case "REMOVE", "ADD", "DELETE":
			in = false
		}
		if in {
			clause = append(clause, f)
		}
	}
	return strings.Split(strings.Join(clause, " "), ",")
}

func (d *dynamoFaults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		http.Error(w, "read request: "+err.Error(), http.StatusBadRequest)
		return
	}
	op := operation(r, body)
	fn := callerFunction(r)
	plan := d.in.Plan()
	if fn == "" || !slices.Contains(writeOps, op) || len(plan.Answers)+len(plan.Kills)+len(plan.Stalls) == 0 {
		d.next.ServeHTTP(w, r)
		return
	}
	var wr write
	_ = json.Unmarshal(body, &wr) // a request that does not decode matches no selection
	item, state := wr.item(), wr.setsState()
	request := op + "\x00" + string(body)

	for _, rule := range plan.Stalls {
		if !rule.Writes.match(fn, op, item, state) {
			continue
		}
		if hit, _ := d.in.draw(rule.Name, request, rule.Fraction); hit {
			d.in.injected(rule.Name, "function", fn, "operation", op, "item", item, "delay", rule.Delay.String())
			if !sleep(r.Context(), rule.Delay) {
				return // the caller gave up; so does the write
			}
			break
		}
	}

	var killAfter *KillRule
	for _, rule := range plan.Kills {
		if !rule.Writes.match(fn, op, item, state) {
			continue
		}
		if hit, _ := d.in.draw(rule.Name, request, rule.Fraction); !hit {
			continue
		}
		if rule.After {
			killAfter = &rule
			break
		}
		// Dies before the write leaves it: nothing reaches the table.
		if d.in.claimKill(rule, item) && d.kill(w, r, rule, fn, op, item) {
			return
		}
	}

	answer := &bufferedResponse{header: http.Header{}}
	d.next.ServeHTTP(answer, r)
	applied := answer.status() == http.StatusOK
	if killAfter != nil && applied && d.in.claimKill(*killAfter, item) && d.kill(w, r, *killAfter, fn, op, item) {
		return
	}
	if applied {
		for _, rule := range plan.Answers {
			if !rule.Writes.match(fn, op, item, state) {
				continue
			}
			if hit, _ := d.in.draw(rule.Name, request, rule.Fraction); hit {
				d.in.injected(rule.Name, "function", fn, "operation", op, "item", item, "loss", rule.Loss.String())
				loseAnswer(w, rule.Loss)
				return
			}
		}
	}
	answer.copyTo(w)
}

// kill ends the process that sent r and closes its connection. A process that cannot be
// found is a missed fault: kill returns false and the caller serves the request as usual.
func (d *dynamoFaults) kill(w http.ResponseWriter, r *http.Request, rule KillRule, fn, op, item string) bool {
	client, _ := net.ResolveTCPAddr("tcp", r.RemoteAddr)
	server, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	pid, err := killPeer(client, server, func(pid int) {
		d.in.injected(rule.Name, "function", fn, "operation", op, "item", item, "pid", pid, "afterWrite", rule.After)
	})
	if err != nil {
		if pid != 0 { // counted as injected, but the signal failed
			d.in.retract(rule.Name)
		}
		d.in.missed(rule.Name, "function", fn, "operation", op, "item", item, "error", err.Error())
		return false
	}
	dropConnection(w)
	return true
}

// loseAnswer replaces the answer to an applied write.
func loseAnswer(w http.ResponseWriter, loss Loss) {
	if loss == DropConnection && dropConnection(w) {
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}`)
}

// dropConnection closes the connection without an answer; false when it cannot.
func dropConnection(w http.ResponseWriter) bool {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return false
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// bufferedResponse holds dynalite's answer until the faults have looked at it.
type bufferedResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferedResponse) status() int {
	if b.code == 0 {
		return http.StatusOK
	}
	return b.code
}

func (b *bufferedResponse) copyTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.WriteHeader(b.status())
	_, _ = w.Write(b.body.Bytes())
}
