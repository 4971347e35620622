// Package timing measures the link editor's passes: the wall time and
// the bytes allocated by each, for --time-passes and the benchmarks.
//
// A nil *Timer measures nothing and costs a nil check, so the passes
// call it unconditionally.
package timing

import (
	"fmt"
	"io"
	"runtime/metrics"
	"sync"
	"time"
)

// A Pass is one measured pass. Depth is how many passes enclose it.
type Pass struct {
	Name    string
	Depth   int
	Elapsed time.Duration
	Alloc   uint64 // bytes allocated on the Go heap during the pass
}

// Timer records passes in the order they start.
type Timer struct {
	mu     sync.Mutex
	start  time.Time
	alloc0 uint64
	depth  int
	passes []Pass
}

// New starts a timer; its total runs from now.
func New() *Timer {
	return &Timer{start: time.Now(), alloc0: allocated()}
}

// Start begins a pass and returns the function that ends it. Passes
// started before an earlier one ends are nested in it: call Start and
// its end on one goroutine, in the order of the link.
func (t *Timer) Start(name string) (end func()) {
	if t == nil {
		return func() {}
	}
	t.mu.Lock()
	i := len(t.passes)
	t.passes = append(t.passes, Pass{Name: name, Depth: t.depth})
	t.depth++
	t.mu.Unlock()
	start, alloc := time.Now(), allocated()
	return func() {
		elapsed, bytes := time.Since(start), allocated()-alloc
		t.mu.Lock()
		t.passes[i].Elapsed, t.passes[i].Alloc = elapsed, bytes
		t.depth--
		t.mu.Unlock()
	}
}

// Passes returns the passes measured so far.
func (t *Timer) Passes() []Pass {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Pass(nil), t.passes...)
}

// total is the time and allocation since New.
func (t *Timer) total() (time.Duration, uint64) {
	return time.Since(t.start), allocated() - t.alloc0
}

// Print writes the passes as a table, nested passes indented under
// theirs, with the total and the process's peak resident set last.
func (t *Timer) Print(w io.Writer, prog string, peakRSS uint64) {
	if t == nil {
		return
	}
	total, alloc := t.total()
	fmt.Fprintf(w, "%s: time of each pass (wall clock; allocated on the Go heap)\n", prog)
	for _, p := range t.Passes() {
		fmt.Fprintf(w, "%10.3f ms %5.1f%% %9.1f MiB  %*s%s\n", ms(p.Elapsed), percent(p.Elapsed, total),
			mib(p.Alloc), 2*p.Depth, "", p.Name)
	}
	fmt.Fprintf(w, "%10.3f ms %5.1f%% %9.1f MiB  total; peak RSS %.1f MiB\n", ms(total), 100.0, mib(alloc), mib(peakRSS))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func mib(n uint64) float64       { return float64(n) / (1 << 20) }

func percent(d, total time.Duration) float64 {
	if total <= 0 {
		return 0
	}
	return 100 * float64(d) / float64(total)
}

// allocated is the Go heap's cumulative allocation: runtime/metrics
// reads it without stopping the world, as runtime.ReadMemStats would.
func allocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
