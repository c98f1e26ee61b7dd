package xray

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

// The production exporter's datagrams arrive and are read back with their annotations.
func TestReceivesTheFunctionsSegments(t *testing.T) {
	var lines bytes.Buffer
	d, err := Start(&lines)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !strings.HasPrefix(d.Address(), "127.0.0.1:") {
		t.Fatalf("address %s", d.Address())
	}
	exp, err := tracing.DialExporter(d.Address())
	if err != nil {
		t.Fatal(err)
	}
	p := tracing.NewProvider(exp, "crossbuild-starter")
	root := recentRoot(time.Now())
	header := "Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=1"
	h := tracing.Wrap(p, "starter", func(ctx context.Context, in string) (string, error) {
		tracing.Annotate(ctx, tracing.KeyBuildARN, "arn:aws:codebuild:eu-west-1:222222222222:build/p:1")
		return "", &failure.InvalidTarget{Index: 0, Field: "region", Rule: "bad"}
	})
	ctx := context.WithValue(context.Background(), "x-amzn-trace-id", header) //nolint:staticcheck // the key aws-lambda-go uses
	if _, err := h(ctx, "x"); err == nil {
		t.Fatal("want the handler's error")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(d.Segments()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := d.Find(tracing.KeyBuildARN, "arn:aws:codebuild:eu-west-1:222222222222:build/p:1")
	if len(got) != 1 {
		t.Fatalf("segments %+v", d.Segments())
	}
	s := got[0]
	if s.TraceID != root || s.ParentID != "53995c3f42cd8ad8" || s.Type != "subsegment" || !s.Fault {
		t.Errorf("segment %+v", s)
	}
	if len(d.Traces()) != 1 || !strings.Contains(lines.String(), `"build_arn"`) {
		t.Errorf("traces %d, lines %s", len(d.Traces()), lines.String())
	}
}

func TestRejectsWhatIsNotASegment(t *testing.T) {
	d, err := Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	conn, err := net.Dial("udp", d.Address())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	old := `{"format": "json", "version": 1}` + "\n" + `{"trace_id": "` + recentRoot(time.Now().Add(-31*24*time.Hour)) + `", "id": "0a1b2c3d4e5f6071", "name": "x", "start_time": 1}`
	ahead := `{"format": "json", "version": 1}` + "\n" + `{"trace_id": "` + recentRoot(time.Now().Add(time.Hour)) + `", "id": "0a1b2c3d4e5f6071", "name": "x", "start_time": 1}`
	for _, dgram := range []string{"hello", `{"format": "json", "version": 1}` + "\n{", `{"format": "json", "version": 2}` + "\n{}", `{"format": "json", "version": 1}` + "\n{}", old, ahead} {
		if _, err := conn.Write([]byte(dgram)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for d.Rejected() < 6 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if d.Rejected() != 6 || len(d.Segments()) != 0 {
		t.Fatalf("rejected %d, kept %d", d.Rejected(), len(d.Segments()))
	}
	if err := d.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatal(err)
	}
}

// recentRoot is a trace id that began at t, as X-Ray ids do.
func recentRoot(t time.Time) string {
	return fmt.Sprintf("1-%08x-0123456789abcdef01234567", t.Unix())
}
