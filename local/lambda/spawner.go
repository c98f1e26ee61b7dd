package lambda

import (
	"context"
	"os/exec"
	"runtime"
)

// spawner starts processes from one OS thread that lives as long as the service. The
// kernel's parent-death signal (see procAttr) fires when the thread that forked a child
// exits, not the process; a goroutine's thread could otherwise end early and take the
// emulators with it. Its thread ends when the service closes, which then also signals any
// emulator that escaped stopping.
type spawner struct {
	reqs chan spawnRequest
	done chan struct{}
}

type spawnRequest struct {
	cmd  *exec.Cmd
	errc chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnRequest), done: make(chan struct{})}
	go s.loop()
	return s
}

func (s *spawner) loop() {
	runtime.LockOSThread() // never unlocked: the thread exits with this goroutine
	for {
		select {
		case r := <-s.reqs:
			r.errc <- r.cmd.Start()
		case <-s.done:
			return
		}
	}
}

func (s *spawner) start(ctx context.Context, cmd *exec.Cmd) error {
	r := spawnRequest{cmd: cmd, errc: make(chan error, 1)}
	select {
	case s.reqs <- r:
	case <-s.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-r.errc
}

func (s *spawner) close() { close(s.done) }
