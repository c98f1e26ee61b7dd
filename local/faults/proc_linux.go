//go:build linux

package faults

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// maxDepth bounds the walk up a process's ancestors.
const maxDepth = 64

// killPeer kills, with SIGKILL, the process of this machine that holds the client end of a
// connection to this process's server: the socket whose local address is client and whose
// remote address is server. Only a descendant of this process is killed: the world started
// every function process, and nothing else may be touched. found is called with the
// process just before the signal, so that the kill is on record before anyone can see the
// process end.
func killPeer(client *net.TCPAddr, server net.Addr, found func(pid int)) (int, error) {
	srv, ok := server.(*net.TCPAddr)
	if client == nil || !ok || srv == nil {
		return 0, errors.New("the connection's addresses are unknown")
	}
	inode, err := socketInode(client, srv)
	if err != nil {
		return 0, err
	}
	pid, err := socketOwner(inode)
	if err != nil {
		return 0, err
	}
	if !descendant(pid, os.Getpid()) {
		return 0, fmt.Errorf("process %d holding the connection was not started by this process", pid)
	}
	found(pid)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return pid, fmt.Errorf("kill %d: %w", pid, err)
	}
	return pid, nil
}

// socketInode finds the inode of the TCP socket local -> remote in /proc/net/tcp (IPv4:
// the world listens on 127.0.0.1).
func socketInode(local, remote *net.TCPAddr) (string, error) {
	l, r := procAddr(local), procAddr(remote)
	if l == "" || r == "" {
		return "", fmt.Errorf("%s -> %s is not an IPv4 connection", local, remote)
	}
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) > 9 && fields[1] == l && fields[2] == r {
			return fields[9], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("no socket %s -> %s", local, remote)
}

// procAddr writes an IPv4 address as /proc/net/tcp does: the address as a little-endian
// 32-bit hex number, a colon, the port in hex.
func procAddr(a *net.TCPAddr) string {
	ip := a.IP.To4()
	if ip == nil {
		return ""
	}
	return fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], a.Port)
}

// socketOwner finds the process with a file descriptor on the socket inode.
func socketOwner(inode string) (int, error) {
	want := "socket:[" + inode + "]"
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	self := os.Getpid()
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == self {
			continue
		}
		dir := filepath.Join("/proc", p.Name(), "fd")
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue // gone, or not ours to read
		}
		for _, fd := range fds {
			if link, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && link == want {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no process holds socket %s", inode)
}

// descendant reports whether pid is a descendant of ancestor.
func descendant(pid, ancestor int) bool {
	for range maxDepth {
		ppid, ok := parent(pid)
		if !ok || ppid <= 1 {
			return false
		}
		if ppid == ancestor {
			return true
		}
		pid = ppid
	}
	return false
}

// parent reads a process's parent from /proc/<pid>/stat.
func parent(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name is parenthesised and may hold anything; fields follow the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(string(f[1]))
	return ppid, err == nil
}
