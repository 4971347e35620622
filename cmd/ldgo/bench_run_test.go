package main

import (
	"io"
	"os/exec"
	"testing"
)

// Benchmarks of whole processes: a program run b.N times under `ldgo run`
// (BenchmarkRun...) and natively (BenchmarkNative...), output discarded.
// Compare them with
//
//	go test -run XXX -bench 'Run|Native' -benchtime 20x ./cmd/ldgo
//
// (No peak RSS here: the child's rusage counts the Go test binary's memory,
// which it shares until exec.) scripts/bench-run measures more: linking
// cycles, wall time with hyperfine, peak RSS, lazy resolution.

// benchProcess runs prog with args b.N times, under ldgo if hosted.
// prog is a path, or a name looked up on PATH; the benchmark is skipped if
// it is not installed.
func benchProcess(b *testing.B, hosted bool, prog string, args ...string) {
	path, err := exec.LookPath(prog)
	if err != nil {
		b.Skipf("%s not installed", prog)
	}
	name, argv := path, args
	if hosted {
		name = buildLdgo(b)
		argv = append([]string{"run", path}, args...)
	}
	run := func() {
		cmd := exec.Command(name, argv...)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Run(); err != nil {
			b.Fatalf("%s %q: %v", name, argv, err)
		}
	}
	run() // once untimed: fails early, and warms the page cache
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run()
	}
}

func BenchmarkRunTrue(b *testing.B)          { benchProcess(b, true, "/usr/bin/true") }
func BenchmarkNativeTrue(b *testing.B)       { benchProcess(b, false, "/usr/bin/true") }
func BenchmarkRunLs(b *testing.B)            { benchProcess(b, true, "ls", "-l", "/") }
func BenchmarkNativeLs(b *testing.B)         { benchProcess(b, false, "ls", "-l", "/") }
func BenchmarkRunGdbVersion(b *testing.B)    { benchProcess(b, true, "gdb", "--version") }
func BenchmarkNativeGdbVersion(b *testing.B) { benchProcess(b, false, "gdb", "--version") }
