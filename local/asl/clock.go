package asl

import (
	"context"
	"sync"
	"time"
)

// Clock is the engine's source of time. Waits, retries, timeouts and
// heartbeats all run on it, and history timestamps come from it.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer created by a Clock.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns the current time.
func (RealClock) Now() time.Time { return time.Now() }

// NewTimer starts a timer firing after d.
func (RealClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.t.C }
func (t realTimer) Stop() bool          { return t.t.Stop() }

// ScaledClock runs scale times faster than base: a 60 s Wait takes 60/scale
// seconds of base time, and Now advances scale seconds per base second, so
// history timestamps still show the durations the definition asked for.
func ScaledClock(base Clock, scale float64) Clock {
	if scale <= 0 || scale == 1 {
		return base
	}
	now := base.Now()
	return &scaledClock{base: base, scale: scale, origin: now}
}

type scaledClock struct {
	base   Clock
	scale  float64
	origin time.Time
}

func (c *scaledClock) Now() time.Time {
	elapsed := c.base.Now().Sub(c.origin)
	return c.origin.Add(time.Duration(float64(elapsed) * c.scale))
}

func (c *scaledClock) NewTimer(d time.Duration) Timer {
	return c.base.NewTimer(time.Duration(float64(d) / c.scale))
}

// sleep waits d on clock, returning false when ctx ends first.
func sleep(ctx context.Context, clock Clock, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	}
}

// lockedRand serialises a random source shared by concurrent executions.
type lockedRand struct {
	mu sync.Mutex
	f  func() float64
}

func (r *lockedRand) Float64() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.f()
	if v < 0 || v >= 1 {
		v = 0
	}
	return v
}
