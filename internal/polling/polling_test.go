package polling

import (
	"slices"
	"testing"
)

func TestNext(t *testing.T) {
	tests := []struct{ current, cap, want int }{
		{20, 900, 40},
		{450, 900, 900},
		{600, 900, 900},
		{900, 900, 900},
		{1800, 900, 1800}, // a target asked for more than the cap: keep it
		{0, 900, 10},      // below the minimum: treated as the minimum
		{5, 5, 5},
	}
	for _, tt := range tests {
		if got := Next(tt.current, tt.cap); got != tt.want {
			t.Errorf("Next(%d, %d) = %d, want %d", tt.current, tt.cap, got, tt.want)
		}
	}
}

func TestSchedule(t *testing.T) {
	// completion "poll", 20 s interval, 10-minute build: waits 20, 40, 80, 160, 320.
	if got, want := Schedule(600, 20, 900, 20, 100), []int{20, 60, 140, 300, 620}; !slices.Equal(got, want) {
		t.Errorf("poll mode = %v, want %v", got, want)
	}
	// fallback: polls at once, then 40, 80, ... up to the cap.
	got := Schedule(3000, 20, 900, 0, 100)
	if want := []int{0, 40, 120, 280, 600, 1240, 2140, 3040}; !slices.Equal(got, want) {
		t.Errorf("fallback = %v, want %v", got, want)
	}
	// bounded
	if n := len(Schedule(1<<30, 5, 5, 0, 50)); n != 50 {
		t.Errorf("maxPolls not honoured: %d polls", n)
	}
}

// TestDayLongBuild: a 24-hour build polled from its start with the defaults takes about a
// hundred polls, not 4,320.
func TestDayLongBuild(t *testing.T) {
	polls := len(Schedule(86400, 20, DefaultCapSeconds, 20, 10000))
	if polls < 90 || polls > 105 {
		t.Fatalf("24-hour build: %d polls", polls)
	}
	if last := Schedule(86400, 20, DefaultCapSeconds, 20, 10000)[polls-1]; last-86400 > DefaultCapSeconds {
		t.Errorf("last poll %d s after the end, more than the cap", last-86400)
	}
}
