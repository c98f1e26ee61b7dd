package asl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// ObjectStore reads and writes the S3 objects of ItemReader and ResultWriter, acting as the
// execution's role (the state machine's role).
type ObjectStore interface {
	GetObject(ctx context.Context, roleArn, bucket, key string) ([]byte, error)
	PutObject(ctx context.Context, roleArn, bucket, key string, body []byte) error
}

// Error names of a Distributed Map state. All three are ordinary errors:
// Retry and Catch (States.ALL included) handle them.
const (
	ErrorItemReaderFailed                = "States.ItemReaderFailed"
	ErrorResultWriterFailed              = "States.ResultWriterFailed"
	ErrorExceedToleratedFailureThreshold = "States.ExceedToleratedFailureThreshold"
)

// The service's cause for ErrorExceedToleratedFailureThreshold.
const causeExceedToleratedFailureThreshold = "The specified tolerated failure threshold was exceeded"

// Limits and values of the distributed Map fields.
const (
	maxDistributedConcurrency = 10000     // child executions at once; also what 0 means
	maxReaderItems            = 100000000 // an ItemReader stops reading beyond this many items
	maxLabelLength            = 40
	labelInvalidCharacters    = " ?*<>{}[]:;,\\|^~$#%&`\""
	resourceS3GetObject       = "s3:getObject"
	resourceS3PutObject       = "s3:putObject"
	inputTypeJSON             = "JSON"
	inputTypeJSONL            = "JSONL"
	writerTransformationNone  = "NONE"
	outputJSON                = "JSON"
	toleratedPercentageMax    = 100.0
)

// distributedOnlyFields may only appear in a Map state in DISTRIBUTED mode.
var distributedOnlyFields = []string{"ItemReader", "ItemBatcher", "ResultWriter", "Label",
	"ToleratedFailureCount", "ToleratedFailureCountPath", "ToleratedFailurePercentage", "ToleratedFailurePercentagePath"}

// distributedMap holds the fields of a Map state in DISTRIBUTED mode.
type distributedMap struct {
	processorDef *Definition // the ItemProcessor, run by each child execution
	label        string      // empty: a UUID is generated for each Map Run
	reader       *itemReader // nil: the items come from the state input
	writer       *resultWriter

	toleratedCount     int64
	hasToleratedCount  bool
	toleratedCountPath *path
	toleratedPct       float64
	hasToleratedPct    bool
	toleratedPctPath   *path
}

// itemReader is an ItemReader reading a JSON array or JSON Lines object
// from S3.
type itemReader struct {
	parameters   *template // Bucket and Key
	inputType    string
	maxItems     int64 // 0: no limit
	maxItemsPath *path
}

// resultWriter is a ResultWriter exporting the child executions' results to
// S3.
type resultWriter struct {
	parameters *template // Bucket and Prefix
}

// distributed parses the fields only a distributed Map state has.
func (p *parser) distributed(r *reader, state string) *distributedMap {
	d := &distributedMap{}
	if r.has("ItemBatcher") {
		r.setErr(&UnsupportedError{State: state, Field: "ItemBatcher", Reason: "batching items is not supported; each item runs as its own child execution"})
		return d
	}
	if r.has("Label") {
		d.label = r.str("Label")
		if r.err == nil {
			if msg := checkLabel(d.label); msg != "" {
				r.fail("Label", msg)
			}
		}
	}
	if r.has("ToleratedFailureCount") {
		d.hasToleratedCount = true
		d.toleratedCount = r.integer("ToleratedFailureCount", 0, 1<<53)
	}
	d.toleratedCountPath = r.referencePath("ToleratedFailureCountPath")
	if r.has("ToleratedFailureCount") && r.has("ToleratedFailureCountPath") {
		r.fail("ToleratedFailureCountPath", "ToleratedFailureCount and ToleratedFailureCountPath are mutually exclusive")
	}
	if raw, ok := r.fields["ToleratedFailurePercentage"]; ok && r.err == nil {
		v, err := decodeValue(raw)
		f, isNum := asFloat(v)
		if err != nil || !isNum || f < 0 || f > toleratedPercentageMax {
			r.fail("ToleratedFailurePercentage", "must be a number from 0 to 100")
		}
		d.toleratedPct, d.hasToleratedPct = f, true
	}
	d.toleratedPctPath = r.referencePath("ToleratedFailurePercentagePath")
	if r.has("ToleratedFailurePercentage") && r.has("ToleratedFailurePercentagePath") {
		r.fail("ToleratedFailurePercentagePath", "ToleratedFailurePercentage and ToleratedFailurePercentagePath are mutually exclusive")
	}
	if raw, ok := r.fields["ItemReader"]; ok && r.err == nil {
		reader, err := parseItemReader(state, raw)
		if err != nil {
			r.setErr(err)
		}
		d.reader = reader
	}
	if raw, ok := r.fields["ResultWriter"]; ok && r.err == nil {
		writer, err := parseResultWriter(state, raw)
		if err != nil {
			r.setErr(err)
		}
		d.writer = writer
	}
	return d
}

// checkLabel applies the service's rules for a Map Run label and returns
// what is wrong, or "".
func checkLabel(label string) string {
	switch {
	case label == "":
		return "must not be empty"
	case len([]rune(label)) > maxLabelLength:
		return fmt.Sprintf("must not exceed %d characters", maxLabelLength)
	}
	for _, c := range label {
		if strings.ContainsRune(labelInvalidCharacters, c) || unicode.IsControl(c) || (c >= 0x7f && c <= 0x9f) {
			return fmt.Sprintf("contains the invalid character %q", c)
		}
	}
	return ""
}

// s3Resource checks an ItemReader or ResultWriter Resource: the optimised
// S3 integration arn:<partition>:states:::s3:<action>.
func s3Resource(state, field, raw, want string) error {
	parts := strings.Split(raw, ":")
	if len(parts) != 7 || parts[0] != "arn" || parts[1] == "" || parts[2] != "states" || parts[3] != "" || parts[4] != "" || parts[5] != "s3" {
		return &UnsupportedError{State: state, Field: field, Reason: fmt.Sprintf("resource %q is not supported; use arn:aws:states:::%s", raw, want)}
	}
	if action := "s3:" + parts[6]; action != want {
		return &UnsupportedError{State: state, Field: field, Reason: fmt.Sprintf("the action %s is not supported; use %s", action, want)}
	}
	return nil
}

// s3Parameters compiles the Parameters of an ItemReader or ResultWriter and
// checks that it names exactly the keys the action takes.
func s3Parameters(state, where string, raw json.RawMessage, required []string, optional []string) (*template, error) {
	v, err := decodeValue(raw)
	obj, ok := v.(map[string]any)
	if err != nil || !ok {
		return nil, &ValidationError{State: state, Field: where, Message: "must be an object"}
	}
	t, err := compileTemplate(obj, where)
	if err != nil {
		return nil, &ValidationError{State: state, Field: where, Message: err.Error()}
	}
	seen := map[string]bool{}
	for _, f := range t.root.(*tObject).fields {
		if !contains(required, f.key) && !contains(optional, f.key) {
			return nil, &UnsupportedError{State: state, Field: where + "." + f.source, Reason: "only " + strings.Join(append(append([]string{}, required...), optional...), " and ") + " are supported"}
		}
		seen[f.key] = true
	}
	for _, k := range required {
		if !seen[k] {
			return nil, &ValidationError{State: state, Field: where + "." + k, Message: "is required (" + k + " or " + k + ".$)"}
		}
	}
	return t, nil
}

func parseItemReader(state string, raw json.RawMessage) (*itemReader, error) {
	fields, err := objectFields(state, "ItemReader", raw)
	if err != nil {
		return nil, err
	}
	ir := &itemReader{}
	resource := ""
	for _, k := range sortedKeys(fields) {
		v := fields[k]
		where := "ItemReader." + k
		switch k {
		case "Resource":
			if err := json.Unmarshal(v, &resource); err != nil {
				return nil, &ValidationError{State: state, Field: where, Message: "must be a string"}
			}
			if err := s3Resource(state, where, resource, resourceS3GetObject); err != nil {
				return nil, err
			}
		case "Parameters":
			if ir.parameters, err = s3Parameters(state, where, v, []string{"Bucket", "Key"}, nil); err != nil {
				return nil, err
			}
		case "ReaderConfig":
			if err := ir.readerConfig(state, where, v); err != nil {
				return nil, err
			}
		default:
			return nil, &UnsupportedError{State: state, Field: where}
		}
	}
	switch {
	case resource == "":
		return nil, &ValidationError{State: state, Field: "ItemReader.Resource", Message: "is required"}
	case ir.parameters == nil:
		return nil, &ValidationError{State: state, Field: "ItemReader.Parameters", Message: "is required: it names the Bucket and Key of the object to read"}
	case ir.inputType == "":
		return nil, &ValidationError{State: state, Field: "ItemReader.ReaderConfig.InputType", Message: "is required for s3:getObject (JSON or JSONL)"}
	}
	return ir, nil
}

func (ir *itemReader) readerConfig(state, where string, raw json.RawMessage) error {
	fields, err := objectFields(state, where, raw)
	if err != nil {
		return err
	}
	for _, k := range sortedKeys(fields) {
		v := fields[k]
		fw := where + "." + k
		switch k {
		case "InputType":
			if err := json.Unmarshal(v, &ir.inputType); err != nil {
				return &ValidationError{State: state, Field: fw, Message: "must be a string"}
			}
			switch ir.inputType {
			case inputTypeJSON, inputTypeJSONL:
			case "CSV", "MANIFEST", "PARQUET":
				return &UnsupportedError{State: state, Field: fw, Reason: fmt.Sprintf("InputType %s is not supported; use JSON or JSONL", ir.inputType)}
			default:
				return &ValidationError{State: state, Field: fw, Message: "must be CSV, JSON, JSONL, MANIFEST or PARQUET"}
			}
		case "MaxItems":
			n, err := intField(state, fw, v, 1, maxReaderItems)
			if err != nil {
				return err
			}
			ir.maxItems = n
		case "MaxItemsPath":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return &ValidationError{State: state, Field: fw, Message: "must be a string"}
			}
			p, err := parseReferencePath(s)
			if err != nil {
				return &ValidationError{State: state, Field: fw, Message: err.Error()}
			}
			ir.maxItemsPath = p
		default:
			// CSVHeaderLocation, CSVHeaders, CSVDelimiter and the like
			// belong to input types this reader does not implement.
			return &UnsupportedError{State: state, Field: fw}
		}
	}
	if ir.maxItems > 0 && ir.maxItemsPath != nil {
		return &ValidationError{State: state, Field: where + ".MaxItemsPath", Message: "MaxItems and MaxItemsPath are mutually exclusive"}
	}
	return nil
}

func parseResultWriter(state string, raw json.RawMessage) (*resultWriter, error) {
	fields, err := objectFields(state, "ResultWriter", raw)
	if err != nil {
		return nil, err
	}
	rw := &resultWriter{}
	resource := ""
	for _, k := range sortedKeys(fields) {
		v := fields[k]
		where := "ResultWriter." + k
		switch k {
		case "Resource":
			if err := json.Unmarshal(v, &resource); err != nil {
				return nil, &ValidationError{State: state, Field: where, Message: "must be a string"}
			}
			if err := s3Resource(state, where, resource, resourceS3PutObject); err != nil {
				return nil, err
			}
		case "Parameters":
			if rw.parameters, err = s3Parameters(state, where, v, []string{"Bucket"}, []string{"Prefix"}); err != nil {
				return nil, err
			}
		case "WriterConfig":
			if err := checkWriterConfig(state, where, v); err != nil {
				return nil, err
			}
		default:
			return nil, &UnsupportedError{State: state, Field: where}
		}
	}
	switch {
	case resource == "":
		// WriterConfig alone formats the state output without exporting;
		// only the export to S3 is implemented.
		return nil, &UnsupportedError{State: state, Field: "ResultWriter", Reason: "a ResultWriter without Resource and Parameters is not supported; export to S3 with arn:aws:states:::s3:putObject"}
	case rw.parameters == nil:
		return nil, &ValidationError{State: state, Field: "ResultWriter.Parameters", Message: "is required: it names the Bucket (and Prefix) to write to"}
	}
	return rw, nil
}

// checkWriterConfig accepts the WriterConfig that describes what is
// implemented: full execution results (NONE) as JSON arrays, the default
// of an export to S3.
func checkWriterConfig(state, where string, raw json.RawMessage) error {
	fields, err := objectFields(state, where, raw)
	if err != nil {
		return err
	}
	for _, k := range sortedKeys(fields) {
		var v string
		if err := json.Unmarshal(fields[k], &v); err != nil {
			return &ValidationError{State: state, Field: where + "." + k, Message: "must be a string"}
		}
		switch {
		case k == "Transformation" && v == writerTransformationNone, k == "OutputType" && v == outputJSON:
		case k == "Transformation" && (v == "COMPACT" || v == "FLATTEN"), k == "OutputType" && v == "JSONL":
			return &UnsupportedError{State: state, Field: where + "." + k, Reason: fmt.Sprintf("%s %s is not supported; results are written as NONE transformation JSON arrays", k, v)}
		case k == "Transformation":
			return &ValidationError{State: state, Field: where + "." + k, Message: "must be NONE, COMPACT or FLATTEN"}
		case k == "OutputType":
			return &ValidationError{State: state, Field: where + "." + k, Message: "must be JSON or JSONL"}
		default:
			return &UnsupportedError{State: state, Field: where + "." + k}
		}
	}
	return nil
}

// errNonIterable is the service's cause for an object or scalar where an
// array of items belongs.
var errNonIterable = errors.New("Attempting to map over non-iterable node.")

// parseItems decodes the object an ItemReader read into its items.
func parseItems(inputType, bucket, key string, data []byte) ([]any, error) {
	where := "s3://" + bucket + "/" + key
	if inputType == inputTypeJSONL {
		var items []any
		for i, line := range bytes.Split(data, []byte("\n")) {
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue
			}
			v, err := decodeValue(line)
			if err != nil {
				return nil, fmt.Errorf("line %d of %s is not valid JSON: %v", i+1, where, err)
			}
			items = append(items, v)
		}
		return items, nil
	}
	v, err := decodeValue(data)
	if err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %v", where, err)
	}
	items, ok := v.([]any)
	if !ok {
		return nil, errNonIterable
	}
	return items, nil
}
