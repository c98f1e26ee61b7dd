package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/crossbuild/crossbuild/internal/awserr"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/logging"
	"github.com/crossbuild/crossbuild/internal/summary"
)

// ResultsLister lists the results prefix to find a Map Run's manifest.
type ResultsLister interface {
	ListObjectsV2(ctx context.Context, params *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// ResultsReader reads the manifest and the result files.
type ResultsReader interface {
	GetObject(ctx context.Context, params *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Bounds of the reads: a manifest lists a handful of files; an execution's results prefix
// holds one folder per Map Run.
const (
	maxManifestBytes = 16 << 20
	maxListPages     = 100
	maxResultFiles   = 10000
)

// Handler summarises one execution's Map Run.
type Handler struct {
	List    ResultsLister
	Objects ResultsReader
	Bucket  string // the deployment's bucket, where the results are
	Log     *slog.Logger
}

// Handle reads the Map Run's results and returns the execution's output. Errors are named:
// InvalidInput (a payload the state machine should not send), BucketUnusable (the bucket
// refuses us), ResultsUnreadable (results missing or malformed), TransientError.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (summary.Response, error) {
	req, err := summary.ParseRequest(raw)
	if err != nil {
		h.Log.Warn("payload refused", logging.KeyError, err.Error())
		return summary.Response{}, err
	}
	if req.Results.Bucket != h.Bucket {
		return summary.Response{}, &failure.InvalidInput{Field: "results.bucket",
			Rule: fmt.Sprintf("must be the deployment's bucket %s, got %q", h.Bucket, req.Results.Bucket)}
	}
	log := h.Log.With("resultsPrefix", req.Results.Prefix)
	if req.MapRun != nil {
		log = log.With("mapRunArn", req.MapRun.MapRunArn)
	}

	key, err := h.findManifest(ctx, req)
	if err != nil {
		log.Error("manifest not found", logging.KeyError, err.Error(), "errorType", failure.Name(err))
		return summary.Response{}, err
	}
	c := summary.NewCollector(req.Plan)
	loc := summary.Location{Bucket: h.Bucket, Prefix: req.Results.Prefix}
	if key != "" {
		if err := h.collect(ctx, key, c); err != nil {
			log.Error("results not read", logging.KeyError, err.Error(), "errorType", failure.Name(err))
			return summary.Response{}, err
		}
		loc.Manifest = &key
	}
	resp := c.Finish(loc, req.MapRunError)
	s := resp.Output.Summary
	log.Info("results summarised", "manifest", key, "total", s.Total, "succeeded", s.Succeeded, "failed", s.Failed,
		"notRun", s.NotRun, "byError", s.ByError, "runFailed", resp.Failed, "mapRunError", req.MapRunError != nil)
	return resp, nil
}

// findManifest returns the key of the Map Run's manifest: the one the Map state reported,
// or the one found under the results prefix (the Map Run's, or the latest). "" when the
// Map Run wrote none, as when it failed before starting any child.
func (h *Handler) findManifest(ctx context.Context, req summary.Request) (string, error) {
	base := strings.TrimSuffix(req.Results.Prefix, "/") + "/"
	runID := ""
	if req.MapRun != nil {
		if d := req.MapRun.ResultWriterDetails; d != nil && d.Key != "" {
			if !strings.HasPrefix(d.Key, base) || (d.Bucket != "" && d.Bucket != h.Bucket) {
				return "", &failure.InvalidInput{Field: "mapRun.ResultWriterDetails",
					Rule: fmt.Sprintf("must name a manifest under s3://%s/%s, got s3://%s/%s", h.Bucket, base, d.Bucket, d.Key)}
			}
			return d.Key, nil
		}
		runID = summary.MapRunID(req.MapRun.MapRunArn)
	}

	var (
		best     string
		bestTime time.Time
		token    *string
	)
	for range maxListPages {
		out, err := h.List.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(h.Bucket), Prefix: aws.String(base), ContinuationToken: token})
		if err != nil {
			return "", h.s3Error(err, "list s3://"+h.Bucket+"/"+base)
		}
		for _, o := range out.Contents {
			k := aws.ToString(o.Key)
			folder, ok := strings.CutSuffix(strings.TrimPrefix(k, base), "/manifest.json")
			if !ok || folder == "" || strings.Contains(folder, "/") {
				continue
			}
			if runID != "" && folder == runID {
				return k, nil
			}
			if t := aws.ToTime(o.LastModified); best == "" || t.After(bestTime) || (t.Equal(bestTime) && k > best) {
				best, bestTime = k, t
			}
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			return best, nil
		}
		token = out.NextContinuationToken
	}
	return best, nil
}

// collect reads the manifest and streams every result file it lists into c.
func (h *Handler) collect(ctx context.Context, key string, c *summary.Collector) error {
	body, err := h.open(ctx, key)
	if err != nil {
		return err
	}
	var m summary.Manifest
	err = json.NewDecoder(io.LimitReader(body, maxManifestBytes)).Decode(&m)
	body.Close()
	where := "s3://" + h.Bucket + "/" + key
	if err != nil {
		return &failure.ResultsUnreadable{Location: where, Err: fmt.Errorf("manifest: %w", err)}
	}
	if m.DestinationBucket != "" && m.DestinationBucket != h.Bucket {
		return &failure.ResultsUnreadable{Location: where, Err: fmt.Errorf("manifest names bucket %q", m.DestinationBucket)}
	}
	files := m.Files()
	if len(files) > maxResultFiles {
		return &failure.ResultsUnreadable{Location: where, Err: fmt.Errorf("manifest lists %d files, more than %d", len(files), maxResultFiles)}
	}
	dir := key[:strings.LastIndexByte(key, '/')+1]
	for _, f := range files {
		if !strings.HasPrefix(f.Key, dir) {
			return &failure.ResultsUnreadable{Location: where, Err: fmt.Errorf("manifest lists %q outside %s", f.Key, dir)}
		}
		if err := h.readFile(ctx, f, c); err != nil {
			return err
		}
	}
	return nil
}

func (h *Handler) readFile(ctx context.Context, f summary.KindFile, c *summary.Collector) error {
	body, err := h.open(ctx, f.Key)
	if err != nil {
		return err
	}
	defer body.Close()
	if err := c.Read(body, f.Kind); err != nil {
		return &failure.ResultsUnreadable{Location: "s3://" + h.Bucket + "/" + f.Key, Err: err}
	}
	return nil
}

func (h *Handler) open(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := h.Objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(h.Bucket), Key: aws.String(key)})
	if err != nil {
		return nil, h.s3Error(err, "read s3://"+h.Bucket+"/"+key)
	}
	return out.Body, nil
}

// s3Error names an S3 failure: retryable ones are transient; a missing object the
// manifest or the Map state named means results were lost; anything else is the bucket
// refusing us.
func (h *Handler) s3Error(err error, op string) error {
	var noKey *s3types.NoSuchKey
	switch {
	case errors.As(err, &noKey):
		return &failure.ResultsUnreadable{Location: strings.TrimPrefix(op, "read "), Err: err}
	case awserr.Code(err) == "" || awserr.IsRetryable(err):
		return &failure.TransientError{Op: op, Err: err}
	}
	return &failure.BucketUnusable{Bucket: h.Bucket, Op: op, Err: err}
}
