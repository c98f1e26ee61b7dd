// Package results reads an execution's per-target results from the results store: the
// manifest and result files the Distributed Map's ResultWriter exported under
// runs/<execution name>/results/ in the runs bucket, as the summariser reads them
// (internal/summary), every target rather than a summary. It writes them as a table,
// JSON or CSV.
package results

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/crossbuild/crossbuild/internal/plan"
	"github.com/crossbuild/crossbuild/internal/summary"
)

// Objects reads the results store.
type Objects interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Bounds of the reads, as the summariser's: a manifest lists a handful of files; the
// results folder of an execution holds one folder per Map Run.
const (
	maxManifestBytes = 16 << 20
	maxListPages     = 100
	maxResultFiles   = 10000
	maxEntries       = 2 * plan.MaxTargets
)

// NotRun is the status of a target whose child execution never started.
const NotRun = "NOT_RUN"

// Result is one target's result.
type Result struct {
	MapIndex        int // -1 when the child's input did not say
	Account         string
	Region          string
	Project         string
	Status          string // SUCCEEDED, FAILED, FAULT, STOPPED, TIMED_OUT, ABORTED, ..., NOT_RUN
	CompletedBy     string
	BuildID         string
	BuildARN        string
	StartTime       time.Time
	EndTime         time.Time
	DurationSeconds int64
	Error           string
	Cause           string
	LogsDeepLink    string
	// Raw is the result object as the execution output lists it (nil for NOT_RUN).
	Raw json.RawMessage
}

// Set is every result of one execution, ordered by Map index.
type Set struct {
	Bucket, Manifest string
	Results          []Result
}

// Counts returns the number of results by status.
func (s Set) Counts() map[string]int {
	out := map[string]int{}
	for _, r := range s.Results {
		out[r.Status]++
	}
	return out
}

// Reader reads the results of executions from one bucket.
type Reader struct {
	S3     Objects
	Bucket string
}

// NotWrittenError: no Map Run of the execution wrote results (yet).
type NotWrittenError struct{ Bucket, Prefix string }

func (e *NotWrittenError) Error() string {
	return fmt.Sprintf("no results under s3://%s/%s", e.Bucket, e.Prefix)
}

// Fix says what to do about it.
func (e *NotWrittenError) Fix() string {
	return "results are written when the execution's targets have run: check it with crossbuild status (an execution that failed before its targets ran has none)"
}

// Read finds the execution's newest manifest and reads every result file it lists.
func (r *Reader) Read(ctx context.Context, executionName string) (Set, error) {
	prefix := plan.RunPrefix(executionName) + "/results/"
	key, err := r.findManifest(ctx, prefix)
	if err != nil {
		return Set{}, err
	}
	raw, err := r.read(ctx, key, maxManifestBytes)
	if err != nil {
		return Set{}, err
	}
	var m summary.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return Set{}, fmt.Errorf("manifest s3://%s/%s: %w", r.Bucket, key, err)
	}
	files := m.Files()
	if len(files) > maxResultFiles {
		return Set{}, fmt.Errorf("manifest s3://%s/%s lists %d files, more than %d", r.Bucket, key, len(files), maxResultFiles)
	}
	set := Set{Bucket: r.Bucket, Manifest: key}
	for _, f := range files {
		if err := r.readFile(ctx, f, &set); err != nil {
			return Set{}, err
		}
	}
	slices.SortStableFunc(set.Results, func(a, b Result) int {
		// Unknown indexes (-1) go last.
		return cmp.Compare(uint(a.MapIndex), uint(b.MapIndex))
	})
	return set, nil
}

func (r *Reader) findManifest(ctx context.Context, prefix string) (string, error) {
	var (
		best     string
		bestTime time.Time
		token    *string
	)
	for range maxListPages {
		out, err := r.S3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(r.Bucket), Prefix: aws.String(prefix), ContinuationToken: token})
		if err != nil {
			return "", fmt.Errorf("list s3://%s/%s: %w", r.Bucket, prefix, err)
		}
		for _, o := range out.Contents {
			k := aws.ToString(o.Key)
			if !strings.HasSuffix(k, "/manifest.json") {
				continue
			}
			if t := aws.ToTime(o.LastModified); best == "" || t.After(bestTime) {
				best, bestTime = k, t
			}
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			break
		}
		token = out.NextContinuationToken
	}
	if best == "" {
		return "", &NotWrittenError{Bucket: r.Bucket, Prefix: prefix}
	}
	return best, nil
}

func (r *Reader) open(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := r.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.Bucket), Key: aws.String(key)})
	if err != nil {
		var noKey *s3types.NoSuchKey
		if errors.As(err, &noKey) {
			return nil, fmt.Errorf("s3://%s/%s is listed but missing: %w", r.Bucket, key, err)
		}
		return nil, fmt.Errorf("read s3://%s/%s: %w", r.Bucket, key, err)
	}
	return out.Body, nil
}

func (r *Reader) read(ctx context.Context, key string, limit int64) ([]byte, error) {
	body, err := r.open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", r.Bucket, key, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("s3://%s/%s is larger than %d bytes", r.Bucket, key, limit)
	}
	return b, nil
}

// readFile streams one result file, a JSON array of child executions, one entry at a time.
func (r *Reader) readFile(ctx context.Context, f summary.KindFile, set *Set) error {
	body, err := r.open(ctx, f.Key)
	if err != nil {
		return err
	}
	defer body.Close()
	where := "s3://" + r.Bucket + "/" + f.Key
	dec := json.NewDecoder(bufio.NewReaderSize(body, 64<<10))
	tok, err := dec.Token()
	if err == io.EOF {
		return nil
	}
	if err != nil || tok != json.Delim('[') {
		return fmt.Errorf("%s: not a JSON array of child executions (%v)", where, err)
	}
	for dec.More() {
		if len(set.Results) >= maxEntries {
			return fmt.Errorf("%s: more than %d child executions", where, maxEntries)
		}
		var e summary.Entry
		if err := dec.Decode(&e); err != nil {
			return fmt.Errorf("%s: entry %d: %w", where, len(set.Results), err)
		}
		set.Results = append(set.Results, fromEntry(f.Kind, e))
	}
	return nil
}

// fromEntry reads one child execution's result.
func fromEntry(kind string, e summary.Entry) Result {
	index, raw := summary.TargetResult(kind, e)
	res := Result{MapIndex: -1, Raw: raw}
	if index != nil {
		res.MapIndex = *index
	}
	if raw == nil {
		in := summary.ParseChildInput(aws.ToString(e.Input))
		res.Account, res.Region, res.Project, res.Status = accountOf(in.RoleARN), in.Region, in.CodeBuildProject, NotRun
		return res
	}
	var f struct {
		Account         string    `json:"account"`
		RoleARN         string    `json:"roleArn"`
		Region          string    `json:"region"`
		Project         string    `json:"project"`
		Status          string    `json:"status"`
		CompletedBy     string    `json:"completedBy"`
		BuildID         string    `json:"buildId"`
		BuildARN        string    `json:"buildArn"`
		StartTime       time.Time `json:"startTime"`
		EndTime         time.Time `json:"endTime"`
		DurationSeconds int64     `json:"durationSeconds"`
		Error           string    `json:"error"`
		Cause           string    `json:"cause"`
		LogsDeepLink    string    `json:"logsDeepLink"`
	}
	// A result this version does not know the shape of still keeps its Raw.
	_ = json.Unmarshal(raw, &f)
	res.Account, res.Region, res.Project, res.Status = cmp.Or(f.Account, accountOf(f.RoleARN)), f.Region, f.Project, f.Status
	res.CompletedBy, res.BuildID, res.BuildARN = f.CompletedBy, f.BuildID, f.BuildARN
	res.StartTime, res.EndTime, res.DurationSeconds = f.StartTime, f.EndTime, f.DurationSeconds
	res.Error, res.Cause, res.LogsDeepLink = f.Error, f.Cause, f.LogsDeepLink
	if res.BuildARN == "" {
		// A failed build's cause names it (docs/reference.md, "Errors Step Functions sees").
		var c struct {
			BuildARN     string `json:"buildArn"`
			LogsDeepLink string `json:"logsDeepLink"`
		}
		if json.Unmarshal([]byte(f.Cause), &c) == nil {
			res.BuildARN, res.LogsDeepLink = c.BuildARN, cmp.Or(res.LogsDeepLink, c.LogsDeepLink)
		}
	}
	return res
}

// accountOf returns the account of an ARN ("" when it is not one).
func accountOf(s string) string {
	a, err := arn.Parse(s)
	if err != nil {
		return ""
	}
	return a.AccountID
}
