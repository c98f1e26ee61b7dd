//go:build linux

package lambda

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// procAttr puts the emulator in its own process group, so it can be signalled with
// everything it shares the group with, and has the kernel send it SIGTERM should this
// process die without stopping it (the emulator then kills its runtime and exits).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// proc identifies a process across pid reuse.
type proc struct {
	pid, pgid int
	start     uint64 // start time in clock ticks since boot
}

// readProc reads /proc/<pid>/stat; ok is false when the process is gone or a zombie.
func readProc(pid int) (p proc, ppid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, 0, false
	}
	// The command name is parenthesised and may hold anything; fields follow the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return proc{}, 0, false
	}
	f := bytes.Fields(b[i+1:])
	// f[0] state, f[1] ppid, f[2] pgrp, ..., f[19] starttime.
	if len(f) < 20 || string(f[0]) == "Z" || string(f[0]) == "X" {
		return proc{}, 0, false
	}
	ppid, _ = strconv.Atoi(string(f[1]))
	pgid, _ := strconv.Atoi(string(f[2]))
	start, _ := strconv.ParseUint(string(f[19]), 10, 64)
	return proc{pid: pid, pgid: pgid, start: start}, ppid, true
}

func (p proc) alive() bool {
	q, _, ok := readProc(p.pid)
	return ok && q.start == p.start
}

// descendants lists the live processes below pid. The emulator starts its runtime in a
// process group of its own, so signalling the emulator's group does not reach it.
func descendants(pid int) []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]proc{}
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ppid, ok := readProc(n); ok {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []proc
	queue := []int{pid}
	for len(queue) > 0 && len(out) < 1024 {
		next := queue[0]
		queue = queue[1:]
		for _, c := range children[next] {
			out = append(out, c)
			queue = append(queue, c.pid)
		}
	}
	return out
}

// stopProcess stops an emulator and everything it started: SIGTERM to its group (it then
// kills its runtime itself), SIGKILL after grace, then SIGKILL to any descendant left and
// to any process whose environment holds marker (a runtime orphaned by an emulator that
// died is no longer its descendant, but keeps the environment it was given).
func stopProcess(cmd *exec.Cmd, exited <-chan struct{}, grace time.Duration, marker string) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	pid := cmd.Process.Pid
	below := append(descendants(pid), marked(marker)...)
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-exited:
	case <-timer.C:
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(grace):
		}
	}
	for _, p := range below {
		if !p.alive() {
			continue
		}
		if p.pgid == p.pid {
			_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		}
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
}

// marked lists the live processes whose environment contains the entry marker.
func marked(marker string) []proc {
	if marker == "" {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := []byte(marker)
	var out []proc
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n == os.Getpid() {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if bytes.Equal(kv, want) {
				if p, _, ok := readProc(n); ok {
					out = append(out, p)
				}
				break
			}
		}
	}
	return out
}

const supported = true
