package link_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ldgo/ldgo/link"
)

// BenchmarkLink links real programs in process, as gcc would have ld
// link them, and reports each pass's share (from --time-passes) besides
// the whole link's time and allocations:
//
//	go test -run - -bench Link -benchmem ./link
//
// The workloads are Debian's archives of Lua and SQLite, linked whole
// into PIEs (each a few hundred input sections), and a shared library
// of 2,000 small functions in sections of their own, with debug
// information. scripts/bench-link times whole processes against other
// link editors; this times the passes.
func BenchmarkLink(b *testing.B) {
	for _, w := range []struct {
		name string
		need string
		args func(dir string) []string
	}{
		{"lua-pie", "/usr/lib/x86_64-linux-gnu/liblua5.4.a", func(dir string) []string {
			return []string{compile(b, dir, "main.c", "int luaL_newstate(void);\nint main(void) { return !luaL_newstate(); }\n"),
				"-Wl,--whole-archive", "/usr/lib/x86_64-linux-gnu/liblua5.4.a", "-Wl,--no-whole-archive", "-lm"}
		}},
		{"sqlite-pie", "/usr/lib/x86_64-linux-gnu/libsqlite3.a", func(dir string) []string {
			return []string{compile(b, dir, "main.c", "const char *sqlite3_libversion(void);\nint main(void) { return !sqlite3_libversion(); }\n"),
				"-Wl,--whole-archive", "/usr/lib/x86_64-linux-gnu/libsqlite3.a", "-Wl,--no-whole-archive", "-lm"}
		}},
		{"many-sections-shared", "", func(dir string) []string {
			var src bytes.Buffer
			for i := range 2000 {
				fmt.Fprintf(&src, "const char *f%d(int x) { static const char *s[] = {\"%d\", \"shared %d\"}; return s[x & 1]; }\n", i, i, i%97)
			}
			return []string{"-shared", compile(b, dir, "many.c", src.String(), "-O1", "-g", "-fPIC", "-ffunction-sections", "-fdata-sections")}
		}},
	} {
		b.Run(w.name, func(b *testing.B) {
			if w.need != "" {
				if _, err := os.Stat(w.need); err != nil {
					b.Skipf("%s not installed", w.need)
				}
			}
			dir := b.TempDir()
			args := ldArgs(b, dir, w.args(dir))
			passes := map[string]float64{}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				var stderr bytes.Buffer
				if st := link.Main("ld", append(args, "--time-passes"), io.Discard, &stderr, nil); st != 0 {
					b.Fatalf("ld exited %d:\n%s", st, stderr.String())
				}
				for name, ms := range parsePasses(b, stderr.String()) {
					passes[name] += ms
				}
			}
			for name, ms := range passes {
				b.ReportMetric(ms/float64(b.N), name+"-ms/op")
			}
		})
	}
}

// compile writes a C source file in dir and compiles it with flags; it
// returns the object's path.
func compile(b *testing.B, dir, name, text string, flags ...string) string {
	if _, err := exec.LookPath("gcc"); err != nil {
		b.Skip("gcc not installed")
	}
	c := filepath.Join(dir, name)
	if err := os.WriteFile(c, []byte(text), 0o644); err != nil {
		b.Fatal(err)
	}
	o := strings.TrimSuffix(c, ".c") + ".o"
	if out, err := exec.Command("gcc", append(flags, "-c", "-o", o, c)...).CombinedOutput(); err != nil {
		b.Fatalf("gcc %s: %v\n%s", name, err, out)
	}
	return o
}

// ldArgs returns the arguments gcc's collect2 passes to ld for a link
// of gccArgs, output in dir: gcc runs with an ld that records them.
func ldArgs(b *testing.B, dir string, gccArgs []string) []string {
	shim := filepath.Join(dir, "shim")
	record := filepath.Join(dir, "args")
	script := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > " + record + "\n"
	if err := os.MkdirAll(shim, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(shim, "ld"), []byte(script), 0o755); err != nil {
		b.Fatal(err)
	}
	line := append([]string{"-B", shim, "-fno-use-linker-plugin", "-o", filepath.Join(dir, "out")}, gccArgs...)
	if out, err := exec.Command("gcc", line...).CombinedOutput(); err != nil {
		b.Fatalf("gcc %v: %v\n%s", line, err, out)
	}
	data, err := os.ReadFile(record)
	if err != nil {
		b.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// parsePasses reads --time-passes' table: milliseconds by pass, the
// pass's name in metric form ("scan relocations" -> "scan-relocations").
func parsePasses(b *testing.B, table string) map[string]float64 {
	passes := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(table))
	sc.Scan() // the heading
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[1] != "ms" || f[4] != "MiB" || f[5] == "total;" {
			continue
		}
		ms, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			b.Fatalf("--time-passes line %q: %v", sc.Text(), err)
		}
		name := strings.Join(f[5:], "-")
		name = strings.NewReplacer(";", "", ",", "", ".", "").Replace(name)
		passes[name] += ms
	}
	if len(passes) == 0 {
		b.Fatalf("no passes in --time-passes' output:\n%s", table)
	}
	return passes
}
