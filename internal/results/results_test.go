package results

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/crossbuild/crossbuild/internal/testfixtures"
)

// fakeS3 serves objects from a map, listing them in one page.
type fakeS3 struct {
	objects map[string][]byte
	listErr error
}

func (f *fakeS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	if f.listErr != nil {
		return nil, f.listErr
	}
	out := &s3.ListObjectsV2Output{IsTruncated: aws.Bool(false)}
	for k := range f.objects {
		if strings.HasPrefix(k, aws.ToString(in.Prefix)) {
			out.Contents = append(out.Contents, s3types.Object{Key: aws.String(k), LastModified: aws.Time(time.Unix(1, 0))})
		}
	}
	return out, nil
}

func (f *fakeS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	b, ok := f.objects[aws.ToString(in.Key)]
	if !ok {
		return nil, &s3types.NoSuchKey{}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(b))}, nil
}

func TestRead(t *testing.T) {
	fixture := testfixtures.MapRunObjects()
	broken := testfixtures.MapRunObjects()
	broken[testfixtures.MapRunDir+"FAILED_0.json"] = []byte(`{"not":"an array"}`)
	missing := testfixtures.MapRunObjects()
	delete(missing, testfixtures.MapRunDir+"PENDING_0.json")

	for _, tt := range []struct {
		name       string
		s3         *fakeS3
		execution  string
		wantStatus []string // by Map index
		wantErr    string
		notWritten bool
	}{
		{name: "the fixture Map Run", s3: &fakeS3{objects: fixture}, execution: "release-42",
			wantStatus: []string{"SUCCEEDED", "SUCCEEDED", "FAILED", "FAILED", "ABORTED", NotRun}},
		{name: "no results yet", s3: &fakeS3{objects: fixture}, execution: "another", notWritten: true,
			wantErr: "no results under s3://crossbuild-bucket/runs/another/results/"},
		{name: "a malformed file", s3: &fakeS3{objects: broken}, execution: "release-42", wantErr: "FAILED_0.json: not a JSON array"},
		{name: "a listed file missing", s3: &fakeS3{objects: missing}, execution: "release-42", wantErr: "PENDING_0.json is listed but missing"},
		{name: "the bucket refuses", s3: &fakeS3{listErr: errors.New("AccessDenied")}, execution: "release-42", wantErr: "list s3://crossbuild-bucket/runs/release-42/results/: AccessDenied"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &Reader{S3: tt.s3, Bucket: testfixtures.MapRunBucket}
			set, err := r.Read(t.Context(), tt.execution)
			if tt.wantErr != "" {
				var nw *NotWrittenError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.As(err, &nw) != tt.notWritten {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i, res := range set.Results {
				if res.MapIndex != i {
					t.Fatalf("result %d has index %d", i, res.MapIndex)
				}
				got = append(got, res.Status)
			}
			if strings.Join(got, ",") != strings.Join(tt.wantStatus, ",") {
				t.Fatalf("statuses %v, want %v", got, tt.wantStatus)
			}
			if set.Manifest != testfixtures.MapRunKey {
				t.Errorf("manifest %q", set.Manifest)
			}
			ok := set.Results[1]
			if ok.Account != "333333333333" || ok.CompletedBy != "poll" || ok.DurationSeconds != 70 || ok.BuildID == "" {
				t.Errorf("succeeded result %+v", ok)
			}
			failed := set.Results[2]
			if failed.Account != "444444444444" || failed.Error != "CodeBuild.FAILED" || !strings.Contains(failed.BuildARN, ":build/") {
				t.Errorf("failed result %+v", failed)
			}
			if nr := set.Results[5]; nr.Account != "777777777777" || nr.Raw != nil {
				t.Errorf("not run %+v", nr)
			}
		})
	}
}

func readFixture(t *testing.T) Set {
	t.Helper()
	r := &Reader{S3: &fakeS3{objects: testfixtures.MapRunObjects()}, Bucket: testfixtures.MapRunBucket}
	set, err := r.Read(t.Context(), "release-42")
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestWrite(t *testing.T) {
	set := readFixture(t)
	for _, tt := range []struct {
		name  string
		write func(io.Writer, Set) error
		check func(t *testing.T, out string)
	}{
		{"csv", WriteCSV, func(t *testing.T, out string) {
			rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil || len(rows) != 7 || strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") {
				t.Fatalf("%d rows, %v:\n%s", len(rows), err, out)
			}
			if rows[2][0] != "1" || rows[2][5] != "poll" || rows[6][4] != NotRun {
				t.Errorf("rows %q", rows)
			}
		}},
		{"json", WriteJSON, func(t *testing.T, out string) {
			var arr []map[string]any
			if err := json.Unmarshal([]byte(out), &arr); err != nil || len(arr) != 6 {
				t.Fatalf("%v:\n%s", err, out)
			}
			if arr[1]["mapIndex"] != 1.0 || arr[1]["completedBy"] != "poll" || arr[2]["error"] != "CodeBuild.FAILED" || arr[5]["status"] != NotRun {
				t.Errorf("%v", arr)
			}
			if n := strings.Count(out, "\n"); n != 8 {
				t.Errorf("%d lines, want one per target and the brackets", n)
			}
		}},
		{"table", func(w io.Writer, s Set) error { return WriteTable(w, s, 0) }, func(t *testing.T, out string) {
			for _, want := range []string{"COMPLETED BY", "333333333333", "CodeBuild.FAILED", "1m10s",
				"6 targets: 2 SUCCEEDED, 2 FAILED, 1 ABORTED, 1 NOT_RUN; results in s3://crossbuild-bucket/" + testfixtures.MapRunDir} {
				if !strings.Contains(out, want) {
					t.Errorf("no %q in\n%s", want, out)
				}
			}
		}},
		{"table of a large run", func(w io.Writer, s Set) error { return WriteTable(w, s, 2) }, func(t *testing.T, out string) {
			if strings.Contains(out, "SUCCEEDED  ") || !strings.Contains(out, "listed: the first 2 that did not succeed") || strings.Count(out, "\n") != 4 {
				t.Errorf("%s", out)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.write(&b, set); err != nil {
				t.Fatal(err)
			}
			tt.check(t, b.String())
		})
	}
}
