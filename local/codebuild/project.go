package codebuild

import (
	"fmt"
	"regexp"
	"strings"
)

// Environment variable types, as CodeBuild names them.
const (
	EnvPlaintext      = "PLAINTEXT"
	EnvParameterStore = "PARAMETER_STORE"
	EnvSecretsManager = "SECRETS_MANAGER"
)

// SourceNone is the only source type the stand-in runs: the buildspec is all there is.
const SourceNone = "NO_SOURCE"

// reservedPrefix is the environment variable prefix CodeBuild keeps for itself.
const reservedPrefix = "CODEBUILD_"

// Defaults and limits of a project, as CodeBuild has them.
const (
	defaultTimeoutMinutes       = 60
	defaultQueuedTimeoutMinutes = 480
	minTimeoutMinutes           = 5
	maxTimeoutMinutes           = 2160
	maxQueuedTimeoutMinutes     = 480
	defaultImage                = "aws/codebuild/amazonlinux-x86_64-standard:5.0"
	defaultComputeType          = "BUILD_GENERAL1_SMALL"
	environmentType             = "LINUX_CONTAINER"
)

// EnvVar is an environment variable of a project or of a StartBuild override.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// Type is PLAINTEXT (the default), PARAMETER_STORE or SECRETS_MANAGER.
	Type string `json:"type,omitempty"`
}

// Project is a CodeBuild project as a template defines it.
type Project struct {
	Account, Region, Name string
	// Buildspec is the inline buildspec, as the template carries it: YAML or JSON.
	Buildspec string
	// Environment holds the project-level environment variables.
	Environment []EnvVar
	// TimeoutInMinutes is the build timeout, 5 to 2160; 0 means CodeBuild's default, 60.
	TimeoutInMinutes int
	// QueuedTimeoutInMinutes is recorded and reported only; 0 means 480.
	QueuedTimeoutInMinutes int
	// SourceType must be NO_SOURCE (or empty, which means NO_SOURCE).
	SourceType string
	// Image is reported in builds and events only; ComputeType also picks the
	// concurrent-build quota the project's builds count against.
	Image, ComputeType string
}

// InvalidProjectError reports a project AddProject refuses.
type InvalidProjectError struct {
	Project string
	Reason  string
}

func (e *InvalidProjectError) Error() string {
	return fmt.Sprintf("invalid CodeBuild project %q: %s", e.Project, e.Reason)
}

// ProjectExistsError reports a second project of the same name in an account and Region.
type ProjectExistsError struct {
	Account, Region, Name string
}

func (e *ProjectExistsError) Error() string {
	return fmt.Sprintf("CodeBuild project %s already exists in account %s, %s", e.Name, e.Account, e.Region)
}

var (
	accountRe     = regexp.MustCompile(`^\d{12}$`)
	regionRe      = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
	projectNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{1,254}$`)
)

// withDefaults validates p and fills in CodeBuild's defaults.
func (p Project) withDefaults() (Project, error) {
	bad := func(format string, args ...any) (Project, error) {
		return Project{}, &InvalidProjectError{Project: p.Name, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case !accountRe.MatchString(p.Account):
		return bad("account %q is not a 12-digit account id", p.Account)
	case !regionRe.MatchString(p.Region):
		return bad("region %q is not a Region name", p.Region)
	case !projectNameRe.MatchString(p.Name):
		return bad("name must be 2-255 characters of [A-Za-z0-9_-] starting with a letter or digit")
	}
	if p.SourceType == "" {
		p.SourceType = SourceNone
	}
	if p.SourceType != SourceNone {
		return bad("source type %s is not emulated: only %s projects run locally", p.SourceType, SourceNone)
	}
	if strings.TrimSpace(p.Buildspec) == "" {
		return bad("a %s project needs an inline buildspec", SourceNone)
	}
	if p.TimeoutInMinutes == 0 {
		p.TimeoutInMinutes = defaultTimeoutMinutes
	}
	if p.TimeoutInMinutes < minTimeoutMinutes || p.TimeoutInMinutes > maxTimeoutMinutes {
		return bad("timeoutInMinutes %d is outside %d-%d", p.TimeoutInMinutes, minTimeoutMinutes, maxTimeoutMinutes)
	}
	if p.QueuedTimeoutInMinutes == 0 {
		p.QueuedTimeoutInMinutes = defaultQueuedTimeoutMinutes
	}
	if p.QueuedTimeoutInMinutes < minTimeoutMinutes || p.QueuedTimeoutInMinutes > maxQueuedTimeoutMinutes {
		return bad("queuedTimeoutInMinutes %d is outside %d-%d", p.QueuedTimeoutInMinutes, minTimeoutMinutes, maxQueuedTimeoutMinutes)
	}
	if p.Image == "" {
		p.Image = defaultImage
	}
	if p.ComputeType == "" {
		p.ComputeType = defaultComputeType
	}
	env := make([]EnvVar, 0, len(p.Environment))
	for i, v := range p.Environment {
		v, err := v.normalized()
		if err != nil {
			return bad("environment variable %d: %v", i, err)
		}
		env = append(env, v)
	}
	p.Environment = env
	return p, nil
}

// normalized checks a variable and defaults its type to PLAINTEXT.
func (v EnvVar) normalized() (EnvVar, error) {
	if v.Name == "" {
		return EnvVar{}, fmt.Errorf("name is empty")
	}
	if strings.HasPrefix(v.Name, reservedPrefix) {
		return EnvVar{}, fmt.Errorf("%s: names starting with %s are reserved", v.Name, reservedPrefix)
	}
	if v.Type == "" {
		v.Type = EnvPlaintext
	}
	switch v.Type {
	case EnvPlaintext, EnvParameterStore, EnvSecretsManager:
	default:
		return EnvVar{}, fmt.Errorf("type %q of %s is not one of %s, %s, %s", v.Type, v.Name, EnvPlaintext, EnvParameterStore, EnvSecretsManager)
	}
	return v, nil
}

// mergeEnv lays overrides over base: a variable of the same name takes the overriding
// value and type where it stood, new names are appended in the order given.
func mergeEnv(base, overrides []EnvVar) []EnvVar {
	out := append([]EnvVar(nil), base...)
	at := make(map[string]int, len(out))
	for i, v := range out {
		at[v.Name] = i
	}
	for _, v := range overrides {
		if i, ok := at[v.Name]; ok {
			out[i] = v
			continue
		}
		at[v.Name] = len(out)
		out = append(out, v)
	}
	return out
}
