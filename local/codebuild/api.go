package codebuild

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crossbuild/crossbuild/local/localaws"
)

// targetPrefix starts the X-Amz-Target of every CodeBuild operation.
const targetPrefix = "CodeBuild_20161006."

// maxBody bounds a request body.
const maxBody = 1 << 20

// idempotencyWindow is how long CodeBuild honours a StartBuild idempotency token.
const idempotencyWindow = 5 * time.Minute

// maxBatch is the most ids or names one batch request may carry.
const maxBatch = 100

func validation(format string, args ...any) *localaws.Error {
	return localaws.BadRequest("ValidationException", "1 validation error detected: "+format, args...)
}

func invalidInput(format string, args ...any) *localaws.Error {
	return localaws.BadRequest("InvalidInputException", format, args...)
}

func notFound(format string, args ...any) *localaws.Error {
	return localaws.BadRequest("ResourceNotFoundException", format, args...)
}

// ServeHTTP serves CodeBuild's JSON 1.1 protocol. The caller must have been resolved by
// localaws.Router: it sees the projects and builds of its own account and Region only.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.api.ServeHTTP(w, r)
}

// protocol is the Service's JSON protocol: its operations by name.
func (s *Service) protocol() *localaws.JSONProtocol {
	op := func(f func(localaws.Caller, []byte) (any, error)) localaws.JSONOperation {
		return func(_ *http.Request, c localaws.Caller, body []byte) (any, error) { return f(c, body) }
	}
	return &localaws.JSONProtocol{Service: "CodeBuild", TargetPrefix: targetPrefix, ContentType: localaws.JSON11, MaxBody: maxBody,
		Operations: map[string]localaws.JSONOperation{
			"StartBuild":           op(s.startBuild),
			"BatchGetBuilds":       op(s.batchGetBuilds),
			"StopBuild":            op(s.stopBuild),
			"ListBuildsForProject": op(s.listBuildsForProject),
			"BatchGetProjects":     op(s.batchGetProjects),
			"DeleteProject":        op(s.deleteProject),
		}}
}

// decode reads a request into v, rejecting keys outside allowed (the fields the stand-in
// emulates), so that a parameter it would silently ignore is an error instead.
func decode(body []byte, op string, v any, allowed ...string) (map[string]json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, localaws.BadRequest("SerializationException", "%s: the body is not a JSON object: %v", op, err)
	}
	for k := range fields {
		if !contains(allowed, k) {
			return nil, invalidInput("%s parameter %s is not emulated by the local CodeBuild", op, k)
		}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return nil, localaws.BadRequest("SerializationException", "%s: %v", op, err)
	}
	return fields, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

type startBuildInput struct {
	ProjectName                    *string  `json:"projectName"`
	EnvironmentVariablesOverride   []EnvVar `json:"environmentVariablesOverride"`
	IdempotencyToken               *string  `json:"idempotencyToken"`
	TimeoutInMinutesOverride       *int     `json:"timeoutInMinutesOverride"`
	QueuedTimeoutInMinutesOverride *int     `json:"queuedTimeoutInMinutesOverride"`
	SourceVersion                  *string  `json:"sourceVersion"`
	BuildspecOverride              *string  `json:"buildspecOverride"`
}

type buildOutput struct {
	Build wireBuild `json:"build"`
}

func (s *Service) startBuild(c localaws.Caller, body []byte) (any, error) {
	var in startBuildInput
	fields, err := decode(body, "StartBuild", &in, "projectName", "environmentVariablesOverride", "idempotencyToken",
		"timeoutInMinutesOverride", "queuedTimeoutInMinutesOverride", "sourceVersion", "buildspecOverride")
	if err != nil {
		return nil, err
	}
	if in.ProjectName == nil || *in.ProjectName == "" {
		return nil, validation("Value null at 'projectName' failed to satisfy constraint: Member must not be null")
	}
	if t := in.TimeoutInMinutesOverride; t != nil && (*t < minTimeoutMinutes || *t > maxTimeoutMinutes) {
		return nil, validation("Value '%d' at 'timeoutInMinutesOverride' failed to satisfy constraint: Member must have value between %d and %d", *t, minTimeoutMinutes, maxTimeoutMinutes)
	}
	if t := in.QueuedTimeoutInMinutesOverride; t != nil && (*t < minTimeoutMinutes || *t > maxQueuedTimeoutMinutes) {
		return nil, validation("Value '%d' at 'queuedTimeoutInMinutesOverride' failed to satisfy constraint: Member must have value between %d and %d", *t, minTimeoutMinutes, maxQueuedTimeoutMinutes)
	}
	overrides := make([]EnvVar, 0, len(in.EnvironmentVariablesOverride))
	for i, v := range in.EnvironmentVariablesOverride {
		if strings.HasPrefix(v.Name, reservedPrefix) {
			return nil, invalidInput("No user environment variables can start with %s", reservedPrefix)
		}
		nv, err := v.normalized()
		if err != nil {
			return nil, validation("Value at 'environmentVariablesOverride.%d.member' failed to satisfy constraint: %v", i+1, err)
		}
		overrides = append(overrides, nv)
	}
	name := *in.ProjectName
	if a, ok := parseARN(name); ok && a.kind == "project" && a.account == c.Account && a.region == c.Region {
		name = a.id
	}
	delete(fields, "idempotencyToken")
	fingerprint, _ := json.Marshal(fields) // keys sorted: the same request, the same text
	req := buildRequest{
		caller: c, project: name, overrides: overrides, sourceVersion: deref(in.SourceVersion),
		buildspec: deref(in.BuildspecOverride), token: deref(in.IdempotencyToken), fingerprint: string(fingerprint),
	}
	if in.TimeoutInMinutesOverride != nil {
		req.timeout = *in.TimeoutInMinutesOverride
	}
	if in.QueuedTimeoutInMinutesOverride != nil {
		req.queuedTimeout = *in.QueuedTimeoutInMinutesOverride
	}
	b, err := s.start(req)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return buildOutput{Build: b.wire()}, nil
}

// buildRequest is a validated StartBuild.
type buildRequest struct {
	caller                 localaws.Caller
	project                string
	overrides              []EnvVar
	sourceVersion          string
	buildspec              string // override; "" keeps the project's
	timeout, queuedTimeout int    // overrides; 0 keeps the project's
	token, fingerprint     string
}

// start starts a build, or returns the one an idempotency token already started.
func (s *Service) start(req buildRequest) (*build, error) {
	c := req.caller
	now := s.opts.Clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, localaws.Errorf(http.StatusServiceUnavailable, "ServiceUnavailableException", "the local CodeBuild is shutting down")
	}
	p, ok := s.projects[projectKey{c.Account, c.Region, req.project}]
	if !ok {
		return nil, notFound("Project cannot be found: %s", projectARN(c.Region, c.Account, req.project))
	}
	tk := tokenKey{c.Account, c.Region, p.Name, req.token}
	if req.token != "" {
		s.forgetTokens(now)
		if use, ok := s.tokens[tk]; ok {
			if use.fingerprint != req.fingerprint {
				return nil, invalidInput("Idempotency token %s was used with different parameters within the last 5 minutes", req.token)
			}
			return s.builds[buildKey{c.Account, c.Region, use.buildID}], nil
		}
	}
	run, err := s.admission(p)
	if err != nil {
		return nil, err
	}

	pk := projectKey{p.Account, p.Region, p.Name}
	id := newUUID()
	b := &build{
		uuid: id, id: p.Name + ":" + id, project: p,
		initiator: initiator(c.ARN), sourceVersion: req.sourceVersion, buildspec: p.Buildspec,
		timeout: p.TimeoutInMinutes, queuedTimeout: p.QueuedTimeoutInMinutes,
		env:    mergeEnv(p.Environment, req.overrides),
		status: StatusInProgress, start: now,
		phases: []*phase{{kind: phaseSubmitted, status: StatusSucceeded, start: now, end: now}, {kind: phaseQueued, start: now}},
		done:   make(chan struct{}),
	}
	b.arn = buildARN(p.Region, p.Account, b.id)
	if req.buildspec != "" {
		b.buildspec = req.buildspec
	}
	if req.timeout != 0 {
		b.timeout = req.timeout
	}
	if req.queuedTimeout != 0 {
		b.queuedTimeout = req.queuedTimeout
	}
	b.spec, b.specErr = parseBuildspec(b.buildspec)
	b.noop = b.specErr == nil && b.spec.runsNothing()
	if !b.noop {
		root, err := s.workRoot()
		if err != nil {
			return nil, err
		}
		b.dir = filepath.Join(root, id)
		logDir := s.opts.LogDir
		if logDir == "" {
			logDir = filepath.Join(root, "logs")
		}
		b.logPath = filepath.Join(logDir, p.Account, p.Region, p.Name, id+".log")
	}
	s.numbers[pk]++
	b.number = s.numbers[pk]

	b.ctx, b.stop = context.WithCancelCause(s.ctx)
	s.builds[buildKey{p.Account, p.Region, b.id}] = b
	if req.token != "" {
		s.tokens[tk] = tokenUse{buildID: b.id, fingerprint: req.fingerprint, at: now}
		s.tokenOrder = append(s.tokenOrder, tokenEntry{tk, now})
	}
	if run {
		s.admit(b)
	} else {
		s.enqueue(b)
	}
	return b, nil
}

// forgetTokens drops idempotency tokens older than CodeBuild keeps them, oldest first.
// s.mu is held.
func (s *Service) forgetTokens(now time.Time) {
	n := 0
	for ; n < len(s.tokenOrder) && now.Sub(s.tokenOrder[n].at) >= idempotencyWindow; n++ {
		e := s.tokenOrder[n]
		// A token used again after it expired has a newer entry: keep that use.
		if use, ok := s.tokens[e.key]; ok && use.at.Equal(e.at) {
			delete(s.tokens, e.key)
		}
	}
	s.tokenOrder = s.tokenOrder[n:]
}

type batchGetBuildsInput struct {
	IDs []string `json:"ids"`
}

type batchGetBuildsOutput struct {
	Builds         []wireBuild `json:"builds"`
	BuildsNotFound []string    `json:"buildsNotFound"`
}

func (s *Service) batchGetBuilds(c localaws.Caller, body []byte) (any, error) {
	var in batchGetBuildsInput
	if _, err := decode(body, "BatchGetBuilds", &in, "ids"); err != nil {
		return nil, err
	}
	if len(in.IDs) == 0 || len(in.IDs) > maxBatch {
		return nil, validation("Value at 'ids' failed to satisfy constraint: Member must have length between 1 and %d", maxBatch)
	}
	out := batchGetBuildsOutput{Builds: []wireBuild{}, BuildsNotFound: []string{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range in.IDs {
		if b := s.lookup(c.Account, c.Region, id); b != nil {
			out.Builds = append(out.Builds, b.wire())
		} else {
			out.BuildsNotFound = append(out.BuildsNotFound, id)
		}
	}
	return out, nil
}

type listBuildsForProjectInput struct {
	ProjectName *string `json:"projectName"`
	SortOrder   *string `json:"sortOrder"`
	NextToken   *string `json:"nextToken"`
}

type listBuildsForProjectOutput struct {
	IDs       []string `json:"ids"`
	NextToken string   `json:"nextToken,omitempty"`
}

// listPage is how many build ids ListBuildsForProject returns at a time, as CodeBuild does.
const listPage = 100

// listBuildsForProject lists a project's build ids, newest first unless ASCENDING is asked
// for. The next token is the offset of the next page: the stand-in only appends builds, so
// the order of the ones already listed never changes under a caller paging through.
func (s *Service) listBuildsForProject(c localaws.Caller, body []byte) (any, error) {
	var in listBuildsForProjectInput
	if _, err := decode(body, "ListBuildsForProject", &in, "projectName", "sortOrder", "nextToken"); err != nil {
		return nil, err
	}
	if in.ProjectName == nil || *in.ProjectName == "" {
		return nil, validation("Value null at 'projectName' failed to satisfy constraint: Member must not be null")
	}
	order := deref(in.SortOrder)
	if order != "" && order != "ASCENDING" && order != "DESCENDING" {
		return nil, validation("Value '%s' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [ASCENDING, DESCENDING]", order)
	}
	offset := 0
	if tok := deref(in.NextToken); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 {
			return nil, invalidInput("Invalid pagination token")
		}
		offset = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.projects[projectKey{c.Account, c.Region, *in.ProjectName}]; !ok {
		return nil, notFound("Project cannot be found: arn:aws:codebuild:%s:%s:project/%s", c.Region, c.Account, *in.ProjectName)
	}
	var builds []*build
	for k, b := range s.builds {
		if k.account == c.Account && k.region == c.Region && b.project.Name == *in.ProjectName {
			builds = append(builds, b)
		}
	}
	slices.SortFunc(builds, func(a, b *build) int {
		if order == "ASCENDING" {
			return cmp.Compare(a.number, b.number)
		}
		return cmp.Compare(b.number, a.number)
	})
	out := listBuildsForProjectOutput{IDs: []string{}}
	for i := offset; i < len(builds) && len(out.IDs) < listPage; i++ {
		out.IDs = append(out.IDs, builds[i].id)
	}
	if next := offset + len(out.IDs); next < len(builds) {
		out.NextToken = strconv.Itoa(next)
	}
	return out, nil
}

type stopBuildInput struct {
	ID *string `json:"id"`
}

func (s *Service) stopBuild(c localaws.Caller, body []byte) (any, error) {
	var in stopBuildInput
	if _, err := decode(body, "StopBuild", &in, "id"); err != nil {
		return nil, err
	}
	if in.ID == nil || *in.ID == "" {
		return nil, validation("Value null at 'id' failed to satisfy constraint: Member must not be null")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.lookup(c.Account, c.Region, *in.ID)
	if b == nil {
		return nil, notFound("Build cannot be found: %s", *in.ID)
	}
	if !b.complete {
		b.stop(errStopped)
		s.unqueue(b, errStopped)
	}
	return buildOutput{Build: b.wire()}, nil
}

type batchGetProjectsInput struct {
	Names []string `json:"names"`
}

type batchGetProjectsOutput struct {
	Projects         []wireProject `json:"projects"`
	ProjectsNotFound []string      `json:"projectsNotFound"`
}

func (s *Service) batchGetProjects(c localaws.Caller, body []byte) (any, error) {
	var in batchGetProjectsInput
	if _, err := decode(body, "BatchGetProjects", &in, "names"); err != nil {
		return nil, err
	}
	if len(in.Names) == 0 || len(in.Names) > maxBatch {
		return nil, validation("Value at 'names' failed to satisfy constraint: Member must have length between 1 and %d", maxBatch)
	}
	out := batchGetProjectsOutput{Projects: []wireProject{}, ProjectsNotFound: []string{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range in.Names {
		name := n
		if a, ok := parseARN(n); ok && a.kind == "project" && a.account == c.Account && a.region == c.Region {
			name = a.id
		}
		if p, ok := s.projects[projectKey{c.Account, c.Region, name}]; ok {
			out.Projects = append(out.Projects, wireProjectOf(p))
		} else {
			out.ProjectsNotFound = append(out.ProjectsNotFound, n)
		}
	}
	return out, nil
}

type deleteProjectInput struct {
	Name string `json:"name"`
}

// deleteProject removes a project of the caller's account and Region (by name or ARN); its
// builds stay readable, as in CodeBuild. Deleting a project that does not exist succeeds:
// DeleteProject documents no not-found error.
func (s *Service) deleteProject(c localaws.Caller, body []byte) (any, error) {
	var in deleteProjectInput
	if _, err := decode(body, "DeleteProject", &in, "name"); err != nil {
		return nil, err
	}
	name := in.Name
	if a, ok := parseARN(name); ok && a.kind == "project" && a.account == c.Account && a.region == c.Region {
		name = a.id
	}
	if name == "" {
		return nil, validation("Value at 'name' failed to satisfy constraint: Member must not be null")
	}
	s.mu.Lock()
	delete(s.projects, projectKey{c.Account, c.Region, name})
	s.mu.Unlock()
	return struct{}{}, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
