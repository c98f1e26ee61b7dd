package e2e

import "syscall"

// prSetChildSubreaper is prctl's PR_SET_CHILD_SUBREAPER (linux/prctl.h).
const prSetChildSubreaper = 36

// setSubreaper makes this process adopt the orphans of its descendants (on = true) or
// stops it, so a process a child leaves behind when it exits stays visible as ours.
func setSubreaper(on bool) error {
	arg := uintptr(0)
	if on {
		arg = 1
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, arg, 0); errno != 0 {
		return errno
	}
	return nil
}
