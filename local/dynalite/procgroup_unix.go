//go:build unix

package dynalite

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the emulator in its own process group so that stopping it also
// stops anything it started.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	// The group id equals the leader's pid; a negative pid signals the whole group.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
