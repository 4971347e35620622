// Package parallel runs the link editor's per-file and per-section work
// on a bounded number of goroutines.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Threads is the number of goroutines for n (--threads), or as many as
// the process may run at once when n is 0.
func Threads(n int) int {
	if n <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return n
}

// For calls fn(0), ..., fn(n-1) on up to threads goroutines and returns
// when all have returned. Each call owns what index i names: the caller
// arranges that no two calls write the same memory.
func For(threads, n int, fn func(i int)) {
	if n == 0 {
		return
	}
	workers := min(Threads(threads), n)
	if workers == 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	// Workers take the next index from a counter: a link has up to
	// hundreds of thousands of small jobs (one per input section), too
	// many to hand out through a channel.
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}
