package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// What the analysis commands and ldgo run say, and with which status, when
// a program cannot be analysed or loaded: ldd's and ld.so's words and
// statuses, each case run through ldd or glibc in the test.

// inputKind is a file given to the analysis commands.
type inputKind struct {
	name string
	path string
	// traced is set for files ldd traces (lists libraries of); the
	// others it refuses with a message and status 1.
	traced bool
	// oracle is the ldd to compare with: ldd, or a copy restricted to
	// the x86-64 dynamic linker.
	oracle string
	// user runs both sides as another user (a file root can read).
	user *syscall.Credential
}

// inputKinds builds one file of each kind ldd treats apart.
func inputKinds(t *testing.T) []inputKind {
	t.Helper()
	f := newFixture(t)
	kinds := []inputKind{
		{name: "static program", path: f.prog("static", `int main(void) { return 0; }`, "-static")},
		{name: "static PIE", path: f.prog("spie", `int main(void) { return 0; }`, "-static-pie"), traced: true},
		{name: "script", path: f.write("script", "#!/bin/sh\necho a script\n")},
		{name: "text", path: f.write("notes.txt", "plain text, long enough to hold an ELF header, or nearly\n")},
		{name: "directory", path: f.path("subdir")},
		{name: "missing file", path: f.path("missing")},
		{name: "shared object", path: "/lib/x86_64-linux-gnu/libz.so.1", traced: true},
		{name: "dynamic linker", path: "/lib64/ld-linux-x86-64.so.2", traced: true},
	}
	if err := os.Mkdir(f.path("subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.lib("libdep.so", `int dep(void) { return 1; }`, "-Wl,-soname,libdep.so")
	f.lib("plugin.so", `#include <stdio.h>
int dep(void); int plugin(void) { puts("plugin"); return dep(); }`, "-L.", "-ldep", "-Wl,-rpath,"+f.dir)
	kinds = append(kinds, inputKind{name: "plugin", path: f.path("plugin.so"), traced: true})
	f.lib("bare.so", `int bare(void) { return 1; }`, "-nostdlib")
	kinds = append(kinds, inputKind{name: "shared object without DT_NEEDED", path: f.path("bare.so"), traced: true})
	ls, err := os.ReadFile("/usr/bin/ls")
	if err != nil {
		t.Fatal(err)
	}
	kinds = append(kinds, inputKind{name: "truncated ELF", path: f.write("short", string(ls[:100]))})

	// A 32-bit program and library, linked without the 32-bit C library
	// (which need not be installed). With the 32-bit glibc installed ldd
	// traces them with its own ld.so; the oracle is ldd with the x86-64
	// dynamic linker only, the one ldgo stands for.
	if f.builds32() {
		ldd64 := restrictedLdd(t, f)
		f.gcc("-m32", "-shared", "-nostdlib", "-fPIC", "-o", "lib32.so", f.write("lib32.c", "int f32(void) { return 1; }\n"))
		f.gcc("-m32", "-nostdlib", "-o", "prog32", f.write("prog32.c", "int f32(void); void _start(void) { f32(); for (;;); }\n"),
			"-L.", "-l32", "-Wl,-dynamic-linker,/lib/ld-linux.so.2")
		kinds = append(kinds,
			inputKind{name: "32-bit program", path: f.path("prog32"), oracle: ldd64},
			inputKind{name: "32-bit shared object", path: f.path("lib32.so"), oracle: ldd64})
	} else {
		t.Log("gcc -m32 does not work here: no 32-bit case")
	}

	// Root reads any file: the unreadable file is tried as nobody.
	unreadable := inputKind{name: "unreadable file", path: f.path("unreadable")}
	data, err := os.ReadFile(f.prog("dyn", `int main(void) { return 0; }`))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(unreadable.path, data, 0o111); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() == 0 {
		unreadable.user = &syscall.Credential{Uid: 65534, Gid: 65534}
		openToAll(t, f.dir)
	}
	return append(kinds, unreadable)
}

// builds32 reports whether gcc makes 32-bit objects here (the 32-bit C
// library is not needed: the fixtures are linked without it).
func (f *fixture) builds32() bool {
	return exec.Command("gcc", "-m32", "-c", "-o", f.path("probe32.o"), f.write("probe32.c", "int x;\n")).Run() == nil
}

// restrictedLdd writes a copy of ldd that tries the x86-64 dynamic linker
// only.
func restrictedLdd(t *testing.T, f *fixture) string {
	t.Helper()
	src, err := os.ReadFile("/usr/bin/ldd")
	if err != nil {
		t.Skip("ldd not installed")
	}
	re := regexp.MustCompile(`(?m)^RTLDLIST=.*$`)
	if !re.Match(src) {
		t.Fatal("/usr/bin/ldd has no RTLDLIST line")
	}
	out := f.path("ldd64")
	if err := os.WriteFile(out, re.ReplaceAll(src, []byte(`RTLDLIST="/lib64/ld-linux-x86-64.so.2"`)), 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// openToAll lets another user reach dir and the ldgo binary.
func openToAll(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []string{dir, filepath.Dir(dir), filepath.Dir(buildLdgo(t))} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func runAs(t *testing.T, user *syscall.Credential, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = baseEnv()
	if user != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: user}
	}
	return runCommand(t, cmd)
}

// withoutAddresses drops the addresses of ldd-style lines.
func withoutAddresses(s string) string {
	return regexp.MustCompile(` \(0x[0-9a-f]+\)`).ReplaceAllString(s, "")
}

// Each analysis command meets each kind of file as ldd does: the same
// words on stderr and the same status for a file ldd refuses, and for
// list the same lines for a file it traces (a shared object given as the
// program included).
func TestInputKindsAsLdd(t *testing.T) {
	if _, err := exec.LookPath("ldd"); err != nil {
		t.Skip("ldd not installed")
	}
	bin := buildLdgo(t)
	for _, k := range inputKinds(t) {
		t.Run(strings.ReplaceAll(k.name, " ", "_"), func(t *testing.T) {
			oracle := k.oracle
			if oracle == "" {
				oracle = "ldd"
			}
			want := runAs(t, k.user, oracle, k.path)
			if k.traced {
				if want.status != 0 {
					t.Fatalf("ldd did not trace %s: %+v", k.path, want)
				}
				got := runAs(t, k.user, bin, "list", k.path)
				want.stdout, got.stdout = withoutAddresses(want.stdout), withoutAddresses(got.stdout)
				sameResult(t, "list "+k.path, want, got)
				return
			}
			if want.status == 0 || want.stdout != "" || want.stderr == "" {
				t.Fatalf("ldd traced %s: %+v", k.path, want)
			}
			for _, cmd := range []string{"list", "tree", "verify", "bindings"} {
				got := runAs(t, k.user, bin, cmd, k.path)
				w := want
				w.stderr = strings.ReplaceAll(w.stderr, "ldd: ", "ldgo "+cmd+": ")
				sameResult(t, cmd+" "+k.path, w, got)
			}
		})
	}
}

// Several programs are each headed by their name, as ldd heads them; a
// program that fails does not stop the others, and makes the status 1.
func TestSeveralProgramsAsLdd(t *testing.T) {
	if _, err := exec.LookPath("ldd"); err != nil {
		t.Skip("ldd not installed")
	}
	bin := buildLdgo(t)
	f := newFixture(t)
	static := f.prog("static", `int main(void) { return 0; }`, "-static")
	// A missing library is listed, and is no error to ldd.
	f.lib("libgone.so", `int gone(void) { return 1; }`)
	gone := f.prog("gone", `int gone(void); int main(void) { return gone(); }`, "-L.", "-lgone")
	if err := os.Remove(f.path("libgone.so")); err != nil {
		t.Fatal(err)
	}
	for _, progs := range [][]string{
		{"/usr/bin/ls", "/lib/x86_64-linux-gnu/libz.so.1", gone},
		{"/usr/bin/ls", f.path("missing"), static, "/usr/bin/true"},
	} {
		want := runAs(t, nil, "ldd", progs...)
		got := runAs(t, nil, bin, append([]string{"list"}, progs...)...)
		want.stdout, got.stdout = withoutAddresses(want.stdout), withoutAddresses(got.stdout)
		want.stderr = strings.ReplaceAll(want.stderr, "ldd: ", "ldgo list: ")
		sameResult(t, "list "+strings.Join(progs, " "), want, got)
	}
}

// ldgo run exits with ld.so's status for each way loading can fail: 1 for
// a missing version, 127 for the rest; the message is glibc's.
func TestRunLoadErrorStatus(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)

	// A library that lost the version V3 of bar.
	f.barLib("V3")
	version := f.prog("version", `int bar(void); int main(void) { return bar(); }`, "-L.", "-lv", "-Wl,-rpath,"+f.dir)
	f.barLib("V2")

	// A program that needs a glibc newer than this one: its
	// GLIBC_2.34 (__libc_start_main) renamed GLIBC_2.99.
	glibc299 := f.prog("glibc299", `int main(void) { return 0; }`)
	data, err := os.ReadFile(glibc299)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("GLIBC_2.34\x00")) {
		t.Fatal("gcc's program does not need GLIBC_2.34")
	}
	if err := os.WriteFile(glibc299, bytes.ReplaceAll(data, []byte("GLIBC_2.34\x00"), []byte("GLIBC_2.99\x00")), 0o755); err != nil {
		t.Fatal(err)
	}

	// A library that lost a function and a variable.
	f.lib("libs.so", `int fn(void) { return 1; } int var = 2; int keep(void) { return 0; }`, "-Wl,-soname,libs.so")
	call := f.prog("call", `#include <stdlib.h>
int fn(void); int keep(void);
int main(int argc, char **argv) { return argc > 1 ? fn() : keep(); }`, "-L.", "-ls", "-Wl,-rpath,"+f.dir)
	data2 := f.prog("data", `extern int var; int main(void) { return var; }`, "-L.", "-ls", "-Wl,-rpath,"+f.dir)
	f.lib("libs.so", `int keep(void) { return 0; }`, "-Wl,-soname,libs.so")

	// Libraries that are not x86-64 objects.
	f.lib("libbad.so", `int bad(void) { return 1; }`, "-Wl,-soname,libbad.so")
	bad := f.prog("bad", `int bad(void); int main(void) { return bad(); }`, "-L.", "-lbad", "-Wl,-rpath,"+f.dir)
	f.lib("libgone.so", `int gone(void) { return 1; }`)
	gone := f.prog("gone", `int gone(void); int main(void) { return gone(); }`, "-L.", "-lgone", "-Wl,-rpath,"+f.dir)
	if err := os.Remove(f.path("libgone.so")); err != nil {
		t.Fatal(err)
	}

	type step struct {
		name  string
		setup func()
		prog  string
		args  []string
		env   []string
	}
	steps := []step{
		{name: "missing version", prog: version},
		{name: "GLIBC_2.99", prog: glibc299},
		{name: "missing library", prog: gone},
		{name: "undefined function, lazily", prog: call, args: []string{"call"}},
		{name: "undefined function, LD_BIND_NOW", prog: call, env: []string{"LD_BIND_NOW=1"}},
		{name: "undefined variable", prog: data2},
		{name: "library not ELF", prog: bad, setup: func() {
			f.write("libbad.so", "this is not an ELF file, but it is long enough to hold a header\n")
		}},
	}
	if f.builds32() {
		steps = append(steps, step{name: "32-bit library", prog: bad, setup: func() {
			f.gcc("-m32", "-shared", "-nostdlib", "-fPIC", "-o", "libbad.so", f.write("bad32.c", "int bad(void) { return 1; }\n"))
		}})
	}
	for _, s := range steps {
		t.Run(strings.ReplaceAll(s.name, " ", "_"), func(t *testing.T) {
			if s.setup != nil {
				s.setup()
			}
			want := native(t, baseEnv(s.env...), "", s.prog, s.args...)
			if want.status == 0 {
				t.Fatalf("the program runs natively: %+v", want)
			}
			sameResult(t, s.name, want, hosted(t, bin, baseEnv(s.env...), "", s.prog, s.args...))
		})
	}
}

// ldgo bindings says which references bind to nothing, and from which
// object, as ldd -r does, on stderr.
func TestBindingsUnresolved(t *testing.T) {
	f := newFixture(t)
	f.barLib("V3")
	f.lib("libs.so", `int fn(void) { return 1; } int var = 2; int keep(void) { return 0; }`, "-Wl,-soname,libs.so")
	prog := f.prog("prog", `int bar(void); int fn(void); extern int var; int keep(void);
int main(int argc, char **argv) { return argc > 5 ? bar() + fn() + var : keep(); }`, "-L.", "-lv", "-ls", "-Wl,-rpath,"+f.dir)
	f.barLib("V2")
	f.lib("libs.so", `int keep(void) { return 0; }`, "-Wl,-soname,libs.so")

	want := problemLines(glibc(t, nil, "ldd", "-r", prog))
	for _, args := range [][]string{{"bindings", prog}, {"bindings", "--now", prog}} {
		cmd := exec.Command(buildLdgo(t), args...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("%s: %v, want status 1", strings.Join(args, " "), err)
		}
		if got := problemLines(errOut.String()); !slices.Equal(got, want) {
			t.Errorf("%s: stderr\n\t%s\nldd -r says\n\t%s", strings.Join(args, " "), strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
		}
		if !strings.Contains(out.String(), "normal symbol `keep'") {
			t.Errorf("%s: the bindings that resolve are missing:\n%s", strings.Join(args, " "), out.String())
		}
	}
}

// A preload that cannot be loaded is reported in glibc's words and
// ignored by every command, from LD_PRELOAD and from --preload alike.
func TestMissingPreloadIgnored(t *testing.T) {
	f := newFixture(t)
	prog := f.prog("prog", `int main(void) { return 0; }`)
	missing := f.path("nothing.so")
	fromEnv := native(t, baseEnv("LD_PRELOAD="+missing), "", prog)
	fromOption := native(t, baseEnv(), "", "/lib64/ld-linux-x86-64.so.2", "--preload", missing, prog)
	for _, r := range []result{fromEnv, fromOption} {
		if r.status != 0 || !strings.Contains(r.stderr, "cannot be preloaded") {
			t.Fatalf("glibc does not ignore the preload: %+v", r)
		}
	}
	for _, cmd := range []string{"list", "tree", "verify", "bindings"} {
		for _, tc := range []struct {
			env  []string
			args []string
			want string
		}{
			{[]string{"LD_PRELOAD=" + missing}, []string{cmd, prog}, fromEnv.stderr},
			{nil, []string{cmd, "--preload", missing, prog}, fromOption.stderr},
		} {
			got := ldgoStreams(t, tc.env, tc.args...)
			if got.status != 0 || got.stderr != tc.want {
				t.Errorf("%s: status %d, stderr %q; glibc: status 0, %q", strings.Join(tc.args, " "), got.status, got.stderr, tc.want)
			}
		}
	}
}

// The tree labels preloads by where they came from.
func TestTreePreloadLabels(t *testing.T) {
	f := newFixture(t)
	f.lib("libpre.so", `int pre(void) { return 1; }`)
	prog := f.prog("prog", `int main(void) { return 0; }`)
	pre := f.path("libpre.so")
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{[]string{"LD_PRELOAD=" + pre}, []string{"tree", prog}, "── " + pre + "  [LD_PRELOAD]\n"},
		{nil, []string{"tree", "--preload", pre, prog}, "── " + pre + "  [--preload]\n"},
		{nil, []string{"tree", "--preload", "libz.so.1", prog}, "── libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1  [--preload; ld.so.cache]\n"},
		{nil, []string{"tree", "--preload", f.path("nothing.so"), prog}, "── " + f.path("nothing.so") + " => cannot be preloaded ("},
	} {
		out, status := ldgo(t, tc.env, tc.args...)
		if status != 0 || !strings.Contains(out, tc.want) {
			t.Errorf("%s %s: status %d, want %q in\n%s", strings.Join(tc.env, " "), strings.Join(tc.args, " "), status, tc.want, out)
		}
	}
}

// An ldgo built by plain go build or go install (not position
// independent) runs PIE programs, and refuses one linked at fixed
// addresses with a message that says how to rebuild it.
func TestNonPIELdgo(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not available")
	}
	f := newFixture(t)
	plain := f.path("ldgo-exe")
	if out, err := exec.Command("go", "build", "-o", plain, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	pie := f.prog("pie", `#include <stdio.h>
int main(void) { puts("pie"); return 3; }`, "-pie", "-fPIE")
	fixed := f.prog("fixed", `#include <stdio.h>
int main(void) { puts("fixed"); return 4; }`, "-no-pie", "-fno-PIE")
	sameResult(t, "PIE program under a non-PIE ldgo", native(t, baseEnv(), "", pie), hosted(t, plain, baseEnv(), "", pie))
	sameResult(t, "non-PIE program under a PIE ldgo", native(t, baseEnv(), "", fixed), hosted(t, buildLdgo(t), baseEnv(), "", fixed))
	got := hosted(t, plain, baseEnv(), "", fixed)
	for _, want := range []string{fixed + ": error while loading shared libraries: ", "not built position-independent", "`make build`", "`go install -buildmode=pie github.com/ldgo/ldgo/cmd/ldgo@latest`"} {
		if got.status != 127 || !strings.Contains(got.stderr, want) {
			t.Errorf("non-PIE program under a non-PIE ldgo: status %d, stderr %q; want 127 and %q", got.status, got.stderr, want)
		}
	}
	version := runAs(t, nil, plain, "version")
	if !strings.Contains(version.stdout, "-buildmode=exe (programs linked at fixed addresses cannot be run") {
		t.Errorf("ldgo version of a non-PIE ldgo does not say so:\n%s", version.stdout)
	}
}

// ldgo run --list answers as ld.so --list does, without ldd's checks: a
// file it cannot load gets ld.so's message and status 127.
func TestRunListAsLdso(t *testing.T) {
	bin := buildLdgo(t)
	ldso := "/lib64/ld-linux-x86-64.so.2"
	f := newFixture(t)
	f.barLib("V3")
	version := f.prog("version", `int bar(void); int main(void) { return bar(); }`, "-L.", "-lv", "-Wl,-rpath,"+f.dir)
	f.barLib("V2")
	paths := []string{
		f.path("missing"),
		f.write("notes.txt", "plain text, long enough to hold an ELF header, or nearly\n"),
		f.write("script", "#!/bin/sh\necho a script\n"),
		"/lib/x86_64-linux-gnu/libz.so.1",
		version,
	}
	if f.builds32() {
		f.gcc("-m32", "-shared", "-nostdlib", "-fPIC", "-o", "lib32.so", f.write("lib32.c", "int f32(void) { return 1; }\n"))
		paths = append(paths, f.path("lib32.so"))
	}
	for _, p := range paths {
		want := runAs(t, nil, ldso, "--list", p)
		got := runAs(t, nil, bin, "run", "--list", p)
		want.stdout, got.stdout = withoutAddresses(want.stdout), withoutAddresses(got.stdout)
		sameResult(t, "--list "+p, want, got)
	}
}
