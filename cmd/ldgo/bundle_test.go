package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The trees ldgo bundle makes are run for real: chroot DIR PROG (this
// needs root) must do what PROG does outside, and ldd run inside the tree
// must list what ldgo list --root lists.

// needChroot skips a test that runs programs in a tree with chroot, or
// returns the paths of the tools: chroot, unshare, mount.
func needChroot(t *testing.T) []string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("chroot needs root")
	}
	var paths []string
	for _, tool := range []string{"chroot", "unshare", "mount"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skip(tool + " not installed")
		}
		paths = append(paths, p)
	}
	return paths
}

// inChroot runs PROG ARGS in the tree dir, as a container runtime would:
// with /proc mounted there (glibc finds the program's $ORIGIN in
// /proc/self/exe; without it, RUNPATH $ORIGIN/... is dropped), in a
// mount namespace of its own that goes away with it.
func inChroot(t *testing.T, dir string, args ...string) result {
	t.Helper()
	tools := needChroot(t)
	if err := os.MkdirAll(filepath.Join(dir, "proc"), 0o555); err != nil {
		t.Fatal(err)
	}
	script := tools[2] + ` -t proc proc "$0/proc" && exec ` + tools[0] + ` "$0" "$@"`
	return runAs(t, nil, tools[1], append([]string{"-m", "/bin/sh", "-c", script, dir}, args...)...)
}

// versionedApp builds a program in app/bin that finds its library through
// RUNPATH $ORIGIN/../lib, by the SONAME link libver.so.1 ->
// libver.so.1.2.3.
func versionedApp(t *testing.T, f *fixture) string {
	t.Helper()
	f.lib("app/lib/libver.so.1.2.3", `int ver(void) { return 123; }`, "-Wl,-soname,libver.so.1")
	for link, target := range map[string]string{"app/lib/libver.so.1": "libver.so.1.2.3", "app/lib/libver.so": "libver.so.1"} {
		if err := os.Symlink(target, f.path(link)); err != nil {
			t.Fatal(err)
		}
	}
	return f.prog("app/bin/hello", "#include <stdio.h>\nint ver(void);\nint main(void) { printf(\"ver %d\\n\", ver()); return 0; }\n",
		"-Lapp/lib", "-lver", "-Wl,-rpath,$ORIGIN/../lib", "-Wl,--enable-new-dtags")
}

// sameAsLdd checks ldgo list --root against ldd inside the tree.
func sameAsLdd(t *testing.T, dir, prog string) {
	t.Helper()
	ldd := inChroot(t, dir, "/usr/bin/ldd", prog)
	if ldd.status != 0 {
		t.Fatalf("chroot %s ldd %s: %+v", dir, prog, ldd)
	}
	sameLines(t, "ldgo list --root "+dir+" "+prog+" and ldd in the tree", listLines(ldd.stdout), listLines(mustLdgo(t, nil, "list", "--root", dir, prog)))
}

func TestBundleRunsInChroot(t *testing.T) {
	needChroot(t)
	f := newFixture(t)
	hello := versionedApp(t, f)
	dir := t.TempDir()
	// ldd is a bash script: bash and ldd go in too, to check the tree
	// from inside.
	got := ldgoStreams(t, nil, "bundle", "--to", dir, "/usr/bin/ls", hello, "/bin/bash", "--also", "/usr/bin/ldd")
	if got.status != 0 || got.stderr != "" {
		t.Fatalf("ldgo bundle: %+v", got)
	}
	for _, want := range []string{"copied /usr/bin/ls\n", "copied " + f.path("app/lib/libver.so.1.2.3") + "\n", "linked " + f.path("app/lib/libver.so.1") + " -> libver.so.1.2.3\n", "copied /usr/bin/ldd\n"} {
		if !strings.Contains(got.stdout, want) {
			t.Errorf("ldgo bundle said no %q:\n%s", want, got.stdout)
		}
	}

	// The links on the way are the host's, made again.
	for _, link := range []string{"/lib", "/lib64", "/bin", f.path("app/lib/libver.so.1")} {
		want, err := os.Readlink(link)
		if err != nil {
			continue // not a link on this machine
		}
		if got, err := os.Readlink(filepath.Join(dir, link)); err != nil || got != want {
			t.Errorf("%s in the tree: %q, %v; want a link to %q", link, got, err, want)
		}
	}

	// The programs run in the tree as outside it.
	inside := inChroot(t, dir, "/usr/bin/ls", "/")
	native := runAs(t, nil, "/usr/bin/ls", dir)
	if inside != native || native.status != 0 {
		t.Errorf("chroot %s ls /: %+v\nls %s: %+v", dir, inside, dir, native)
	}
	native = runAs(t, nil, hello)
	if inside := inChroot(t, dir, hello); inside != native || native.stdout != "ver 123\n" {
		t.Errorf("chroot %s %s: %+v\nnative: %+v", dir, hello, inside, native)
	}
	for _, prog := range []string{"/usr/bin/ls", hello, "/bin/bash"} {
		sameAsLdd(t, dir, prog)
	}

	// Again: nothing new, nothing said.
	again := ldgoStreams(t, nil, "bundle", "--to", dir, "/usr/bin/ls", hello, "/bin/bash", "--also", "/usr/bin/ldd")
	if want := (result{stdout: "/usr/bin/ls:\n" + hello + ":\n/bin/bash:\n"}); again != want {
		t.Errorf("ldgo bundle again: %+v, want %+v", again, want)
	}
	doc := decodeDocuments(t, ldgoStreams(t, nil, "bundle", "--json", "--to", dir, hello).stdout)
	if len(doc) != 1 {
		t.Fatalf("ldgo bundle --json: %d documents", len(doc))
	}
	files, _ := doc[0]["files"].([]any)
	if len(files) == 0 {
		t.Errorf("ldgo bundle --json: no files: %v", doc[0])
	}
	for _, e := range files {
		if e := e.(map[string]any); e["added"] != nil {
			t.Errorf("ldgo bundle --json again added %v", e)
		}
	}

	// A file of the tree that differs is not overwritten.
	lib := filepath.Join(dir, f.path("app/lib/libver.so.1.2.3"))
	if err := os.WriteFile(lib, []byte("not the library"), 0o644); err != nil {
		t.Fatal(err)
	}
	refused := ldgoStreams(t, nil, "bundle", "--to", dir, hello)
	want := "ldgo bundle: " + lib + ": exists and differs from " + f.path("app/lib/libver.so.1.2.3") + ": not overwritten\n"
	if refused.status != 1 || refused.stderr != want {
		t.Errorf("ldgo bundle over a changed file: %+v, want status 1 and %q", refused, want)
	}
	if b, _ := os.ReadFile(lib); string(b) != "not the library" {
		t.Errorf("the changed file was overwritten")
	}
}

// A program whose library is missing is not copied: its tree would not
// run.
func TestBundleMissingLibrary(t *testing.T) {
	f := newFixture(t)
	f.lib("libgone.so", `int gone(void) { return 1; }`)
	prog := f.prog("prog", `int gone(void); int main(void) { return gone(); }`, "-L.", "-lgone")
	os.Remove(f.path("libgone.so"))
	dir := t.TempDir()
	got := ldgoStreams(t, nil, "bundle", "--to", dir, prog)
	want := prog + ": error while loading shared libraries: libgone.so: cannot open shared object file: No such file or directory\nldgo bundle: " + prog + ": nothing copied\n"
	if got.status != 1 || got.stderr != want || got.stdout != "" {
		t.Errorf("ldgo bundle: %+v, want status 1 and %q", got, want)
	}
	if names, _ := os.ReadDir(dir); len(names) != 0 {
		t.Errorf("the tree has %v", names)
	}
	if got := ldgoStreams(t, nil, "bundle", prog); got.status != exitUsage || !strings.Contains(got.stderr, "missing --to DIR") {
		t.Errorf("ldgo bundle without --to: %+v", got)
	}
}

// A library found by a rule the tree does not have (LD_LIBRARY_PATH) is
// copied, with a warning.
func TestBundleWarnsLibraryPath(t *testing.T) {
	f := newFixture(t)
	f.lib("lib/libhere.so", `int here(void) { return 0; }`)
	prog := f.prog("prog", `int here(void); int main(void) { return here(); }`, "-Llib", "-lhere")
	dir := t.TempDir()
	got := ldgoStreams(t, nil, "bundle", "--to", dir, "--library-path", f.path("lib"), prog)
	want := "ldgo bundle: warning: libhere.so was found through --library-path (" + f.path("lib") + "/): the program in " + dir + " finds it only with the same path\n"
	if got.status != 0 || got.stderr != want || !strings.Contains(got.stdout, "copied "+f.path("lib/libhere.so")+"\n") {
		t.Errorf("ldgo bundle --library-path: %+v, want the warning %q", got, want)
	}
}

// --also copies a directory with all it holds, links made again, but not
// the tree being made, when it is inside.
func TestBundleAlsoDirectory(t *testing.T) {
	src := t.TempDir()
	for name, text := range map[string]string{"data/a.txt": "a", "data/sub/b.txt": "b"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("sub/b.txt", filepath.Join(src, "data/link")); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(src, "image")
	got := ldgoStreams(t, nil, "bundle", "--to", dir, "--also", src, "/usr/bin/true")
	if got.status != 0 || got.stderr != "" {
		t.Fatalf("ldgo bundle: %+v", got)
	}
	for name, want := range map[string]string{"data/a.txt": "a", "data/sub/b.txt": "b", "data/link": "b"} {
		if b, err := os.ReadFile(filepath.Join(dir, src, name)); err != nil || string(b) != want {
			t.Errorf("%s in the tree: %q, %v", name, b, err)
		}
	}
	if target, err := os.Readlink(filepath.Join(dir, src, "data/link")); err != nil || target != "sub/b.txt" {
		t.Errorf("data/link in the tree: %q, %v", target, err)
	}
	if st, err := os.Stat(filepath.Join(dir, src, "data/a.txt")); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("data/a.txt in the tree: %v, %v", st.Mode(), err)
	}
	if _, err := os.Lstat(filepath.Join(dir, src, "image")); err == nil {
		t.Errorf("the tree was copied into itself")
	}
}

// glibc loads libgcc_s.so.1 for pthread_exit, though nothing names it:
// the tree has it, and without it the program dies as glibc says.
func TestBundleLibgccS(t *testing.T) {
	needChroot(t)
	f := newFixture(t)
	prog := f.prog("exits", `#include <pthread.h>
#include <stdio.h>
static void *run(void *arg) { pthread_exit(arg); return 0; }
int main(void) {
	pthread_t t; void *v;
	pthread_create(&t, 0, run, "exited");
	pthread_join(t, &v);
	puts(v);
	return 0;
}
`, "-pthread")
	dir := t.TempDir()
	got := ldgoStreams(t, nil, "bundle", "--json", "--to", dir, prog)
	docs := decodeDocuments(t, got.stdout)
	if got.status != 0 || len(docs) != 1 {
		t.Fatalf("ldgo bundle: %+v", got)
	}
	var gcc string
	for _, e := range docs[0]["files"].([]any) {
		if e := e.(map[string]any); e["reason"] == "libgcc_s" && e["link"] == nil {
			gcc = e["path"].(string)
		}
	}
	if gcc == "" {
		t.Fatalf("no libgcc_s in %s", got.stdout)
	}
	native := runAs(t, nil, prog)
	if inside := inChroot(t, dir, prog); inside != native || native.stdout != "exited\n" {
		t.Errorf("chroot %s %s: %+v\nnative: %+v", dir, prog, inside, native)
	}
	if err := os.Remove(filepath.Join(dir, gcc)); err != nil {
		t.Fatal(err)
	}
	if without := inChroot(t, dir, prog); !strings.Contains(without.stderr, "libgcc_s.so.1 must be installed for pthread_exit to work") {
		t.Errorf("chroot %s %s without %s: %+v", dir, prog, gcc, without)
	}
}

// python3 with its standard library (given by --also) runs in its tree.
func TestBundlePython(t *testing.T) {
	needChroot(t)
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skip("no " + python)
	}
	stdlib, err := exec.Command(python, "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	got := ldgoStreams(t, nil, "bundle", "--to", dir, python, "/bin/bash", "--also", "/usr/bin/ldd", "--also", strings.TrimSpace(string(stdlib)))
	if got.status != 0 || got.stderr != "" {
		t.Fatalf("ldgo bundle: %+v", got)
	}
	script := "import json, sys; print(sys.version, json.dumps([1, 2]))"
	native := runAs(t, nil, python, "-I", "-c", script)
	if inside := inChroot(t, dir, python, "-I", "-c", script); inside != native || native.status != 0 {
		t.Errorf("chroot %s python3: %+v\nnative: %+v", dir, inside, native)
	}
	sameAsLdd(t, dir, python)
	if lines := strings.Split(got.stdout, "\n"); !slices.ContainsFunc(lines, func(l string) bool { return strings.HasSuffix(l, "/libgcc_s.so.1") }) {
		t.Errorf("python3 calls pthread_exit, but libgcc_s.so.1 was not copied")
	}
}
