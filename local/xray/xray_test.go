package xray

import (
	"bytes"
	"context"
	"errors"
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
	const header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
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
	if s.TraceID != "1-5759e988-bd862e3fe1be46a994272793" || s.ParentID != "53995c3f42cd8ad8" || s.Type != "subsegment" || !s.Fault {
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
	for _, dgram := range []string{"hello", `{"format": "json", "version": 1}` + "\n{", `{"format": "json", "version": 2}` + "\n{}", `{"format": "json", "version": 1}` + "\n{}"} {
		if _, err := conn.Write([]byte(dgram)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for d.Rejected() < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if d.Rejected() != 4 || len(d.Segments()) != 0 {
		t.Fatalf("rejected %d, kept %d", d.Rejected(), len(d.Segments()))
	}
	if err := d.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatal(err)
	}
}
