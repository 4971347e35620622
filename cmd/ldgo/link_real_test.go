package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Real projects linked by ldgo, each against GNU ld: the project's code
// as Debian builds it (its static archives, or the sources a Debian
// package ships) and its own test programs, or a workload that uses
// every part, with the two builds' results compared and checked. A
// project whose Debian package is not installed is skipped, naming the
// package (.ci/run installs them all).

const debianLib = "/usr/lib/x86_64-linux-gnu"

// needFiles skips the test unless every path exists.
func needFiles(t *testing.T, pkg string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s not installed (apt-get install %s): %v", p, pkg, err)
		}
	}
}

// realSources reads files of testdata/real into a fixture's sources.
func realSources(t *testing.T, names ...string) map[string]string {
	t.Helper()
	src := map[string]string{}
	for _, n := range names {
		text, err := os.ReadFile(filepath.Join("testdata", "real", n))
		if err != nil {
			t.Fatal(err)
		}
		src[n] = string(text)
	}
	return src
}

// runInput is run with stdin given.
func (b *linkBuild) runInput(env []string, stdin, prog string, args ...string) result {
	b.t.Helper()
	var rs []result
	for _, l := range linkers {
		cmd := exec.Command(b.path(l, prog), args...)
		cmd.Dir, cmd.Env, cmd.Stdin = b.dir(l), env, strings.NewReader(stdin)
		rs = append(rs, runCommand(b.t, cmd))
	}
	if rs[0] != rs[1] {
		b.t.Errorf("%s linked by ldgo does not do what it does linked by GNU ld\nGNU ld: status %d\nstdout:\n%q\nstderr:\n%s\nldgo: status %d\nstdout:\n%q\nstderr:\n%s",
			prog, rs[0].status, rs[0].stdout, rs[0].stderr, rs[1].status, rs[1].stdout, rs[1].stderr)
	}
	return rs[1]
}

// TestLinkRealZlib links zlib's own test programs, example.c and
// minigzip.c as zlib1g-dev ships them, with Debian's libz.a, with its
// libz.so and fully static, and runs what zlib's `make test` runs.
func TestLinkRealZlib(t *testing.T) {
	examples := "/usr/share/doc/zlib1g-dev/examples"
	needFiles(t, "zlib1g-dev", debianLib+"/libz.a", examples+"/example.c", examples+"/minigzip.c")
	src := map[string]string{}
	for _, n := range []string{"example.c", "minigzip.c"} {
		text, err := os.ReadFile(filepath.Join(examples, n))
		if err != nil {
			t.Fatal(err)
		}
		src[n] = string(text)
	}
	b := newLinkBuild(t, src)
	b.cc("gcc", "-c", "-O2", "example.c", "minigzip.c")
	b.cc("gcc", "-o", "example", "example.o", debianLib+"/libz.a")
	b.cc("gcc", "-o", "minigzip", "minigzip.o", debianLib+"/libz.a")
	b.cc("gcc", "-o", "examplesh", "example.o", "-lz")
	b.cc("gcc", "-o", "minigzipsh", "minigzip.o", "-lz")
	b.cc("gcc", "-static", "-o", "example-static", "example.o", "-lz")
	env := baseEnv()
	for _, prog := range []string{"example", "examplesh", "example-static"} {
		b.check(prog)
		if r := b.run(env, prog); r.status != 0 || !strings.Contains(r.stdout, "inflate with dictionary: hello, hello!") {
			t.Errorf("%s: status %d\n%s%s", prog, r.status, r.stdout, r.stderr)
		}
	}
	// zlib's test: echo hello world | ./minigzip | ./minigzip -d, and a
	// larger input, the ldgo binary, through both.
	big, err := os.ReadFile(buildLdgo(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, prog := range []string{"minigzip", "minigzipsh"} {
		b.check(prog)
		for _, in := range []string{"hello world\n", string(big)} {
			z := b.runInput(env, in, prog)
			out := b.runInput(env, z.stdout, prog, "-d")
			if out.status != 0 || out.stdout != in {
				t.Errorf("%s | %s -d: status %d, %d bytes back of %d\n%s", prog, prog, out.status, len(out.stdout), len(in), out.stderr)
			}
		}
	}
}

// TestLinkRealLua links a Lua host with Debian's liblua5.4.a, exporting
// the Lua API (-E), and a C module as a shared library, each by both
// linkers; the host runs a script that uses every standard library and
// requires the module.
func TestLinkRealLua(t *testing.T) {
	needFiles(t, "liblua5.4-dev", debianLib+"/liblua5.4.a", "/usr/include/lua5.4/lua.h")
	b := newLinkBuild(t, realSources(t, "luahost.c", "luamod.c", "libraries.lua"))
	inc := "-I/usr/include/lua5.4"
	b.cc("gcc", inc, "-O2", "-o", "luahost", "luahost.c", "-Wl,-E", debianLib+"/liblua5.4.a", "-lm")
	b.cc("gcc", inc, "-O2", "-o", "luahost-shared", "luahost.c", "-llua5.4")
	b.cc("gcc", inc, "-O2", "-shared", "-fPIC", "-o", "luamod.so", "luamod.c")
	for _, f := range []string{"luahost", "luahost-shared", "luamod.so"} {
		b.check(f)
	}
	env := baseEnv()
	for _, host := range []string{"luahost", "luahost-shared"} {
		// Each build's host loads its own build's module: the module
		// path is the build directory, the same relative name in both.
		r := b.run(env, host, "libraries.lua", ".")
		if r.status != 0 || !strings.HasSuffix(r.stdout, "all libraries OK\n") {
			t.Errorf("%s libraries.lua: status %d\n%s%s", host, r.status, r.stdout, r.stderr)
		}
	}
	b.runHosted(env, "luahost", "libraries.lua", ".")
}

// TestLinkRealSQLite links a program with Debian's libsqlite3.a, and
// with its libsqlite3.so, that runs a query workload; its rows must be
// the sqlite3 shell's for the same SQL.
func TestLinkRealSQLite(t *testing.T) {
	needFiles(t, "libsqlite3-dev", debianLib+"/libsqlite3.a", "/usr/include/sqlite3.h")
	b := newLinkBuild(t, realSources(t, "sqlrun.c", "workload.sql"))
	b.cc("gcc", "-O2", "-c", "sqlrun.c")
	b.cc("gcc", "-o", "sqlrun", "sqlrun.o", debianLib+"/libsqlite3.a", "-lm")
	b.cc("gcc", "-o", "sqlrun-shared", "sqlrun.o", "-lsqlite3")
	var shell string
	if _, err := exec.LookPath("sqlite3"); err == nil {
		cmd := exec.Command("sqlite3", ":memory:")
		cmd.Stdin = strings.NewReader(realSources(t, "workload.sql")["workload.sql"])
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("sqlite3 :memory: < workload.sql: %v", err)
		}
		shell = string(out)
	} else {
		t.Log("sqlite3 not installed: the rows are compared between the builds only")
	}
	env := baseEnv()
	for _, prog := range []string{"sqlrun", "sqlrun-shared"} {
		b.check(prog)
		r := b.run(env, prog, "workload.sql")
		rows, _, _ := strings.Cut(r.stdout, "sqlite 3.")
		if r.status != 0 || !strings.HasSuffix(rows, "ok\n") || shell != "" && rows != shell {
			t.Errorf("%s workload.sql: status %d\n%s\nthe sqlite3 shell's:\n%s", prog, r.status, r.stdout+r.stderr, shell)
		}
	}
}

var gtestSummary = regexp.MustCompile(`(?m)^\[  (PASSED|FAILED)  \] .*$|^\[==========\] \d+ tests? from \d+ test suites? ran\.`)

// TestLinkRealGoogletest builds googletest from the sources Debian's
// googletest package ships: libgtest.so, linked by each linker, and
// googletest's own unit tests and death tests linked against it; both
// builds must pass them all.
func TestLinkRealGoogletest(t *testing.T) {
	if testing.Short() {
		t.Skip("googletest takes a minute to compile: not with -short")
	}
	g := "/usr/src/googletest/googletest"
	tests := []string{"gtest_unittest", "googletest-death-test-test"}
	needFiles(t, "googletest", g+"/src/gtest-all.cc", g+"/src/gtest_main.cc", g+"/test/gtest_unittest.cc", g+"/test/googletest-death-test-test.cc")
	b := newLinkBuild(t, nil)
	// The objects are compiled once, into obj, and linked by each
	// linker in its own directory.
	obj := filepath.Join(b.root, "obj")
	for _, d := range []string{obj, b.dir("bfd"), b.dir("ldgo")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	compile := func(src, out string, flags ...string) *exec.Cmd {
		args := append([]string{"-O0", "-I" + g + "/include", "-I" + g, "-c", "-o", filepath.Join(obj, out), src}, flags...)
		return exec.Command("g++", args...)
	}
	cmds := []*exec.Cmd{
		compile(g+"/src/gtest-all.cc", "gtest-all.o", "-fPIC"),
		compile(g+"/src/gtest_main.cc", "gtest_main.o"),
	}
	for _, name := range tests {
		cmds = append(cmds, compile(g+"/test/"+name+".cc", name+".o"))
	}
	// Two at a time, as the machine has cores.
	for i := 0; i < len(cmds); i += 2 {
		for _, c := range cmds[i:min(i+2, len(cmds))] {
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range cmds[i:min(i+2, len(cmds))] {
			if err := c.Wait(); err != nil {
				t.Fatalf("%s: %v", strings.Join(c.Args, " "), err)
			}
		}
	}
	b.cc("g++", "-shared", "-o", "libgtest.so", filepath.Join(obj, "gtest-all.o"))
	b.check("libgtest.so")
	env := baseEnv("LD_LIBRARY_PATH=.")
	for _, name := range tests {
		b.cc("g++", "-o", name, filepath.Join(obj, name+".o"), filepath.Join(obj, "gtest_main.o"), "libgtest.so")
		b.check(name)
		var sums []string
		for _, l := range linkers {
			cmd := exec.Command(b.path(l, name))
			cmd.Dir, cmd.Env = b.dir(l), env
			r := runCommand(t, cmd)
			sum := strings.Join(gtestSummary.FindAllString(r.stdout, -1), "\n")
			if r.status != 0 || !strings.Contains(sum, "[  PASSED  ]") || strings.Contains(sum, "FAILED") {
				t.Errorf("%s linked by %s: status %d\n%s\n%s", name, l, r.status, sum, r.stderr)
			}
			t.Logf("%s linked by %s:\n%s", name, l, sum)
			sums = append(sums, sum)
		}
		if sums[0] != sums[1] {
			t.Errorf("%s: GNU ld's build:\n%s\nldgo's:\n%s", name, sums[0], sums[1])
		}
	}
}
