package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/crossbuild/crossbuild/internal/awserr"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/logging"
	"github.com/crossbuild/crossbuild/internal/plan"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

// TargetsReader reads the targets object named by targetsS3Uri.
type TargetsReader interface {
	GetObject(ctx context.Context, params *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// ItemsWriter writes the items file the Distributed Map's ItemReader reads.
type ItemsWriter interface {
	PutObject(ctx context.Context, params *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Handler plans one execution.
type Handler struct {
	Targets  TargetsReader
	Items    ItemsWriter
	Bucket   string // the deployment's bucket: targets are read from it, items written to it
	Defaults plan.Defaults
	Log      *slog.Logger
}

// logProblems bounds how many target problems one log record lists.
const logProblems = 5

// Handle checks the execution input, writes the items file and returns the plan. Errors
// are named: InvalidInput (the input breaks a rule), BucketUnusable (the deployment's bucket
// refuses us), TransientError (worth retrying).
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (plan.Plan, error) {
	req, err := plan.ParseRequest(raw)
	if err != nil {
		h.Log.Warn("payload refused", logging.KeyError, err.Error())
		return plan.Plan{}, err
	}
	log := h.Log.With(logging.KeyExecutionARN, req.ExecutionARN)
	tracing.Annotate(ctx, tracing.KeyExecutionARN, req.ExecutionARN)

	in, err := plan.ParseInput(req.Input, h.Defaults, h.Bucket)
	if err != nil {
		// The messages name fields and rules, never a target's values.
		log.Warn("execution input refused", logging.KeyError, err.Error())
		return plan.Plan{}, err
	}
	targets := in.Targets
	if in.TargetsURI != "" {
		if targets, err = h.readTargets(ctx, in); err != nil {
			log.Warn("targets object refused", logging.KeyError, err.Error(), "errorType", failure.Name(err))
			return plan.Plan{}, err
		}
	}

	items, problems := plan.BuildItems(targets, h.Defaults)
	body, err := plan.EncodeItems(items)
	if err != nil {
		return plan.Plan{}, fmt.Errorf("encode items: %w", err)
	}
	p := plan.New(in, h.Bucket, req.ExecutionName, len(items))
	if err := h.writeItems(ctx, p.Items.Key, body); err != nil {
		log.Error("items not written", logging.KeyError, err.Error(), "errorType", failure.Name(err))
		return plan.Plan{}, err
	}
	log.Info("plan written", "count", p.Count, "problems", problems, "firstProblems", firstProblems(items, logProblems),
		"source", p.Source, "itemsKey", p.Items.Key, "itemsBytes", len(body), "maxConcurrency", p.MaxConcurrency,
		"toleratedFailureCount", p.ToleratedFailureCount, "toleratedFailurePercentage", p.ToleratedFailurePercentage)
	return p, nil
}

// readTargets reads the targets object, at most plan.MaxTargetsObjectBytes of it.
func (h *Handler) readTargets(ctx context.Context, in plan.Input) ([]json.RawMessage, error) {
	out, err := h.Targets.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(in.TargetsBucket), Key: aws.String(in.TargetsKey)})
	if err != nil {
		return nil, h.readError(err, in.TargetsURI)
	}
	defer out.Body.Close()
	tooLarge := func(n int64) error {
		return &failure.InvalidInput{Field: plan.KeyTargetsS3URI, Rule: fmt.Sprintf("%s is %d bytes or more, more than the %d-byte limit: split the targets over several executions",
			in.TargetsURI, n, plan.MaxTargetsObjectBytes)}
	}
	if n := aws.ToInt64(out.ContentLength); n > plan.MaxTargetsObjectBytes {
		return nil, tooLarge(n)
	}
	body, err := io.ReadAll(io.LimitReader(out.Body, plan.MaxTargetsObjectBytes+1))
	if err != nil {
		return nil, &failure.TransientError{Op: "read " + in.TargetsURI, Err: err}
	}
	if len(body) > plan.MaxTargetsObjectBytes {
		return nil, tooLarge(int64(len(body)))
	}
	return plan.DecodeTargets(bytes.NewReader(body), in.TargetsURI)
}

// readError names a failed read of the targets object. A missing or unreadable object is
// the input's fault; a missing bucket is the deployment's.
func (h *Handler) readError(err error, uri string) error {
	var noKey *s3types.NoSuchKey
	var noBucket *s3types.NoSuchBucket
	code := awserr.Code(err)
	switch {
	case errors.As(err, &noKey):
		return &failure.InvalidInput{Field: plan.KeyTargetsS3URI, Rule: fmt.Sprintf("there is no object %s: upload the targets there first", uri)}
	case errors.As(err, &noBucket) || code == "NoSuchBucket":
		return &failure.BucketUnusable{Bucket: h.Bucket, Op: "read " + uri, Err: err}
	case code == "" || awserr.IsRetryable(err):
		return &failure.TransientError{Op: "read " + uri, Err: err}
	case code == "AccessDenied":
		// S3 answers AccessDenied for a missing key when the reader may not list the bucket.
		return &failure.InvalidInput{Field: plan.KeyTargetsS3URI, Rule: fmt.Sprintf("%s cannot be read (AccessDenied): check that it exists and is encrypted with the bucket's key", uri)}
	}
	return &failure.InvalidInput{Field: plan.KeyTargetsS3URI, Rule: fmt.Sprintf("%s cannot be read (%s)", uri, code)}
}

func (h *Handler) writeItems(ctx context.Context, key string, body []byte) error {
	_, err := h.Items.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(h.Bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String("application/json"),
	})
	switch {
	case err == nil:
		return nil
	case awserr.Code(err) == "" || awserr.IsRetryable(err):
		return &failure.TransientError{Op: "write items " + key, Err: err}
	}
	return &failure.BucketUnusable{Bucket: h.Bucket, Op: "write items " + key, Err: err}
}

func firstProblems(items []plan.Item, max int) []string {
	var out []string
	for _, it := range items {
		if len(out) == max {
			break
		}
		if it.Problem != nil {
			out = append(out, *it.Problem)
		}
	}
	return out
}
