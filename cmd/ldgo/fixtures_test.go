package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The fixtures here are C programs and libraries built by gcc for each
// test. Every expectation comes from glibc's ld.so run over the same files
// (ldd, ldd -r, LD_DEBUG=bindings in trace mode), never from the test.

// fixture is a directory of gcc-built objects.
type fixture struct {
	t   *testing.T
	dir string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	return &fixture{t: t, dir: t.TempDir()}
}

func (f *fixture) path(name string) string { return filepath.Join(f.dir, name) }

// write creates a source file.
func (f *fixture) write(name, text string) string {
	f.t.Helper()
	p := f.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// gcc runs gcc in the fixture directory.
func (f *fixture) gcc(args ...string) {
	f.t.Helper()
	cmd := exec.Command("gcc", args...)
	cmd.Dir = f.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		f.t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// lib builds a shared library from C source.
func (f *fixture) lib(out, src string, flags ...string) {
	f.t.Helper()
	c := f.write(strings.TrimSuffix(filepath.Base(out), filepath.Ext(out))+"_"+strings.ReplaceAll(filepath.Dir(out), "/", "_")+".c", src)
	args := append([]string{"-shared", "-fPIC", "-o", out, c}, flags...)
	if err := os.MkdirAll(filepath.Dir(f.path(out)), 0o755); err != nil {
		f.t.Fatal(err)
	}
	f.gcc(args...)
}

// barLib builds libv.so defining bar in version (V3, say): a program
// linked against the V3 build needs a version the V2 build lacks.
func (f *fixture) barLib(version string) {
	f.t.Helper()
	script := f.write(version+".map", version+" { global: bar; local: *; };\n")
	f.lib("libv.so", `int bar(void) { return 3; }`, "-Wl,--version-script="+script, "-Wl,-soname,libv.so")
}

// fooV1V2Lib builds libv.so defining foo twice, foo@V1 (hidden, kept for
// programs linked against an older libv.so) and foo@@V2 (the default),
// with .symver and a version script.
func (f *fixture) fooV1V2Lib() {
	f.t.Helper()
	f.write("v2.map", "V1 { global: foo; local: *; };\nV2 { global: foo; } V1;\n")
	f.lib("libv.so", `
int foo_v1(void) { return 1; }
int foo_v2(void) { return 2; }
__asm__(".symver foo_v1, foo@V1");
__asm__(".symver foo_v2, foo@@V2");
`, "-Wl,--version-script=v2.map", "-Wl,-soname,libv.so")
}

// prog builds an executable from C source.
func (f *fixture) prog(out, src string, flags ...string) string {
	f.t.Helper()
	c := f.write(out+".c", src)
	f.gcc(append([]string{"-o", out, c}, flags...)...)
	return f.path(out)
}

// ldgo runs an ldgo command in-process and returns its output and status.
func ldgo(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	r := ldgoStreams(t, env, args...)
	return r.stdout + r.stderr, r.status
}

// ldgoStreams runs an ldgo command in-process, with env added to the
// environment, and returns what it did. Not for ldgo run, which takes
// over the process (and executes it again when LD_* variables are set).
func ldgoStreams(t *testing.T, env []string, args ...string) result {
	t.Helper()
	if len(args) > 0 && args[0] == "run" {
		t.Fatal("ldgo run in the test process: use the built binary")
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		old, had := os.LookupEnv(k)
		os.Setenv(k, v)
		if had {
			defer os.Setenv(k, old)
		} else {
			defer os.Unsetenv(k)
		}
	}
	var out, errOut bytes.Buffer
	status := run(args, &out, &errOut)
	return result{stdout: out.String(), stderr: errOut.String(), status: status}
}

// glibc runs a command with extra environment and returns stdout+stderr.
func glibc(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, _ := cmd.CombinedOutput()
	return string(out)
}

var address = regexp.MustCompile(` \(0x[0-9a-f]+\)$`)

// listLines keeps the object lines of ldd-style output, addresses removed.
func listLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "\t") {
			lines = append(lines, address.ReplaceAllString(l, ""))
		}
	}
	return lines
}

var pidPrefix = regexp.MustCompile(`^\s*\d+:\s*`)

// glibcBindings is glibc's LD_DEBUG=bindings in trace mode with every
// slot bound now: sorted, unique, pid removed, vDSO and ld.so's own
// relocations dropped.
func glibcBindings(t *testing.T, env []string, prog string) []string {
	t.Helper()
	env = append(env, "LD_TRACE_LOADED_OBJECTS=1", "LD_WARN=yes", "LD_BIND_NOW=yes", "LD_DEBUG=bindings")
	var lines []string
	for _, l := range strings.Split(glibc(t, env, prog), "\n") {
		l = pidPrefix.ReplaceAllString(l, "")
		if !strings.HasPrefix(l, "binding file ") ||
			strings.HasPrefix(l, "binding file linux-vdso.so.1 ") ||
			strings.HasPrefix(l, "binding file /lib64/ld-linux-x86-64.so.2 ") {
			continue
		}
		lines = append(lines, l)
	}
	return sortUnique(lines)
}

func sortUnique(lines []string) []string {
	sort.Strings(lines)
	return slices.Compact(lines)
}

func ldgoBindings(t *testing.T, env []string, args ...string) []string {
	t.Helper()
	out, _ := ldgo(t, env, append([]string{"bindings", "--now"}, args...)...)
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "binding file ") {
			lines = append(lines, l)
		}
	}
	return sortUnique(lines)
}

// problemLines keeps the lines of ldd -r style output that report a
// missing version or an undefined symbol.
func problemLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "version `") || strings.HasPrefix(l, "undefined symbol: ") {
			lines = append(lines, l)
		}
	}
	return sortUnique(lines)
}

func sameLines(t *testing.T, what string, glibcLines, ldgoLines []string) {
	t.Helper()
	if len(glibcLines) == 0 {
		t.Errorf("%s: glibc gave no lines; the fixture does not exercise anything", what)
	}
	if !slices.Equal(glibcLines, ldgoLines) {
		t.Errorf("%s differ\nglibc:\n\t%s\nldgo:\n\t%s", what, strings.Join(glibcLines, "\n\t"), strings.Join(ldgoLines, "\n\t"))
	}
}

// compareAll checks list against ldd and bindings against LD_DEBUG for a
// program, with env applied to both sides.
func compareAll(t *testing.T, env []string, prog string) {
	t.Helper()
	sameLines(t, "list", listLines(glibc(t, env, "ldd", prog)), listLines(mustLdgo(t, env, "list", prog)))
	sameLines(t, "bindings", glibcBindings(t, env, prog), ldgoBindings(t, env, prog))
}

func mustLdgo(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, _ := ldgo(t, env, args...)
	return out
}
