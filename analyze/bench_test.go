package analyze

import (
	"os"
	"testing"

	"github.com/ldgo/ldgo/namespace"
)

// The benchmarks analyze real programs: gdb (21 libraries, about 19,000
// bindings) and ls. Load is finding, reading and mapping every object;
// Bind is every symbol lookup and relocation, which is what glibc's
// "total startup time in dynamic loader" mostly measures.
var benchPrograms = []string{"/usr/bin/gdb", "/usr/bin/ls"}

func BenchmarkLoad(b *testing.B) {
	for _, prog := range benchPrograms {
		b.Run(base(prog), func(b *testing.B) {
			skipMissing(b, prog)
			for b.Loop() {
				a, err := Load(prog, Options{Progname: prog, PreloadFile: "-"})
				if err != nil {
					b.Fatal(err)
				}
				a.Close()
			}
		})
	}
}

func BenchmarkBind(b *testing.B) {
	for _, prog := range benchPrograms {
		b.Run(base(prog), func(b *testing.B) {
			skipMissing(b, prog)
			var n int
			for b.Loop() {
				b.StopTimer()
				a, err := Load(prog, Options{Progname: prog, PreloadFile: "-"})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				res := a.Bind(true)
				n = len(res.Bindings)
				b.StopTimer()
				a.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(n), "bindings")
		})
	}
}

func BenchmarkAnalyze(b *testing.B) {
	for _, prog := range benchPrograms {
		b.Run(base(prog), func(b *testing.B) {
			skipMissing(b, prog)
			for b.Loop() {
				a, err := Load(prog, Options{Progname: prog, PreloadFile: "-"})
				if err != nil {
					b.Fatal(err)
				}
				a.Bind(true)
				a.Close()
			}
		})
	}
}

func skipMissing(b *testing.B, prog string) {
	if _, err := os.Stat(prog); err != nil {
		b.Skip(prog, "not installed")
	}
}

func base(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

// BenchmarkReplay relocates every object from the bind record of an
// earlier run over the same objects, as a cached `ldgo run` does: no
// symbol lookup, and nothing traced.
func BenchmarkReplay(b *testing.B) {
	opts := namespace.RelocOptions{SkipIFunc: true, Continue: true}
	for _, prog := range benchPrograms {
		b.Run(base(prog), func(b *testing.B) {
			skipMissing(b, prog)
			load := func() *Analysis {
				a, err := Load(prog, Options{Progname: prog, PreloadFile: "-"})
				if err != nil {
					b.Fatal(err)
				}
				return a
			}
			a := load()
			a.NS.Linker.Recording = true
			a.NS.RelocateAll(opts)
			record := a.NS.Linker.Record
			a.Close()
			var replayed uint64
			for b.Loop() {
				b.StopTimer()
				a := load()
				l := &a.NS.Linker
				l.Replay = record
				for _, m := range a.NS.Chain {
					for uint64(len(l.Maps)) <= m.Serial {
						l.Maps = append(l.Maps, nil)
					}
					l.Maps[m.Serial] = m
				}
				b.StartTimer()
				a.NS.RelocateAll(opts)
				b.StopTimer()
				replayed = l.Replayed
				a.Close()
				b.StartTimer()
			}
			if replayed == 0 {
				b.Fatalf("none of %d bindings replayed", record.Len())
			}
			b.ReportMetric(float64(replayed), "bindings")
		})
	}
}
