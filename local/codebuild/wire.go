package codebuild

import "fmt"

// The JSON shapes of CodeBuild's API that the stand-in returns.

type wireBuild struct {
	ID                     string          `json:"id"`
	ARN                    string          `json:"arn"`
	BuildNumber            int64           `json:"buildNumber"`
	StartTime              *epoch          `json:"startTime,omitempty"`
	EndTime                *epoch          `json:"endTime,omitempty"`
	CurrentPhase           string          `json:"currentPhase"`
	BuildStatus            string          `json:"buildStatus"`
	SourceVersion          string          `json:"sourceVersion,omitempty"`
	ProjectName            string          `json:"projectName"`
	Phases                 []wirePhase     `json:"phases"`
	Source                 wireSource      `json:"source"`
	Artifacts              wireArtifacts   `json:"artifacts"`
	Cache                  wireCache       `json:"cache"`
	Environment            wireEnvironment `json:"environment"`
	Logs                   wireLogs        `json:"logs"`
	TimeoutInMinutes       int             `json:"timeoutInMinutes"`
	QueuedTimeoutInMinutes int             `json:"queuedTimeoutInMinutes"`
	BuildComplete          bool            `json:"buildComplete"`
	Initiator              string          `json:"initiator"`
	EncryptionKey          string          `json:"encryptionKey"`
}

type wirePhase struct {
	PhaseType         string        `json:"phaseType"`
	PhaseStatus       string        `json:"phaseStatus,omitempty"`
	StartTime         *epoch        `json:"startTime,omitempty"`
	EndTime           *epoch        `json:"endTime,omitempty"`
	DurationInSeconds *int64        `json:"durationInSeconds,omitempty"`
	Contexts          []wireContext `json:"contexts,omitempty"`
}

type wireContext struct {
	StatusCode string `json:"statusCode"`
	Message    string `json:"message"`
}

type wireSource struct {
	Type      string `json:"type"`
	Buildspec string `json:"buildspec"`
}

type wireArtifacts struct {
	Location string `json:"location"`
}

type wireCache struct {
	Type string `json:"type"`
}

type wireEnvironment struct {
	Type                     string    `json:"type"`
	Image                    string    `json:"image"`
	ComputeType              string    `json:"computeType"`
	EnvironmentVariables     []wireVar `json:"environmentVariables"`
	PrivilegedMode           bool      `json:"privilegedMode"`
	ImagePullCredentialsType string    `json:"imagePullCredentialsType"`
}

type wireVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Type  string `json:"type"`
}

type wireLogs struct {
	GroupName         string             `json:"groupName"`
	StreamName        string             `json:"streamName"`
	DeepLink          string             `json:"deepLink"`
	CloudWatchLogsARN string             `json:"cloudWatchLogsArn"`
	CloudWatchLogs    wireCloudWatchLogs `json:"cloudWatchLogs"`
}

type wireCloudWatchLogs struct {
	Status string `json:"status"`
}

type wireProject struct {
	Name                   string          `json:"name"`
	ARN                    string          `json:"arn"`
	Source                 wireSource      `json:"source"`
	Artifacts              wireCache       `json:"artifacts"`
	Cache                  wireCache       `json:"cache"`
	Environment            wireEnvironment `json:"environment"`
	TimeoutInMinutes       int             `json:"timeoutInMinutes"`
	QueuedTimeoutInMinutes int             `json:"queuedTimeoutInMinutes"`
	EncryptionKey          string          `json:"encryptionKey"`
	ProjectVisibility      string          `json:"projectVisibility"`
}

func wireVars(vs []EnvVar) []wireVar {
	out := make([]wireVar, 0, len(vs))
	for _, v := range vs {
		out = append(out, wireVar(v))
	}
	return out
}

func environmentOf(p Project, vars []EnvVar) wireEnvironment {
	return wireEnvironment{Type: environmentType, Image: p.Image, ComputeType: p.ComputeType,
		EnvironmentVariables: wireVars(vars), ImagePullCredentialsType: "CODEBUILD"}
}

func encryptionKey(region, account string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:alias/aws/s3", region, account)
}

// wire is the build as BatchGetBuilds returns it. Service.mu is held.
func (b *build) wire() wireBuild {
	p := b.project
	w := wireBuild{
		ID: b.id, ARN: b.arn, BuildNumber: b.number, StartTime: epochPtr(b.start), EndTime: epochPtr(b.end),
		CurrentPhase: b.current().kind, BuildStatus: b.status, SourceVersion: b.sourceVersion, ProjectName: p.Name,
		Source:      wireSource{Type: p.SourceType, Buildspec: b.buildspec},
		Cache:       wireCache{Type: "NO_CACHE"},
		Environment: environmentOf(p, b.env),
		Logs: wireLogs{
			GroupName: logGroup(p.Name), StreamName: b.uuid, DeepLink: deepLink(p.Region, p.Name, b.uuid),
			CloudWatchLogsARN: fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:log-stream:%s", p.Region, p.Account, logGroup(p.Name), b.uuid),
			CloudWatchLogs:    wireCloudWatchLogs{Status: "ENABLED"},
		},
		TimeoutInMinutes: b.timeout, QueuedTimeoutInMinutes: b.queuedTimeout, BuildComplete: b.complete,
		Initiator: b.initiator, EncryptionKey: encryptionKey(p.Region, p.Account),
	}
	for _, ph := range b.phases {
		wp := wirePhase{PhaseType: ph.kind, PhaseStatus: ph.status, StartTime: epochPtr(ph.start)}
		if ph.status != "" {
			d := seconds(ph.start, ph.end)
			wp.EndTime, wp.DurationInSeconds = epochPtr(ph.end), &d
			// CodeBuild lists one empty context for a phase that ended without one.
			wp.Contexts = []wireContext{{}}
			if len(ph.contexts) > 0 {
				wp.Contexts = wp.Contexts[:0]
				for _, c := range ph.contexts {
					wp.Contexts = append(wp.Contexts, wireContext(c))
				}
			}
		}
		w.Phases = append(w.Phases, wp)
	}
	return w
}

func wireProjectOf(p Project) wireProject {
	return wireProject{
		Name: p.Name, ARN: projectARN(p.Region, p.Account, p.Name),
		Source:           wireSource{Type: p.SourceType, Buildspec: p.Buildspec},
		Artifacts:        wireCache{Type: "NO_ARTIFACTS"},
		Cache:            wireCache{Type: "NO_CACHE"},
		Environment:      environmentOf(p, p.Environment),
		TimeoutInMinutes: p.TimeoutInMinutes, QueuedTimeoutInMinutes: p.QueuedTimeoutInMinutes,
		EncryptionKey: encryptionKey(p.Region, p.Account), ProjectVisibility: "PRIVATE",
	}
}
