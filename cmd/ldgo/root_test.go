package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// --root DIR analyses a program inside a tree as its own ld.so would see
// it after chroot DIR: checked against ldd run in the tree, and with
// decoys outside the tree that a reader following the tree's paths and
// links on the host would find instead.

// rootTree is a tree (bash, ldd, glibc, made by ldgo bundle) holding a
// program /app/prog whose every library is found by a rule that leads
// outside the tree when followed on the host: a RUNPATH naming a host
// directory, an absolute link, a relative link climbing past the top, a
// DT_NEEDED path, plus a library only the tree's ld.so.cache knows and
// one its /etc/ld.so.preload names. Outside the tree, at the paths those
// rules name on the host, are decoys needing libDECOY.so.
type rootTree struct {
	dir   string // the tree
	decoy string // the host directory of the decoys, named in the tree
}

func newRootTree(t *testing.T) *rootTree {
	t.Helper()
	f := newFixture(t)
	rt := &rootTree{dir: t.TempDir(), decoy: f.path("decoy")}
	if got := ldgoStreams(t, nil, "bundle", "--to", rt.dir, "/bin/bash", "--also", "/usr/bin/ldd"); got.status != 0 {
		t.Fatalf("ldgo bundle: %+v", got)
	}
	libs := map[string]string{ // path under decoy: SONAME
		"run/librun.so": "librun.so",
		"libabs.so.1":   "libabs.so.1",
		"libdot.so.1":   "libdot.so.1",
		"libpath.so":    "",
		"libcached.so":  "libcached.so",
		"libpre.so":     "libpre.so",
	}
	build := func(extra ...string) {
		for name, soname := range libs {
			flags := extra
			if soname != "" {
				flags = append([]string{"-Wl,-soname," + soname}, extra...)
			}
			fn := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(name), ".1"), ".so")
			f.lib("decoy/"+name, "int "+fn+"(void) { return 1; }", flags...)
		}
	}
	build()
	prog := f.prog("prog", `int librun(void), libabs(void), libdot(void), libpath(void), libcached(void);
int main(void) { return librun() + libabs() + libdot() + libpath() + libcached() - 5; }`,
		"-Ldecoy/run", "-Ldecoy", "-lrun", "-l:libabs.so.1", "-l:libdot.so.1", "-lcached", rt.decoy+"/libpath.so",
		"-Wl,-rpath,"+rt.decoy+"/run", "-Wl,--enable-new-dtags")

	// The genuine libraries go in the tree, where its paths lead there.
	place := func(from, to string) {
		t.Helper()
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		to = filepath.Join(rt.dir, to)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	place(prog, "/app/prog")
	for _, name := range []string{"run/librun.so", "libabs.so.1", "libdot.so.1", "libpath.so"} {
		place(filepath.Join(rt.decoy, name), filepath.Join(rt.decoy, name))
	}
	place(filepath.Join(rt.decoy, "libcached.so"), "/opt/cached/libcached.so")
	place(filepath.Join(rt.decoy, "libpre.so"), "/opt/pre/libpre.so")
	libdir := filepath.Join(rt.dir, "usr/lib/x86_64-linux-gnu")
	if err := os.Symlink(filepath.Join(rt.decoy, "libabs.so.1"), filepath.Join(libdir, "libabs.so.1")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(strings.Repeat("../", 12)+rt.decoy[1:]+"/libdot.so.1", filepath.Join(libdir, "libdot.so.1")); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"etc/ld.so.conf": "/opt/cached\n", "etc/ld.so.preload": "/opt/pre/libpre.so\n"} {
		place("/dev/null", name)
		if err := os.WriteFile(filepath.Join(rt.dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ldconfig, err := exec.LookPath("ldconfig")
	if err != nil {
		ldconfig = "/sbin/ldconfig"
	}
	if out, err := exec.Command(ldconfig, "-X", "-r", rt.dir).CombinedOutput(); err != nil {
		t.Fatalf("ldconfig -r %s: %v\n%s", rt.dir, err, out)
	}

	// The decoys: the same libraries, needing one that is nowhere.
	f.lib("libDECOY.so", "int decoy;")
	build("-L.", "-Wl,--no-as-needed", "-lDECOY")
	os.Remove(f.path("libDECOY.so"))
	return rt
}

func TestRootAgainstLddInTree(t *testing.T) {
	needChroot(t)
	rt := newRootTree(t)
	const prog = "/app/prog"
	sameAsLdd(t, rt.dir, prog)
	list := mustLdgo(t, nil, "list", "--root", rt.dir, prog)
	for _, want := range []string{"\t/opt/pre/libpre.so (", "\tlibcached.so => /opt/cached/libcached.so (", "\tlibrun.so => " + rt.decoy + "/run/librun.so ("} {
		if !strings.Contains(list, want) {
			t.Errorf("ldgo list --root: no %q:\n%s", want, list)
		}
	}
	if strings.Contains(list, "DECOY") {
		t.Errorf("ldgo list --root read a decoy:\n%s", list)
	}
	tree := ldgoStreams(t, nil, "tree", "--root", rt.dir, prog)
	for _, want := range []string{
		"libcached.so => /opt/cached/libcached.so  [ld.so.cache]",
		"librun.so => " + rt.decoy + "/run/librun.so  [RUNPATH of " + prog + ": " + rt.decoy + "/run/]",
		"/opt/pre/libpre.so  [/etc/ld.so.preload]",
	} {
		if !strings.Contains(tree.stdout, want) {
			t.Errorf("ldgo tree --root: no %q:\n%s", want, tree.stdout)
		}
	}
	if got := ldgoStreams(t, nil, "verify", "--root", rt.dir, prog); got.status != 0 {
		t.Errorf("ldgo verify --root: %+v", got)
	}
	// bundle --root copies from the tree, and says which library the
	// new tree lacks the cache for.
	to := t.TempDir()
	bundle := ldgoStreams(t, nil, "bundle", "--root", rt.dir, "--to", to, prog)
	if warning := "ldgo bundle: warning: libcached.so was found through ld.so.cache in /opt/cached/, which is not a system directory"; bundle.status != 0 || !strings.HasPrefix(bundle.stderr, warning) || !strings.Contains(bundle.stdout, "copied /opt/cached/libcached.so\n") {
		t.Errorf("ldgo bundle --root: %+v", bundle)
	}
	for _, name := range []string{"run/librun.so", "libabs.so.1", "libdot.so.1", "libpath.so"} {
		genuine, _ := os.ReadFile(filepath.Join(rt.dir, rt.decoy, name))
		copied, err := os.ReadFile(filepath.Join(to, rt.decoy, name))
		if err != nil || !bytes.Equal(copied, genuine) {
			t.Errorf("ldgo bundle --root: %s is not the tree's (%v)", name, err)
		}
	}
	// The decoys are there to be found by a reader that follows the
	// tree's paths on the host.
	naive := mustLdgo(t, nil, "list", "--library-path", filepath.Join(rt.dir, "usr/lib/x86_64-linux-gnu"), filepath.Join(rt.dir, prog))
	if n := strings.Count(naive, "libDECOY.so => not found"); n == 0 {
		t.Errorf("no decoy found outside the tree:\n%s", naive)
	}
}

func TestRootErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want result
	}{
		{[]string{"list", "--root", dir + "/none", "/bin/true"}, result{stderr: "ldgo list: --root: " + dir + "/none: No such file or directory\n", status: 1}},
		{[]string{"list", "--root", dir, "/bin/true"}, result{stderr: "ldgo list: /bin/true: No such file or directory\n", status: 1}},
		{[]string{"tree", "--root", dir, "--json", "/bin/true"}, result{stdout: "{\n  \"schema\": 1,\n  \"command\": \"tree\",\n  \"program\": \"/bin/true\",\n  \"error\": \"/bin/true: No such file or directory\"\n}\n", stderr: "ldgo tree: /bin/true: No such file or directory\n", status: 1}},
	} {
		if got := ldgoStreams(t, nil, tc.args...); got != tc.want {
			t.Errorf("ldgo %s: %+v, want %+v", strings.Join(tc.args, " "), got, tc.want)
		}
	}
}

// Under strace, every file ldgo names once it has opened the tree is
// opened through the tree's descriptor with RESOLVE_IN_ROOT, or is a
// descriptor so opened. What happens before is ldgo's own start: glibc's
// ld.so loading ldgo's libc, the Go runtime reading /proc and /sys.
func TestRootReadsNothingOutside(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace not installed")
	}
	needChroot(t) // the tree is made by bundle, as root
	rt := newRootTree(t)
	bin := buildLdgo(t)
	for _, args := range [][]string{
		{"list", "/app/prog"},
		{"tree", "/app/prog"},
		{"bindings", "/app/prog"},
		{"verify", "/app/prog"},
		{"bundle", "--to", t.TempDir(), "/app/prog"},
	} {
		trace := filepath.Join(t.TempDir(), "trace")
		argv := append([]string{"-f", "-y", "-o", trace, "-e", "trace=open,openat,openat2,creat,stat,lstat,newfstatat,statx,readlink,readlinkat,access,faccessat,faccessat2,execve", bin, args[0], "--root", rt.dir}, args[1:]...)
		if out, err := exec.Command(strace, argv...).CombinedOutput(); err != nil && !strings.Contains(string(out), "exited with") {
			t.Logf("strace ldgo %s: %v", strings.Join(args, " "), err)
		}
		text, err := os.ReadFile(trace)
		if err != nil {
			t.Fatal(err)
		}
		if bad := outsideRoot(string(text), rt.dir, args[0] == "bundle"); len(bad) > 0 {
			t.Errorf("ldgo %s --root %s: outside the tree:\n%s", args[0], rt.dir, strings.Join(bad, "\n"))
		}
	}
}

var (
	straceCall  = regexp.MustCompile(`^\d+ +(\w+)\((.*)$`)
	straceFdArg = regexp.MustCompile(`^(AT_FDCWD|\d+)(<([^>]*)>)?, "([^"]*)"`)
)

// outsideRoot returns the traced calls, after the tree is opened, that
// name a file other than through the tree. Bundle also writes to its
// --to tree, opened the same way: allowDst accepts a second tree.
func outsideRoot(trace, dir string, allowDst bool) []string {
	var bad []string
	opened := false
	trees := map[string]bool{dir: true}
	for _, line := range strings.Split(trace, "\n") {
		m := straceCall.FindStringSubmatch(line)
		if m == nil || strings.Contains(line, "resumed>") {
			continue
		}
		call, args := m[1], m[2]
		if !opened {
			opened = call == "openat" && strings.Contains(args, `"`+dir+`", O_RDONLY|O_CLOEXEC|O_PATH|O_DIRECTORY`)
			continue
		}
		a := straceFdArg.FindStringSubmatch(args)
		inTree := func(p string) bool { return trees[p] || isUnder(p, trees) }
		switch {
		case a == nil:
			bad = append(bad, line) // a path without a directory
		case call == "openat2" && inTree(a[3]) && strings.Contains(args, "RESOLVE_IN_ROOT"):
		case a[4] == "" && a[1] != "AT_FDCWD" && inTree(a[3]):
			// fstat or readlink of a descriptor in the tree.
		case allowDst && len(trees) == 1 && call == "openat" && a[1] == "AT_FDCWD" && strings.Contains(args, "O_PATH|O_DIRECTORY"):
			trees[a[4]] = true // the --to tree
		case allowDst && call == "openat" && a[1] != "AT_FDCWD" && !strings.HasPrefix(a[4], "/") && inTree(a[3]):
			// A file made in a directory of the --to tree.
		default:
			bad = append(bad, line)
		}
	}
	if !opened {
		bad = append(bad, "the tree "+dir+" was never opened")
	}
	return bad
}

func isUnder(p string, trees map[string]bool) bool {
	for t := range trees {
		if strings.HasPrefix(p, t+"/") {
			return true
		}
	}
	return false
}
