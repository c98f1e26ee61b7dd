//go:build !unix

package codebuild

import "os/exec"

// Without process groups only the shell itself can be killed, through the Cmd.

func ownProcessGroup(*exec.Cmd) {}

func killProcessGroup(int) {}

func processGroupAlive(int) bool { return false }
