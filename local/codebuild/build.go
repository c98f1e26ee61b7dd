package codebuild

import (
	"context"
	"errors"
	"time"
)

// Build phases, in the order a build that meets no failure walks them.
const (
	phaseSubmitted       = "SUBMITTED"
	phaseQueued          = "QUEUED"
	phaseProvisioning    = "PROVISIONING"
	phaseDownloadSource  = "DOWNLOAD_SOURCE"
	phaseInstall         = "INSTALL"
	phasePreBuild        = "PRE_BUILD"
	phaseBuild           = "BUILD"
	phasePostBuild       = "POST_BUILD"
	phaseUploadArtifacts = "UPLOAD_ARTIFACTS"
	phaseFinalizing      = "FINALIZING"
	phaseCompleted       = "COMPLETED"
)

// Build and phase statuses.
const (
	StatusInProgress = "IN_PROGRESS"
	StatusSucceeded  = "SUCCEEDED"
	StatusFailed     = "FAILED"
	StatusFault      = "FAULT"
	StatusStopped    = "STOPPED"
	StatusTimedOut   = "TIMED_OUT"
)

// Phase context status codes and messages CodeBuild uses.
const (
	codeCommandError  = "COMMAND_EXECUTION_ERROR"
	codeYAMLFileError = "YAML_FILE_ERROR"
	codeClientError   = "CLIENT_ERROR"
	codeDecryptedVars = "Decrypted Variables Error"
	messageStopped    = "BUILD_STOPPED"
	messageTimedOut   = "BUILD_TIMED_OUT"
)

// Causes of a build's context ending early.
var (
	errStopped  = errors.New("build stopped")
	errTimedOut = errors.New("build timed out")
	errFinished = errors.New("build finished")
)

// build is one build's state. Every field is guarded by Service.mu, except done and the
// fields fixed at creation.
type build struct {
	uuid, id, arn string
	project       Project // as it was when the build started
	number        int64
	initiator     string
	sourceVersion string
	buildspec     string
	timeout       int // minutes
	queuedTimeout int // minutes
	env           []EnvVar
	// spec is the buildspec read when the build was started; specErr is reported in
	// DOWNLOAD_SOURCE, where CodeBuild reports it.
	spec    buildspec
	specErr error
	// noop is a build whose buildspec runs nothing: it walks every phase and sends every
	// event without a folder, a log or a process.
	noop    bool
	dir     string // private folder: src (CODEBUILD_SRC_DIR), home, state; "" for noop
	logPath string // "" for noop

	status   string
	phases   []*phase
	start    time.Time
	end      time.Time
	complete bool

	ctx  context.Context // ends when the build is stopped, times out, or the service closes
	stop context.CancelCauseFunc
	done chan struct{}

	// slot: the build counts against its account's concurrent-build quota.
	// queued: it waits for a slot, without a goroutine, until queueTimer fires.
	slot       bool
	queued     bool
	queueTimer *time.Timer
}

type phase struct {
	kind       string
	status     string // "" while running
	start, end time.Time
	contexts   []PhaseContext
}

func (b *build) current() *phase { return b.phases[len(b.phases)-1] }

func (b *build) workDir() string {
	if b.dir == "" {
		return ""
	}
	return b.dir + "/src"
}

// info copies the build for callers. Service.mu is held.
func (b *build) info() BuildInfo {
	in := BuildInfo{
		ID: b.id, ARN: b.arn, Account: b.project.Account, Region: b.project.Region, Project: b.project.Name,
		Number: b.number, Status: b.status, CurrentPhase: b.current().kind,
		Env: append([]EnvVar(nil), b.env...), Initiator: b.initiator, SourceVersion: b.sourceVersion,
		Start: b.start, End: b.end, Complete: b.complete, LogPath: b.logPath, WorkDir: b.workDir(),
		LogsDeepLink: deepLink(b.project.Region, b.project.Name, b.uuid),
	}
	for _, p := range b.phases {
		in.Phases = append(in.Phases, PhaseInfo{Type: p.kind, Status: p.status, Start: p.start, End: p.end,
			Contexts: append([]PhaseContext(nil), p.contexts...)})
	}
	return in
}

// buildStatus is the status a finished build ends with: an interruption or fault
// outranks a failed command, which outranks success.
func buildStatus(phases []*phase) string {
	status := StatusSucceeded
	for _, p := range phases {
		switch p.status {
		case StatusStopped, StatusTimedOut, StatusFault:
			status = p.status
		case StatusFailed:
			if status == StatusSucceeded {
				status = StatusFailed
			}
		}
	}
	return status
}
