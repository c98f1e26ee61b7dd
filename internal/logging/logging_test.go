package logging

import (
	"strings"
	"testing"
)

func TestTokenHash(t *testing.T) {
	token := "AQCEAAAAKgAAAAMAAAAAAAAAAeXampleTokenValue"
	h := TokenHash(token)
	if len(h) != 12 || strings.Contains(token, h) || h != TokenHash(token) || h == TokenHash(token+"x") {
		t.Fatalf("TokenHash = %q", h)
	}
	if TokenHash("") != "" {
		t.Fatal("empty token hashes to empty")
	}
}
