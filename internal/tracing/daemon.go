package tracing

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DaemonAddressEnv names the X-Ray daemon endpoint Lambda sets in every sandbox.
const DaemonAddressEnv = "AWS_XRAY_DAEMON_ADDRESS"

// AddressError reports an unusable X-Ray daemon address.
type AddressError struct {
	Value  string
	Reason string
}

func (e *AddressError) Error() string {
	return fmt.Sprintf("x-ray daemon address %q: %s", e.Value, e.Reason)
}

// ParseDaemonAddress returns the UDP host:port of an X-Ray daemon address given either as
// "host:port" or as "tcp:host:port udp:host:port" (either order).
func ParseDaemonAddress(s string) (string, error) {
	fields := strings.Fields(s)
	switch len(fields) {
	case 1:
		addr := fields[0]
		if rest, ok := strings.CutPrefix(addr, "udp:"); ok {
			addr = rest
		} else if strings.HasPrefix(addr, "tcp:") {
			return "", &AddressError{Value: s, Reason: "no udp: address"}
		}
		return checkHostPort(s, addr)
	case 2:
		var udp string
		var seenTCP bool
		for _, f := range fields {
			switch {
			case strings.HasPrefix(f, "udp:") && udp == "":
				udp = strings.TrimPrefix(f, "udp:")
			case strings.HasPrefix(f, "tcp:") && !seenTCP:
				seenTCP = true
			default:
				return "", &AddressError{Value: s, Reason: "want tcp:host:port udp:host:port"}
			}
		}
		return checkHostPort(s, udp)
	default:
		return "", &AddressError{Value: s, Reason: "want host:port or tcp:host:port udp:host:port"}
	}
}

func checkHostPort(orig, addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", &AddressError{Value: orig, Reason: "not host:port"}
	}
	if host == "" {
		return "", &AddressError{Value: orig, Reason: "empty host"}
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", &AddressError{Value: orig, Reason: "port must be 1-65535"}
	}
	return addr, nil
}
