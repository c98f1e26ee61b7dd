package codebuild

import (
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// eventTimeFormat is how CodeBuild writes times inside event details.
const eventTimeFormat = "Jan 2, 2006 3:04:05 PM"

// logTimeFormat is the timestamp of CodeBuild's own lines in a build log.
const logTimeFormat = "2006/01/02 15:04:05.000000"

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func projectARN(region, account, name string) string {
	return fmt.Sprintf("arn:aws:codebuild:%s:%s:project/%s", region, account, name)
}

func buildARN(region, account, id string) string {
	return fmt.Sprintf("arn:aws:codebuild:%s:%s:build/%s", region, account, id)
}

type arnParts struct{ region, account, kind, id string }

// parseARN reads arn:aws:codebuild:<region>:<account>:<kind>/<id>.
func parseARN(s string) (arnParts, bool) {
	a, err := arn.Parse(s)
	if err != nil || a.Service != "codebuild" {
		return arnParts{}, false
	}
	kind, id, ok := strings.Cut(a.Resource, "/")
	if !ok || id == "" {
		return arnParts{}, false
	}
	return arnParts{region: a.Region, account: a.AccountID, kind: kind, id: id}, true
}

func parseBuildARN(s string) (arnParts, bool) {
	a, ok := parseARN(s)
	return a, ok && a.kind == "build"
}

// logGroup is the CloudWatch Logs group CodeBuild writes a project's builds to.
func logGroup(project string) string { return "/aws/codebuild/" + project }

// deepLink is the console link CodeBuild reports for a build's log stream. The group
// name is escaped twice over, as the CloudWatch console expects.
func deepLink(region, project, stream string) string {
	group := strings.ReplaceAll(logGroup(project), "/", "$252F")
	return fmt.Sprintf("https://console.aws.amazon.com/cloudwatch/home?region=%s#logsV2:log-groups/log-group/%s/log-events/%s", region, group, stream)
}

// initiator is how CodeBuild names whoever started a build: "role/session" for an
// assumed role, the user or role name for IAM identities, "root" for an account root.
func initiator(callerARN string) string {
	a, err := arn.Parse(callerARN)
	if err != nil {
		return callerARN
	}
	res := a.Resource
	if res == "root" {
		return "root"
	}
	kind, rest, ok := strings.Cut(res, "/")
	if !ok {
		return res
	}
	switch kind {
	case "assumed-role":
		return rest
	case "user", "role":
		return rest[strings.LastIndex(rest, "/")+1:]
	}
	return res
}

// epoch is a time on the wire of CodeBuild's JSON API: fractional epoch seconds.
type epoch time.Time

func (t epoch) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)), nil
}

func epochPtr(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}

func eventTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(eventTimeFormat)
}

// seconds is the whole seconds a phase took, as CodeBuild counts them.
func seconds(start, end time.Time) int64 {
	if end.Before(start) {
		return 0
	}
	return int64(end.Sub(start) / time.Second)
}
