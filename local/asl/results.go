package asl

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// defaultResultFileMaxBytes bounds one result file of a ResultWriter: a
// single S3 PutObject takes at most 5 GB, so larger results are split into
// SUCCEEDED_0.json, SUCCEEDED_1.json, ...
const defaultResultFileMaxBytes int64 = 5 << 30

// Result file statuses, in the order their files are written.
var resultStatuses = []string{"SUCCEEDED", "FAILED", "PENDING"}

// readItems reads an ItemReader's object as the execution's role and
// decodes its items. Every failure to get or decode them is
// States.ItemReaderFailed with the reason as the cause.
func (x *Execution) readItems(ctx context.Context, th *thread, ir *itemReader, eff any, maxItems int64, retryCount int) ([]any, error) {
	params, err := th.evalTemplate(ir.parameters, eff, th.contextObject(retryCount, "", nil))
	if err != nil {
		return nil, err
	}
	if maxItems < 0 {
		// The service's words for a negative MaxItemsPath value.
		return nil, newStateError(ErrorItemReaderFailed, "field MaxItems must be positive")
	}
	bucket, key, err := s3Location(params, "Key", true)
	if err != nil {
		return nil, newStateError(ErrorItemReaderFailed, "ItemReader: "+err.Error())
	}
	if x.engine.objects == nil {
		return nil, newStateError(ErrorItemReaderFailed, "no object store is configured to read s3://"+bucket+"/"+key)
	}
	data, err := x.engine.objects.GetObject(ctx, x.roleArn, bucket, key)
	if err != nil {
		if ctx.Err() != nil {
			return nil, errAborted
		}
		return nil, newStateError(ErrorItemReaderFailed, err.Error())
	}
	items, err := parseItems(ir.inputType, bucket, key, data)
	if err != nil {
		return nil, newStateError(ErrorItemReaderFailed, err.Error())
	}
	limit := int64(maxReaderItems)
	if maxItems > 0 && maxItems < limit {
		limit = maxItems
	}
	if int64(len(items)) > limit {
		items = items[:limit]
	}
	return items, nil
}

// s3Location reads Bucket and the named key field (Key or Prefix) of
// evaluated ItemReader or ResultWriter Parameters.
func s3Location(params any, keyField string, keyRequired bool) (string, string, error) {
	obj, _ := params.(map[string]any)
	bucket, ok := obj["Bucket"].(string)
	if !ok || bucket == "" {
		return "", "", fmt.Errorf("Parameters.Bucket must be a non-empty string, got %s", jsonString(obj["Bucket"]))
	}
	v, present := obj[keyField]
	key, ok := v.(string)
	if (present && !ok) || (keyRequired && key == "") {
		return "", "", fmt.Errorf("Parameters.%s must be a non-empty string, got %s", keyField, jsonString(v))
	}
	return bucket, key, nil
}

// resultTarget is where a ResultWriter writes: a bucket and a key prefix.
type resultTarget struct {
	bucket string
	prefix string
}

// resultTarget evaluates a ResultWriter's Parameters against the state's
// input, before any child starts.
func (th *thread) resultTarget(w *resultWriter, eff any, retryCount int) (*resultTarget, error) {
	params, err := th.evalTemplate(w.parameters, eff, th.contextObject(retryCount, "", nil))
	if err != nil {
		return nil, err
	}
	bucket, prefix, err := s3Location(params, "Prefix", false)
	if err != nil {
		return nil, newStateError(ErrorResultWriterFailed, "ResultWriter: "+err.Error())
	}
	return &resultTarget{bucket: bucket, prefix: prefix}, nil
}

// resultTime formats the dates of exported execution results.
func resultTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// redriveReason explains why an exported execution cannot be redriven.
func redriveReason(status Status) string {
	switch status {
	case StatusSucceeded, StatusRunning:
		return fmt.Sprintf("Execution is %s and cannot be redriven", status)
	}
	return "Redrive is not available in the local runtime"
}

// executionResult describes a child execution as a ResultWriter exports it
// (Transformation NONE): Input and Output are JSON text, a failed child
// carries Error and Cause instead of Output.
func executionResult(info ExecutionInfo) map[string]any {
	m := map[string]any{
		"ExecutionArn":        info.ExecutionArn,
		"Input":               info.Input,
		"InputDetails":        map[string]any{"Included": true},
		"Name":                info.Name,
		"RedriveCount":        intValue(0),
		"RedriveStatus":       "NOT_REDRIVABLE",
		"RedriveStatusReason": redriveReason(info.Status),
		"StartDate":           resultTime(info.StartDate),
		"StateMachineArn":     info.StateMachineArn,
		"Status":              string(info.Status),
	}
	if !info.StopDate.IsZero() {
		m["StopDate"] = resultTime(info.StopDate)
	}
	if info.HasOutput {
		m["Output"] = info.Output
		m["OutputDetails"] = map[string]any{"Included": true}
	}
	if info.Error != "" {
		m["Error"] = info.Error
	}
	if info.Cause != "" {
		m["Cause"] = info.Cause
	}
	return m
}

// writeResults exports the Map Run's results under
// <Prefix>/<map run id>/: the children that succeeded, those that failed,
// timed out or were aborted, and the items never started, each as JSON
// arrays split at the size limit, then manifest.json listing the files. It
// returns the manifest's key.
func (x *Execution) writeResults(ctx context.Context, th *thread, s *mapState, run *MapRun, target *resultTarget,
	eff any, items []any, children []*Execution, retryCount int) (string, error) {
	if x.engine.objects == nil {
		return "", newStateError(ErrorResultWriterFailed, "no object store is configured to write to s3://"+target.bucket)
	}
	base := target.prefix
	if base != "" && !strings.HasSuffix(base, "/") {
		base += "/"
	}
	base += run.id + "/"

	groups := map[string][]string{}
	written := 0
	for i, c := range children {
		var entry map[string]any
		status := "PENDING"
		if c == nil {
			input, err := th.itemInput(s, eff, items, i, retryCount)
			if err != nil {
				input = items[i]
			}
			entry = map[string]any{
				"Input": jsonString(input), "InputDetails": map[string]any{"Included": true},
				"RedriveCount": intValue(0), "RedriveStatus": "NOT_REDRIVABLE",
				"StateMachineArn": run.stateMachineArn, "Status": status,
			}
		} else {
			info := c.Describe()
			entry = executionResult(info)
			status = "FAILED"
			if info.Status == StatusSucceeded {
				status = "SUCCEEDED"
			}
			written++
		}
		groups[status] = append(groups[status], jsonString(entry))
	}

	files := map[string]any{}
	for _, status := range resultStatuses {
		list := []any{}
		for n, body := range splitResults(groups[status], x.engine.resultFileMaxBytes) {
			key := fmt.Sprintf("%s%s_%d.json", base, status, n)
			if err := x.putResult(ctx, target.bucket, key, body); err != nil {
				return "", err
			}
			list = append(list, map[string]any{"Key": key, "Size": intValue(int64(len(body)))})
		}
		files[status] = list
	}
	manifest := map[string]any{"DestinationBucket": target.bucket, "MapRunArn": run.arn, "ResultFiles": files}
	key := base + "manifest.json"
	if err := x.putResult(ctx, target.bucket, key, []byte(jsonString(manifest))); err != nil {
		return "", err
	}
	run.mu.Lock()
	run.resultsWritten = written
	run.mu.Unlock()
	return key, nil
}

func (x *Execution) putResult(ctx context.Context, bucket, key string, body []byte) error {
	if err := x.engine.objects.PutObject(ctx, x.roleArn, bucket, key, body); err != nil {
		if ctx.Err() != nil {
			return errAborted
		}
		return newStateError(ErrorResultWriterFailed, err.Error())
	}
	return nil
}

// splitResults joins encoded entries into JSON arrays of at most maxBytes
// each (an entry larger than that gets a file of its own).
func splitResults(entries []string, maxBytes int64) [][]byte {
	var files [][]byte
	var cur []byte
	for _, e := range entries {
		if len(cur) > 0 && int64(len(cur)+1+len(e)+1) > maxBytes {
			files = append(files, append(cur, ']'))
			cur = nil
		}
		if len(cur) == 0 {
			cur = append(cur, '[')
		} else {
			cur = append(cur, ',')
		}
		cur = append(cur, e...)
	}
	if len(cur) > 0 {
		files = append(files, append(cur, ']'))
	}
	return files
}
