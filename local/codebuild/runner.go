package codebuild

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// minimalPath is the PATH a build starts with: system directories only, none of the
// host user's.
const minimalPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// publishTimeout bounds one event delivery.
const publishTimeout = 10 * time.Second

// commandWrapper runs one buildspec command in the shell and, when the shell exits for
// any reason, writes the working directory and the exported environment the command
// left to descriptor 3, NUL-separated, so that the next command starts from them as it
// does in CodeBuild (buildspec 0.2). The command itself does not see descriptor 3.
const commandWrapper = `codebuild_command=$1
shift
trap 'codebuild_status=$?; printf "%s\0" "$PWD" >&3; env -0 >&3; exit $codebuild_status' EXIT
eval "$codebuild_command" 3>&-
`

// Variables the shell sets for itself, which are not carried from one command to the next.
var shellOwned = map[string]bool{"PWD": true, "OLDPWD": true, "SHLVL": true, "_": true}

// result is how a phase, or one command, ended.
type result struct {
	status  string
	context *PhaseContext
}

var succeeded = result{status: StatusSucceeded}

func failed(status, code, message string) result {
	return result{status: status, context: &PhaseContext{StatusCode: code, Message: message}}
}

// runner walks one build through its phases. Only its own goroutine uses it.
type runner struct {
	s   *Service
	b   *build
	ctx context.Context // ends when the build is stopped or times out

	log    *os.File
	spec   buildspec
	shell  string
	env    environ
	cwd    string
	failed bool  // a command has failed: CODEBUILD_BUILD_SUCCEEDING=0
	groups []int // process groups that may still have members

	endTimeout context.CancelFunc // set once the build's timeout runs
}

// run is the build's goroutine, from the moment it leaves the queue.
func (s *Service) run(b *build) {
	defer s.wg.Done()
	r := &runner{s: s, b: b, ctx: b.ctx}
	defer close(b.done)
	defer b.stop(errFinished) // lets go of the build's context
	defer r.release()
	cur := phaseQueued
	for cur != phaseCompleted {
		res := r.execute(cur)
		cur = r.advance(cur, res)
	}
}

// execute does the work of one phase.
func (r *runner) execute(kind string) result {
	switch kind {
	case phaseProvisioning:
		if res := r.provision(); res.status != StatusSucceeded {
			return res
		}
		timeout := time.Duration(r.b.timeout) * r.s.opts.TimeoutUnit
		r.ctx, r.endTimeout = context.WithTimeoutCause(r.ctx, timeout, errTimedOut)
		return r.pause()
	case phaseDownloadSource:
		if res := r.pause(); res.status != StatusSucceeded {
			return res
		}
		return r.downloadSource()
	case phaseInstall, phasePreBuild, phaseBuild, phasePostBuild:
		if res := r.pause(); res.status != StatusSucceeded {
			return res
		}
		return r.commands(strings.ToLower(kind))
	case phaseFinalizing:
		r.killGroups()
		// A stopped build still finalizes; only Close cuts this short.
		return r.pauseWith(r.s.ctx, true)
	}
	return r.pause()
}

// advance records how a phase ended, begins the next one and publishes the events
// CodeBuild would send. It returns the phase begun.
func (r *runner) advance(kind string, res result) string {
	s, b := r.s, r.b
	now := s.opts.Clock()
	var events []json.RawMessage

	s.mu.Lock()
	p := b.current()
	p.status, p.end = res.status, now
	if res.context != nil {
		p.contexts = []PhaseContext{*res.context}
	}
	next := nextPhase(kind, res.status, r.spec.phases[strings.ToLower(kind)].onFailure)
	if kind != phaseQueued {
		events = append(events, b.phaseEvent(len(b.phases)-1, now))
	}
	b.phases = append(b.phases, &phase{kind: next, start: now})
	switch {
	case kind == phaseQueued && next == phaseProvisioning:
		// CodeBuild announces IN_PROGRESS once provisioning begins.
		events = append(events, b.stateEvent(now), b.phaseEvent(0, now), b.phaseEvent(1, now))
	case kind == phaseQueued:
		// Stopped or timed out in the queue: it never ran.
		events = append(events, b.phaseEvent(0, now), b.phaseEvent(1, now))
	}
	if next == phaseCompleted {
		b.status, b.end, b.complete = buildStatus(b.phases), now, true
		events = append(events, b.stateEvent(now))
		s.release(b)
	}
	s.mu.Unlock()

	r.logf("Phase complete: %s State: %s", kind, res.status)
	if res.context != nil {
		r.logf("Phase context status code: %s Message: %s", res.context.StatusCode, res.context.Message)
	}
	if next != phaseCompleted {
		r.logf("Entering phase %s", next)
	}
	for _, ev := range events {
		s.publish(b, ev)
	}
	return next
}

// nextPhase follows CodeBuild's phase transitions: a failure before BUILD skips to
// FINALIZING, a failed BUILD still runs POST_BUILD, a failed POST_BUILD still uploads
// artifacts; a phase's on-failure CONTINUE goes on as if it had succeeded, ABORT goes
// straight to FINALIZING. A stop, timeout or fault always finalizes.
func nextPhase(kind, status, onFailure string) string {
	if kind == phaseFinalizing {
		return phaseCompleted
	}
	if kind == phaseQueued && status != StatusSucceeded {
		// A build that leaves the queue without running has nothing to finalize.
		return phaseCompleted
	}
	following := phaseOrder[phaseIndex(kind)+1]
	switch status {
	case StatusSucceeded:
		return following
	case StatusFailed:
		switch onFailure {
		case onFailureContinue:
			return following
		case onFailureAbort:
			return phaseFinalizing
		}
		switch kind {
		case phaseBuild, phasePostBuild, phaseUploadArtifacts:
			return following
		}
	}
	return phaseFinalizing
}

// pause spends the phase delay, unless the build is stopped or times out first.
func (r *runner) pause() result { return r.pauseWith(r.ctx, false) }

func (r *runner) pauseWith(ctx context.Context, finalizing bool) result {
	if err := ctx.Err(); err != nil {
		if finalizing {
			return succeeded
		}
		return r.interrupted()
	}
	if r.s.opts.PhaseDelay <= 0 {
		return succeeded
	}
	t := time.NewTimer(r.s.opts.PhaseDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return succeeded
	case <-ctx.Done():
		if finalizing {
			return succeeded
		}
		return r.interrupted()
	}
}

// interrupted is the result of a phase the build's context cut short.
func (r *runner) interrupted() result {
	if errors.Is(context.Cause(r.ctx), errTimedOut) {
		return failed(StatusTimedOut, "", messageTimedOut)
	}
	return failed(StatusStopped, "", messageStopped)
}

// provision makes the build's folders and opens its log; a build that runs nothing has
// no use for either.
func (r *runner) provision() result {
	b := r.b
	if b.noop {
		return succeeded
	}
	for _, dir := range []string{b.workDir(), filepath.Join(b.dir, "home"), filepath.Dir(b.logPath)} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return failed(StatusFault, codeClientError, fmt.Sprintf("make build directory: %v", err))
		}
	}
	f, err := os.OpenFile(b.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return failed(StatusFault, codeClientError, fmt.Sprintf("open build log: %v", err))
	}
	r.log = f
	r.logf("Waiting for agent ping")
	r.logf("Waiting for DOWNLOAD_SOURCE")
	return succeeded
}

// downloadSource reads the buildspec (a NO_SOURCE build has nothing else to fetch) and
// prepares the environment the commands run in.
func (r *runner) downloadSource() result {
	b := r.b
	if err := b.specErr; err != nil {
		var bad *BuildspecError
		if errors.As(err, &bad) {
			return failed(StatusFailed, codeYAMLFileError, bad.Reason)
		}
		return failed(StatusFault, codeClientError, err.Error())
	}
	spec := b.spec
	r.spec = spec
	var secret []string
	for _, v := range b.env {
		if v.Type != EnvPlaintext {
			secret = append(secret, v.Name)
		}
	}
	if secret = append(secret, spec.secretRefs...); len(secret) > 0 {
		return failed(StatusFailed, codeDecryptedVars, fmt.Sprintf("Parameter Store and Secrets Manager are not emulated locally: cannot resolve %s", strings.Join(secret, ", ")))
	}
	if len(spec.ignored) > 0 {
		r.logf("Not emulated locally, ignored: %s", strings.Join(spec.ignored, "; "))
	}
	r.shell = r.s.opts.Shell
	if spec.shell == "bash" {
		path, ok := lookInPath("bash", minimalPath)
		if !ok {
			return failed(StatusFault, codeClientError, "bash is not installed")
		}
		r.shell = path
	}
	if !b.noop {
		r.cwd = b.workDir()
		r.env = r.initialEnv()
	}
	return succeeded
}

// initialEnv is the environment of the first command, lowest precedence first: the
// image's own variables, the buildspec's, the project's and StartBuild's (already merged
// in b.env); CodeBuild's own variables are set last and cannot be overridden.
func (r *runner) initialEnv() environ {
	b := r.b
	var env environ
	env.set("PATH", minimalPath)
	env.set("HOME", filepath.Join(b.dir, "home"))
	env.set("AWS_REGION", b.project.Region)
	env.set("AWS_DEFAULT_REGION", b.project.Region)
	for _, v := range r.spec.variables {
		env.set(v.Name, v.Value)
	}
	for _, v := range b.env {
		env.set(v.Name, v.Value)
	}
	return env
}

// builtins are the variables CodeBuild sets in every build.
func (r *runner) builtins() [][2]string {
	b := r.b
	succeeding := "1"
	if r.failed {
		succeeding = "0"
	}
	vars := [][2]string{
		{"CODEBUILD_BUILD_ID", b.id},
		{"CODEBUILD_BUILD_ARN", b.arn},
		{"CODEBUILD_BUILD_NUMBER", strconv.FormatInt(b.number, 10)},
		{"CODEBUILD_BUILD_IMAGE", b.project.Image},
		{"CODEBUILD_BUILD_SUCCEEDING", succeeding},
		{"CODEBUILD_INITIATOR", b.initiator},
		{"CODEBUILD_LOG_PATH", b.uuid},
		{"CODEBUILD_PROJECT_ARN", projectARN(b.project.Region, b.project.Account, b.project.Name)},
		{"CODEBUILD_SRC_DIR", b.workDir()},
		{"CODEBUILD_START_TIME", strconv.FormatInt(b.start.UnixMilli(), 10)},
		{"CODEBUILD_CI", "true"},
	}
	if b.sourceVersion != "" {
		vars = append(vars, [2]string{"CODEBUILD_SOURCE_VERSION", b.sourceVersion})
	}
	return vars
}

// commands runs a buildspec phase: its commands until one fails, then its finally block
// (which runs even after a failed command, but not after a stop or timeout).
func (r *runner) commands(name string) result {
	sp, ok := r.spec.phases[name]
	if !ok || r.b.noop {
		return succeeded
	}
	res := succeeded
	for _, c := range sp.commands {
		if res = r.command(c); res.status != StatusSucceeded {
			break
		}
	}
	if res.status != StatusSucceeded && res.status != StatusFailed {
		return res
	}
	for _, c := range sp.finally {
		fr := r.command(c)
		if fr.status == StatusSucceeded {
			continue
		}
		if res.status == StatusSucceeded || fr.status != StatusFailed {
			res = fr
		}
		break
	}
	return res
}

// command runs one command in its own process group and waits for it, killing the group
// if the build is stopped or times out meanwhile.
func (r *runner) command(line string) result {
	if err := r.ctx.Err(); err != nil {
		return r.interrupted()
	}
	r.logf("Running command %s", line)
	statePath := filepath.Join(r.b.dir, "state")
	state, err := os.Create(statePath)
	if err != nil {
		return failed(StatusFault, codeClientError, fmt.Sprintf("create command state file: %v", err))
	}
	defer state.Close()

	for _, kv := range r.builtins() {
		r.env.set(kv[0], kv[1])
	}
	cmd := exec.Command(r.shell, "-c", commandWrapper, "codebuild", line)
	cmd.Dir, cmd.Env = r.cwd, r.env.list()
	cmd.Stdout, cmd.Stderr = r.log, r.log
	cmd.ExtraFiles = []*os.File{state}
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return failed(StatusFault, codeClientError, fmt.Sprintf("start %s: %v", r.shell, err))
	}
	r.groups = append(r.groups, cmd.Process.Pid)
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err = <-waited:
	case <-r.ctx.Done():
		killProcessGroup(cmd.Process.Pid)
		_ = cmd.Process.Kill() // where there are no process groups
		err = <-waited
	}
	r.forgetEmptyGroups()

	if r.ctx.Err() != nil {
		return r.interrupted()
	}
	if !r.spec.isolated {
		r.carryState(statePath)
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return succeeded
	case errors.As(err, &exit):
		r.failed = true
		return failed(StatusFailed, codeCommandError, fmt.Sprintf("Error while executing command: %s. Reason: %v", line, exit))
	default:
		return failed(StatusFault, codeClientError, fmt.Sprintf("run %s: %v", r.shell, err))
	}
}

// carryState takes the working directory and environment the last command left.
func (r *runner) carryState(path string) {
	raw, err := os.ReadFile(path)
	if err != nil || len(raw) == 0 {
		return // the command replaced the shell (exec): nothing to carry
	}
	fields := bytes.Split(bytes.TrimSuffix(raw, []byte{0}), []byte{0})
	if dir := string(fields[0]); filepath.IsAbs(dir) {
		r.cwd = dir
	}
	var env environ
	for _, kv := range fields[1:] {
		name, value, ok := strings.Cut(string(kv), "=")
		if !ok || name == "" || shellOwned[name] {
			continue
		}
		env.set(name, value)
	}
	if len(env.names) > 0 {
		r.env = env
	}
}

// forgetEmptyGroups drops the process groups nobody is left in, so that only groups with
// background processes are killed when the build ends.
func (r *runner) forgetEmptyGroups() {
	live := r.groups[:0]
	for _, g := range r.groups {
		if processGroupAlive(g) {
			live = append(live, g)
		}
	}
	r.groups = live
}

func (r *runner) killGroups() {
	for _, g := range r.groups {
		killProcessGroup(g)
	}
	r.groups = nil
}

// release ends whatever the build left running and closes its log.
func (r *runner) release() {
	if r.endTimeout != nil {
		r.endTimeout()
	}
	r.killGroups()
	if r.log != nil {
		_ = r.log.Close()
	}
}

// logf writes one of CodeBuild's own lines to the build log.
func (r *runner) logf(format string, args ...any) {
	if r.log == nil {
		return
	}
	ts := r.s.opts.Clock().UTC().Format(logTimeFormat)
	_, _ = fmt.Fprintf(r.log, "[Container] %s %s\n", ts, fmt.Sprintf(format, args...))
}

// publish sends an event to the build's account and Region default bus.
func (s *Service) publish(b *build, ev json.RawMessage) {
	if s.pub == nil || ev == nil || s.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, publishTimeout)
	defer cancel()
	if err := s.pub.PublishDefault(ctx, b.project.Account, b.project.Region, ev); err != nil {
		s.log.Warn("publish CodeBuild event", "build", b.arn, "error", err)
	}
}

// environ is an ordered environment.
type environ struct {
	names  []string
	values map[string]string
}

func (e *environ) set(name, value string) {
	if e.values == nil {
		e.values = map[string]string{}
	}
	if _, ok := e.values[name]; !ok {
		e.names = append(e.names, name)
	}
	e.values[name] = value
}

func (e environ) list() []string {
	out := make([]string, 0, len(e.names))
	for _, n := range e.names {
		out = append(out, n+"="+e.values[n])
	}
	return out
}

// lookInPath finds an executable in a PATH value other than the host's.
func lookInPath(name, path string) (string, bool) {
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}
