package main

import (
	"os"
	"strings"
	"testing"
)

const libY = `int y(void) { return 2; }`
const libX = `int y(void); int x(void) { return y() + 1; }`
const callX = `int x(void); int main(void) { return x(); }`

// A DT_RPATH serves the objects loaded on behalf of its object too: liby,
// needed by libx, is found through the program's RPATH.
func TestRpathIsInherited(t *testing.T) {
	f := newFixture(t)
	f.lib("deps/liby.so", libY)
	f.lib("x/libx.so", libX, "-Ldeps", "-ly")
	prog := f.prog("prog", callX, "-Lx", "-lx", "-Wl,--disable-new-dtags,-rpath,"+f.path("x")+":"+f.path("deps"))
	compareAll(t, nil, prog)
	tree := mustLdgo(t, nil, "tree", prog)
	if !strings.Contains(tree, "liby.so => "+f.path("deps/liby.so")+"  [RPATH of "+prog) {
		t.Errorf("tree does not credit the program's RPATH for liby.so:\n%s", tree)
	}
}

// A DT_RUNPATH serves only its own object's requests: liby, needed by
// libx, is not found.
func TestRunpathIsNotInherited(t *testing.T) {
	f := newFixture(t)
	f.lib("deps/liby.so", libY)
	f.lib("x/libx.so", libX, "-Ldeps", "-ly")
	prog := f.prog("prog", callX, "-Lx", "-lx", "-Wl,--enable-new-dtags,-rpath,"+f.path("x")+":"+f.path("deps"))
	compareAll(t, nil, prog)
	if out, status := ldgo(t, nil, "verify", prog); status != 1 || !strings.Contains(out, "liby.so => not found (needed by "+f.path("x/libx.so")) {
		t.Errorf("verify: status %d, output:\n%s", status, out)
	}
}

// $ORIGIN is the program's directory. Through a symbolic link, a running
// program's $ORIGIN is the real file's directory, while ldd (which runs
// ld.so with the link as argument) uses the link's: list answers as ldd
// does, bindings as a run does; both are compared with glibc.
func TestOrigin(t *testing.T) {
	f := newFixture(t)
	f.lib("lib/libx.so", `int x(void) { return 1; }`)
	prog := f.prog("bin/prog", callX, "-Llib", "-lx", `-Wl,-rpath,$ORIGIN/../lib`)
	compareAll(t, nil, prog)
	if err := os.MkdirAll(f.path("elsewhere/deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := f.path("elsewhere/deeper/prog")
	if err := os.Symlink(prog, link); err != nil {
		t.Fatal(err)
	}
	compareAll(t, nil, link)
	if !strings.Contains(mustLdgo(t, nil, "list", link), "libx.so => not found") {
		t.Error("list through a link should not find libx.so, as ldd does not")
	}
}

// LD_LIBRARY_PATH, from the environment or --library-path, is searched
// before the cache and system directories.
func TestLibraryPath(t *testing.T) {
	f := newFixture(t)
	f.lib("llp/libx.so", `int x(void) { return 1; }`)
	prog := f.prog("prog", callX, "-Lllp", "-lx")
	env := []string{"LD_LIBRARY_PATH=" + f.path("empty") + "::" + f.path("llp") + "/"}
	compareAll(t, env, prog)
	sameLines(t, "list with --library-path",
		listLines(glibc(t, env, "ldd", prog)),
		listLines(mustLdgo(t, nil, "list", "--library-path", f.path("empty")+"::"+f.path("llp")+"/", prog)))
	if out, status := ldgo(t, nil, "list", prog); status != 0 || !strings.Contains(out, "libx.so => not found") {
		t.Errorf("without LD_LIBRARY_PATH libx.so must be missing: status %d\n%s", status, out)
	}
}

// An LD_PRELOAD object comes first in the global scope and interposes on
// the library's definition.
func TestPreloadInterposes(t *testing.T) {
	f := newFixture(t)
	f.lib("libreal.so", `const char *who(void) { return "real"; }`)
	f.lib("libpre.so", `const char *who(void) { return "preload"; }`)
	prog := f.prog("prog", `const char *who(void); int main(void) { return who()[0]; }`, "-L.", "-lreal", "-Wl,-rpath,"+f.dir)
	env := []string{"LD_PRELOAD=" + f.path("libpre.so")}
	compareAll(t, env, prog)
	want := "binding file " + prog + " [0] to " + f.path("libpre.so") + " [0]: normal symbol `who'"
	if !strings.Contains(strings.Join(ldgoBindings(t, env, prog), "\n"), want) {
		t.Errorf("who is not bound to the preload; want %q", want)
	}
}

// A library can define two versions of one symbol: foo@V1 (hidden, kept
// for old programs) and foo@@V2 (the default). A program linked against
// the old library binds to V1, a new one to V2.
func TestSymbolVersions(t *testing.T) {
	f := newFixture(t)
	f.write("v1.map", "V1 { global: foo; local: *; };\n")
	f.lib("libv.so", `int foo(void) { return 1; }`, "-Wl,--version-script=v1.map", "-Wl,-soname,libv.so")
	old := f.prog("old", `int foo(void); int main(void) { return foo(); }`, "-L.", "-lv", "-Wl,-rpath,"+f.dir)
	f.fooV1V2Lib()
	cur := f.prog("new", `int foo(void); int main(void) { return foo(); }`, "-L.", "-lv", "-Wl,-rpath,"+f.dir)
	for _, p := range []struct{ prog, version string }{{old, "V1"}, {cur, "V2"}} {
		compareAll(t, nil, p.prog)
		want := "to " + f.path("libv.so") + " [0]: normal symbol `foo' [" + p.version + "]"
		if !strings.Contains(strings.Join(ldgoBindings(t, nil, p.prog), "\n"), want) {
			t.Errorf("%s: no binding %q", p.prog, want)
		}
	}
}

// A weak undefined reference with no definition resolves to zero without
// an error: no binding, nothing to report.
func TestWeakUndefined(t *testing.T) {
	f := newFixture(t)
	prog := f.prog("prog", `
extern int maybe(void) __attribute__((weak));
int main(void) { return maybe ? maybe() : 0; }
`)
	compareAll(t, nil, prog)
	if out, status := ldgo(t, nil, "verify", prog); status != 0 || strings.Contains(out, "maybe") {
		t.Errorf("verify: status %d\n%s", status, out)
	}
}

// A protected symbol binds within its library even when referenced
// through the GOT; glibc calls such bindings "protected".
// A non-PIE program exports nothing, so its GNU hash table hashes no
// symbol and says nothing of how many undefined ones there are.
func TestNonPIEProgram(t *testing.T) {
	f := newFixture(t)
	prog := f.prog("prog", `
#include <stdio.h>
int main(void) { puts("hello"); return 0; }
`, "-no-pie")
	compareAll(t, nil, prog)
	if out, status := ldgo(t, nil, "verify", prog); status != 0 {
		t.Errorf("verify: status %d\n%s", status, out)
	}
}

func TestProtected(t *testing.T) {
	f := newFixture(t)
	f.lib("libp.so", `
__attribute__((visibility("protected"))) int pfun(void) { return 1; }
__attribute__((visibility("protected"))) int pvar = 3;
void *pfun_address(void) { return (void *)pfun; }
int *pvar_address(void) { return &pvar; }
`)
	prog := f.prog("prog", `
void *pfun_address(void);
int pfun(void);
int main(void) { return pfun_address() == (void *)pfun; }
`, "-L.", "-lp", "-Wl,-rpath,"+f.dir)
	compareAll(t, nil, prog)
}

// A program that uses a library's variable without PIC gets a copy of it
// (R_X86_64_COPY): the copy's source is looked up past the program, and
// the library's own references bind to the program's copy.
func TestCopyRelocation(t *testing.T) {
	f := newFixture(t)
	f.lib("libc1.so", `int counter = 42; int get(void) { return counter; }`)
	prog := f.prog("prog", `
extern int counter;
int get(void);
int main(void) { return counter + get(); }
`, "-no-pie", "-fno-pic", "-L.", "-lc1", "-Wl,-rpath,"+f.dir)
	compareAll(t, nil, prog)
	lines := strings.Join(ldgoBindings(t, nil, prog), "\n")
	if !strings.Contains(lines, "binding file "+f.path("libc1.so")+" [0] to "+prog+" [0]: normal symbol `counter'") {
		t.Errorf("the library's reference to counter is not bound to the program's copy:\n%s", lines)
	}
}

// A library that is gone is listed as not found, and verify fails.
func TestMissingLibrary(t *testing.T) {
	f := newFixture(t)
	f.lib("libgone.so", `int gone(void) { return 1; }`)
	prog := f.prog("prog", `int gone(void); int main(void) { return gone(); }`, "-L.", "-lgone", "-Wl,-rpath,"+f.dir)
	if err := os.Remove(f.path("libgone.so")); err != nil {
		t.Fatal(err)
	}
	sameLines(t, "list", listLines(glibc(t, nil, "ldd", prog)), listLines(mustLdgo(t, nil, "list", prog)))
	out, status := ldgo(t, nil, "verify", prog)
	if status != 1 || !strings.Contains(out, "libgone.so => not found") || !strings.Contains(out, "tried "+f.path("libgone.so")) {
		t.Errorf("verify: status %d\n%s", status, out)
	}
}

// A library that lost a version the program needs: glibc's message, and
// which symbols need the version.
func TestMissingVersion(t *testing.T) {
	f := newFixture(t)
	f.write("v3.map", "V3 { global: bar; local: *; };\n")
	f.lib("libm3.so", `int bar(void) { return 3; }`, "-Wl,--version-script=v3.map", "-Wl,-soname,libm3.so")
	prog := f.prog("prog", `int bar(void); int main(void) { return bar(); }`, "-L.", "-lm3", "-Wl,-rpath,"+f.dir)
	f.write("v2.map", "V2 { global: bar; local: *; };\n")
	f.lib("libm3.so", `int bar(void) { return 2; }`, "-Wl,--version-script=v2.map", "-Wl,-soname,libm3.so")
	out, status := ldgo(t, nil, "verify", prog)
	sameLines(t, "problems", problemLines(glibc(t, nil, "ldd", "-r", prog)), problemLines(out))
	if status != 1 || !strings.Contains(out, "\tneeded by: bar") {
		t.Errorf("verify: status %d\n%s", status, out)
	}
}

// A library that lost a symbol the program uses.
func TestMissingSymbol(t *testing.T) {
	f := newFixture(t)
	f.lib("libs.so", `int baz(void) { return 1; } int keep(void) { return 0; }`)
	prog := f.prog("prog", `int baz(void); int keep(void); int main(void) { return baz() + keep(); }`, "-L.", "-ls", "-Wl,-rpath,"+f.dir)
	f.lib("libs.so", `int keep(void) { return 0; }`)
	out, status := ldgo(t, nil, "verify", prog)
	sameLines(t, "problems", problemLines(glibc(t, nil, "ldd", "-r", prog)), problemLines(out))
	if status != 1 {
		t.Errorf("verify: status %d\n%s", status, out)
	}
	compareAll(t, nil, prog)
}

// Libraries that need each other are loaded once each, in glibc's order.
func TestDependencyCycle(t *testing.T) {
	f := newFixture(t)
	f.lib("liba.so", `int b(void); int a(void) { return 1; } int use_b(void) { return b(); }`, "-Wl,-soname,liba.so")
	f.lib("libb.so", `int a(void); int b(void) { return a() + 1; }`, "-L.", "-la", "-Wl,-soname,libb.so", "-Wl,-rpath,"+f.dir)
	f.lib("liba.so", `int b(void); int a(void) { return 1; } int use_b(void) { return b(); }`, "-L.", "-lb", "-Wl,-soname,liba.so", "-Wl,-rpath,"+f.dir)
	prog := f.prog("prog", `int use_b(void); int main(void) { return use_b(); }`, "-L.", "-la", "-Wl,-rpath,"+f.dir)
	compareAll(t, nil, prog)
}

// A file found by the search that is not an ELF object stops loading, with
// glibc's message naming the file and the cause.
func TestNotAnObject(t *testing.T) {
	f := newFixture(t)
	f.lib("libbad.so", `int bad(void) { return 1; }`)
	prog := f.prog("prog", `int bad(void); int main(void) { return bad(); }`, "-L.", "-lbad", "-Wl,-rpath,"+f.dir)
	f.write("libbad.so", "this is not an ELF file, but it is long enough to hold a header\n")
	var want string
	for _, l := range strings.Split(glibc(t, nil, "ldd", prog), "\n") {
		if strings.Contains(l, "error while loading shared libraries") {
			want = l
		}
	}
	if want == "" {
		t.Fatal("ldd reported no error")
	}
	out, status := ldgo(t, nil, "list", prog)
	if status == 0 || strings.TrimSpace(out) != want {
		t.Errorf("status %d, output %q; glibc says %q", status, out, want)
	}
}
