package world

import (
	"testing"
	"time"
)

// TestScheduleClock: schedules run on the world's time scale, never faster than once a
// wall-clock second.
func TestScheduleClock(t *testing.T) {
	for _, tc := range []struct {
		scale  float64
		period time.Duration
		want   time.Duration
	}{
		{30, time.Minute, 2 * time.Second},
		{0, 1500 * time.Millisecond, 1500 * time.Millisecond}, // real time
		{3000, 5 * time.Minute, minSchedulePeriod},
	} {
		t.Run(tc.period.String(), func(t *testing.T) {
			t.Parallel()
			c := newScheduleClock(tc.scale)
			began := time.Now()
			timer := c.NewTimer(tc.period)
			select {
			case <-timer.C():
			case <-time.After(tc.want + 5*time.Second):
				t.Fatalf("scale %v: a timer of %s did not fire", tc.scale, tc.period)
			}
			if took := time.Since(began); took < tc.want-50*time.Millisecond || took > tc.want+time.Second {
				t.Errorf("scale %v: a timer of %s took %s of wall time, want %s", tc.scale, tc.period, took, tc.want)
			}
		})
	}
}
