// Package benchtime times commands as whole processes, side by side:
// every round runs each command once, in a new random order, so that the
// machine's drift touches all alike, and a comparison is the median over
// rounds of the two commands' ratio in the same round (paired).
package benchtime

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Run runs cmd to its end and returns its wall time and peak RSS in
// bytes; its output is kept only for the error of a failed run.
func Run(cmd *exec.Cmd) (time.Duration, uint64, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out.Bytes())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return elapsed, uint64(ru.Maxrss) << 10, nil
}

// Rounds runs each of n commands once per round, in a random order, for
// the given number of rounds; command returns command i's process anew.
// times[i][r] is command i's time in round r.
func Rounds(n, rounds int, command func(i int) *exec.Cmd) ([][]time.Duration, error) {
	times := make([][]time.Duration, n)
	order := make([]int, n)
	for i := range times {
		times[i] = make([]time.Duration, rounds)
		order[i] = i
	}
	for r := 0; r < rounds; r++ {
		rand.Shuffle(n, func(a, b int) { order[a], order[b] = order[b], order[a] })
		for _, i := range order {
			t, _, err := Run(command(i))
			if err != nil {
				return nil, err
			}
			times[i][r] = t
		}
	}
	return times, nil
}

// Median is the median of ds.
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// Ratio is the median over rounds of a[r]/b[r].
func Ratio(a, b []time.Duration) float64 {
	var rs []float64
	for r := range min(len(a), len(b)) {
		if b[r] > 0 {
			rs = append(rs, float64(a[r])/float64(b[r]))
		}
	}
	if len(rs) == 0 {
		return 0
	}
	slices.Sort(rs)
	return rs[len(rs)/2]
}

// Ms is d in milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
