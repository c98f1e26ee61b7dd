//go:build !linux

package faults

import (
	"errors"
	"net"
)

// killPeer needs /proc to find the process behind a connection.
func killPeer(*net.TCPAddr, net.Addr, func(int)) (int, error) {
	return 0, errors.New("killing a function process needs Linux")
}
