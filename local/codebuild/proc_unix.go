//go:build unix

package codebuild

import (
	"errors"
	"os/exec"
	"syscall"
)

// ownProcessGroup puts a command in a process group of its own, so that stopping a
// build also ends whatever its commands started.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func killProcessGroup(pgid int) {
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// processGroupAlive reports whether any process is left in a group.
func processGroupAlive(pgid int) bool {
	err := syscall.Kill(-pgid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
