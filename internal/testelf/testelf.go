// Package testelf builds the C fixtures that the engine packages' tests
// load — programs and libraries compiled by gcc in a test's temporary
// directory — and asks glibc's own ld.so about them: their native runs,
// ldd, and LD_DEBUG in trace mode. Tests take their expectations from
// those answers, never from the code under test.
package testelf

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Dir is a directory of fixtures built for one test.
type Dir struct {
	t testing.TB
	// Path is the directory, absolute.
	Path string
}

// New returns an empty fixture directory, or skips the test when there is
// no gcc.
func New(t testing.TB) *Dir {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	return &Dir{t: t, Path: t.TempDir()}
}

// File returns the path of name in the directory.
func (d *Dir) File(name string) string { return filepath.Join(d.Path, name) }

// Write creates the file name, and its directory, with text.
func (d *Dir) Write(name, text string) string {
	d.t.Helper()
	p := d.File(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		d.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		d.t.Fatal(err)
	}
	return p
}

// Build compiles the C source src into out (a path in the directory) with
// gcc and flags, run in the directory, and returns out's path. An out
// ending in ".so" is a shared library (-shared -fPIC). Libraries given as
// -lNAME are searched in the directories flags name with -L, then in the
// directory itself, and linked whether used or not (--no-as-needed), so
// that DT_NEEDED says what the test says.
func (d *Dir) Build(out, src string, flags ...string) string {
	d.t.Helper()
	c := d.Write(out+".c", src)
	args := []string{"-o", d.File(out), c, "-Wl,--no-as-needed"}
	if strings.HasSuffix(out, ".so") {
		args = append([]string{"-shared", "-fPIC"}, args...)
	}
	args = append(append(args, flags...), "-L.")
	d.GCC(args...)
	return d.File(out)
}

// GCC runs gcc with args in the directory.
func (d *Dir) GCC(args ...string) {
	d.t.Helper()
	cmd := exec.Command("gcc", args...)
	cmd.Dir = d.Path
	if out, err := cmd.CombinedOutput(); err != nil {
		d.t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Run runs a program natively, in the directory, with env added to the
// environment, and returns what it wrote to stdout and stderr, with the
// directory's path shortened away (see Short). A failed run is no error:
// what it said is the answer.
func (d *Dir) Run(env []string, prog string, args ...string) string {
	d.t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Dir = d.Path
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		d.t.Fatalf("%s: %v", prog, err)
	}
	return d.Short(string(out))
}

// Lines is Run's output split into lines, the empty last one dropped.
func (d *Dir) Lines(env []string, prog string, args ...string) []string {
	d.t.Helper()
	out := d.Run(env, prog, args...)
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
}

// Short removes the directory's path, and the slash after it, from s:
// glibc names the fixtures by their paths, the tests by their names.
func (d *Dir) Short(s string) string {
	return strings.ReplaceAll(s, d.Path+"/", "")
}

var pid = regexp.MustCompile(`^\s*\d+:\s?`)

// Debug runs prog under glibc's ld.so in trace mode, as ldd -r does
// (LD_TRACE_LOADED_OBJECTS, LD_WARN, every PLT slot bound now), with
// LD_DEBUG=category, and returns the LD_DEBUG lines in order: the pid
// removed, the directory's path shortened away.
func (d *Dir) Debug(env []string, prog, category string) []string {
	d.t.Helper()
	env = append(env, "LD_TRACE_LOADED_OBJECTS=1", "LD_WARN=yes", "LD_BIND_NOW=1", "LD_DEBUG="+category)
	var lines []string
	for _, l := range strings.Split(d.Run(env, prog), "\n") {
		if pid.MatchString(l) {
			lines = append(lines, pid.ReplaceAllString(l, ""))
		}
	}
	return lines
}

// Ldd returns what ldd prints for prog, line by line, the directory's
// path shortened away.
func (d *Dir) Ldd(env []string, prog string, flags ...string) []string {
	d.t.Helper()
	return d.Lines(env, "ldd", append(flags, prog)...)
}
