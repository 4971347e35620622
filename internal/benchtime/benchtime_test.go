package benchtime

import (
	"os/exec"
	"testing"
	"time"
)

func TestRatioIsPaired(t *testing.T) {
	a := []time.Duration{10, 20, 40, 80, 160}
	b := []time.Duration{5, 10, 20, 40, 80}
	if r := Ratio(a, b); r != 2 {
		t.Errorf("Ratio: %v, want 2 in every round", r)
	}
	if m := Median([]time.Duration{3, 1, 2}); m != 2 {
		t.Errorf("Median: %v", m)
	}
}

func TestRoundsRunsEachCommandEachRound(t *testing.T) {
	times, err := Rounds(2, 3, func(i int) *exec.Cmd {
		if i == 0 {
			return exec.Command("true")
		}
		return exec.Command("sleep", "0.02")
	})
	if err != nil {
		t.Fatal(err)
	}
	for r := range 3 {
		if times[1][r] < 20*time.Millisecond || times[0][r] <= 0 {
			t.Errorf("round %d: %v, %v", r, times[0][r], times[1][r])
		}
	}
	if _, err := Rounds(1, 1, func(int) *exec.Cmd { return exec.Command("false") }); err == nil {
		t.Error("a failed run is no error")
	}
}
