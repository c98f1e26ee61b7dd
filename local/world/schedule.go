package world

import (
	"time"

	"github.com/crossbuild/crossbuild/local/asl"
	"github.com/crossbuild/crossbuild/local/eventbridge"
)

// minSchedulePeriod is the shortest wall-clock period of a scheduled rule. At the time scales
// of the long-build tests (3000), rate(5 minutes) would fire every 100 ms and keep the
// functions' few execution environments busy with sweeps that find nothing.
const minSchedulePeriod = time.Second

// scheduleClock runs EventBridge's scheduled rules on the world's time scale, as the state
// machine's Waits, heartbeats and timeouts run: at a time scale of 30, a rule of
// rate(5 minutes) fires every 10 seconds.
type scheduleClock struct {
	asl.Clock
	scale float64
}

func newScheduleClock(timeScale float64) scheduleClock {
	if timeScale <= 0 {
		timeScale = 1
	}
	return scheduleClock{asl.ScaledClock(asl.RealClock{}, timeScale), timeScale}
}

func (c scheduleClock) NewTimer(d time.Duration) eventbridge.Timer {
	if time.Duration(float64(d)/c.scale) < minSchedulePeriod {
		return asl.RealClock{}.NewTimer(minSchedulePeriod)
	}
	return c.Clock.NewTimer(d)
}
