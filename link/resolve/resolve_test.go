package resolve_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ldgo/ldgo/link/options"
	"github.com/ldgo/ldgo/link/resolve"
)

// Resolution is tested on gcc-built objects and ar archives; each case's
// expectation is GNU ld's rule for it (in the test's words).

// objects builds C sources into NAME.o, and archives of them.
func objects(t *testing.T, sources map[string]string, archives map[string][]string) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	for name, text := range sources {
		if err := os.WriteFile(filepath.Join(dir, name+".c"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		run("gcc", "-O1", "-fPIC", "-c", name+".c")
	}
	for a, members := range archives {
		run("ar", append([]string{"rcs", a}, members...)...)
	}
	return dir
}

func load(t *testing.T, dir string, args ...string) *resolve.Result {
	t.Helper()
	t.Chdir(dir)
	opts, err := options.Parse(args)
	if err != nil {
		t.Fatal(err)
	}
	res, err := resolve.Load(opts, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func fileNames(res *resolve.Result) string {
	var names []string
	for _, f := range res.Files {
		names = append(names, f.Name)
	}
	return strings.Join(names, " ")
}

// definer names the file that defines name.
func definer(t *testing.T, res *resolve.Result, name string) string {
	t.Helper()
	s := res.Table.Lookup(name)
	switch {
	case s == nil || s.Kind == resolve.Undefined:
		return "undefined"
	case s.Kind == resolve.Shared:
		return filepath.Base(s.Shlib.Path)
	}
	return s.File.Name
}

func TestArchiveExtraction(t *testing.T) {
	dir := objects(t, map[string]string{
		"main":   "int needed(void); int weakly(void) __attribute__((weak)); int main(void) { return needed() + (weakly ? weakly() : 0); }",
		"needed": "int deeper(void); int needed(void) { return deeper(); }",
		"deeper": "int deeper(void) { return 1; }",
		"weakly": "int weakly(void) { return 2; }",
		"unused": "int unused(void) { return 3; }",
	}, map[string][]string{"lib.a": {"needed.o", "deeper.o", "weakly.o", "unused.o"}})
	res := load(t, dir, "main.o", "lib.a")
	// Members that define what is referred to come in, and what they
	// refer to in turn; a weak reference brings in nothing.
	if got, want := fileNames(res), "main.o lib.a(needed.o) lib.a(deeper.o)"; got != want {
		t.Errorf("files %q, want %q", got, want)
	}
	if d := definer(t, res, "weakly"); d != "undefined" {
		t.Errorf("weakly defined by %s", d)
	}
	// --why-extract's table: who brought each member in.
	var why []string
	for _, e := range res.Extractions {
		why = append(why, e.Reference+" "+e.Member+" "+e.Symbol)
	}
	if got, want := strings.Join(why, "; "), "main.o lib.a(needed.o) needed; lib.a(needed.o) lib.a(deeper.o) deeper"; got != want {
		t.Errorf("extractions %q, want %q", got, want)
	}
	// An archive before the object that needs it is not searched again.
	res = load(t, dir, "lib.a", "main.o")
	if got := fileNames(res); got != "main.o" {
		t.Errorf("archive first: files %q", got)
	}
	// -u extracts.
	res = load(t, dir, "-u", "unused", "main.o", "lib.a")
	if d := definer(t, res, "unused"); d != "lib.a(unused.o)" {
		t.Errorf("-u unused: defined by %s", d)
	}
	// --whole-archive takes every member.
	res = load(t, dir, "main.o", "--whole-archive", "lib.a", "--no-whole-archive")
	if n := len(res.Files); n != 5 {
		t.Errorf("--whole-archive: %d files: %s", n, fileNames(res))
	}
}

func TestGroupCycles(t *testing.T) {
	dir := objects(t, map[string]string{
		"main": "int a1(void); int main(void) { return a1(); }",
		"a1":   "int b1(void); int a1(void) { return b1(); }",
		"a2":   "int a2(void) { return 2; }",
		"b1":   "int a2(void); int b1(void) { return a2(); }",
	}, map[string][]string{"liba.a": {"a1.o", "a2.o"}, "libb.a": {"b1.o"}})
	// liba needs libb needs liba: without a group a2 stays undefined.
	res := load(t, dir, "main.o", "liba.a", "libb.a")
	if d := definer(t, res, "a2"); d != "undefined" {
		t.Errorf("without a group, a2 defined by %s", d)
	}
	res = load(t, dir, "main.o", "--start-group", "liba.a", "libb.a", "--end-group")
	if d := definer(t, res, "a2"); d != "liba.a(a2.o)" {
		t.Errorf("in a group, a2 defined by %s", d)
	}
	res = load(t, dir, "main.o", "-(", "liba.a", "libb.a", "-)")
	if d := definer(t, res, "a2"); d != "liba.a(a2.o)" {
		t.Errorf("in -( -), a2 defined by %s", d)
	}
}

func TestDefinitionRules(t *testing.T) {
	dir := objects(t, map[string]string{
		"weak1":   "int v __attribute__((weak)) = 1; int f(void) __attribute__((weak)); int f(void) { return 1; }",
		"strong":  "int v = 2; int f(void) { return 2; }",
		"weak2":   "int v __attribute__((weak)) = 3;",
		"common1": "int __attribute__((common)) c;",
		"common2": "long long __attribute__((common)) c;",
		"inline1": "__attribute__((noinline)) inline int h(void) { return 1; } extern int h(void); int u1(void) { return h(); }",
	}, nil)
	// A strong definition beats weak ones before and after it.
	res := load(t, dir, "weak1.o", "strong.o", "weak2.o")
	for _, name := range []string{"v", "f"} {
		if d := definer(t, res, name); d != "strong.o" {
			t.Errorf("%s defined by %s", name, d)
		}
	}
	// Of weak ones, the first.
	res = load(t, dir, "weak2.o", "weak1.o")
	if d := definer(t, res, "v"); d != "weak2.o" {
		t.Errorf("v defined by %s", d)
	}
	// Common blocks: the largest.
	res = load(t, dir, "common1.o", "common2.o")
	if s := res.Table.Lookup("c"); s.Kind != resolve.Common || s.Size != 8 {
		t.Errorf("common c: kind %v size %d", s.Kind, s.Size)
	}
	// Two strong definitions are an error naming both.
	res = load(t, dir, "strong.o", "strong.o")
	var msgs []string
	for _, d := range res.Diagnostics {
		msgs = append(msgs, d.Error())
	}
	if all := strings.Join(msgs, "\n"); !strings.Contains(all, "strong.o:(.data+0x0): multiple definition of `v'; strong.o:(.data+0x0): first defined here") ||
		!strings.Contains(all, "strong.o: in function `f':\nstrong.c:(.text+0x0): multiple definition of `f'; strong.o:strong.c:(.text+0x0): first defined here") {
		t.Errorf("diagnostics:\n%s", all)
	}
}

func TestAsNeeded(t *testing.T) {
	dir := objects(t, map[string]string{
		"main": "#include <math.h>\nint main(void) { return 0; }",
		"uses": "#include <math.h>\ndouble g(double x) { return cos(x); }",
	}, nil)
	res := load(t, dir, "main.o", "--as-needed", "-lm", "-lc")
	if n := len(res.Shlibs); n != 0 {
		t.Errorf("--as-needed: %d libraries kept, none referred to", n)
	}
	res = load(t, dir, "main.o", "--no-as-needed", "-lm")
	if n := len(res.Shlibs); n != 1 || res.Shlibs[0].NeededName != "libm.so.6" {
		t.Errorf("--no-as-needed: libraries %v", res.Shlibs)
	}
	res = load(t, dir, "uses.o", "--push-state", "--as-needed", "-lm", "--pop-state", "-lc")
	if d := definer(t, res, "cos"); d != "libm.so.6" {
		t.Errorf("cos defined by %s", d)
	}
	// -Bstatic finds libm.a instead.
	res = load(t, dir, "uses.o", "-Bstatic", "-lm", "-Bdynamic")
	if d := definer(t, res, "cos"); !strings.HasPrefix(d, "/usr/lib/x86_64-linux-gnu/libm") || !strings.Contains(d, ".a(") {
		t.Errorf("-Bstatic: cos defined by %s", d)
	}
}

// TestLinkerScriptInput reads libc.so, Debian's GNU ld script: GROUP of
// libc.so.6, libc_nonshared.a and AS_NEEDED(ld.so).
func TestLinkerScriptInput(t *testing.T) {
	dir := objects(t, map[string]string{"main": "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }"}, nil)
	res := load(t, dir, "main.o", "-lc")
	var libs []string
	for _, l := range res.Shlibs {
		libs = append(libs, l.NeededName)
	}
	if strings.Join(libs, " ") != "libc.so.6" {
		t.Errorf("libraries %v, want libc.so.6 (ld.so only as needed)", libs)
	}
	if d := definer(t, res, "puts"); d != "libc.so.6" {
		t.Errorf("puts defined by %s", d)
	}
}
