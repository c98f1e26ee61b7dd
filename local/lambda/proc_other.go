//go:build !linux

package lambda

import (
	"os/exec"
	"syscall"
	"time"
)

// The emulator and the process handling here are Linux only.
const supported = false

func procAttr() *syscall.SysProcAttr { return nil }

func stopProcess(cmd *exec.Cmd, exited <-chan struct{}, grace time.Duration, _ string) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Kill()
	select {
	case <-exited:
	case <-time.After(grace):
	}
}
