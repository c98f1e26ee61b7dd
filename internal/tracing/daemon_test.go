package tracing

import (
	"errors"
	"testing"
)

func TestParseDaemonAddress(t *testing.T) {
	var cases []struct {
		Name    string `json:"name"`
		Value   string `json:"value"`
		Want    string `json:"want"`
		WantErr bool   `json:"wantErr"`
	}
	readFixture(t, "daemon_addresses.json", &cases)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			got, err := ParseDaemonAddress(tc.Value)
			if tc.WantErr {
				var ae *AddressError
				if !errors.As(err, &ae) {
					t.Fatalf("ParseDaemonAddress(%q) = %q, %v; want an *AddressError", tc.Value, got, err)
				}
				return
			}
			if err != nil || got != tc.Want {
				t.Fatalf("ParseDaemonAddress(%q) = %q, %v; want %q", tc.Value, got, err, tc.Want)
			}
		})
	}
}

func FuzzParseDaemonAddress(f *testing.F) {
	f.Add("169.254.79.129:2000")
	f.Add("tcp:127.0.0.1:2000 udp:127.0.0.1:2000")
	f.Add("udp:[::1:2000")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseDaemonAddress(s) // must not panic
	})
}
