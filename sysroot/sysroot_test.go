package sysroot

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// tree makes a directory tree whose links lead out of it when followed
// on the host: absolute ones, relative ones climbing past the top. Beside
// it, outside, is a decoy at the path those links name.
func tree(t *testing.T) (dir, outside string) {
	t.Helper()
	base := t.TempDir()
	dir, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{dir + "/usr/lib", dir + outside, outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		dir + "/usr/lib/libc.so.6.real": "genuine",
		dir + outside + "/file":         "genuine",
		outside + "/file":               "decoy",
	}
	for name, text := range files {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"lib":                 "usr/lib",
		"usr/lib/libc.so.6":   "/lib/libc.so.6.real",
		"abs":                 outside + "/file",
		"climb":               strings.Repeat("../", 8) + outside[1:] + "/file",
		"usr/lib/climbdir":    "../../../../..",
		"loop1":               "loop2",
		"loop2":               "/loop1",
		"dangling":            "/nowhere",
		"usr/lib/chain":       "../../lib/libc.so.6",
		"usr/lib/dirlink":     "/usr",
		"usr/lib/file-as-dir": "libc.so.6.real/x",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir, outside
}

// kernelResolve is where the kernel's RESOLVE_IN_ROOT takes name: the
// path of the descriptor it opens, under dir.
func kernelResolve(t *testing.T, r *Root, name string) (string, error) {
	fd, err := r.open(name, unix.O_PATH)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		t.Fatal(err)
	}
	if p == r.Dir {
		return "/", nil
	}
	rel, ok := strings.CutPrefix(p, r.Dir+"/")
	if !ok {
		t.Fatalf("%s: the kernel went outside the tree, to %s", name, p)
	}
	return "/" + rel, nil
}

// Resolve agrees with the kernel on every path, the links that lead out
// of the tree included, and neither leaves it.
func TestResolveAgreesWithKernel(t *testing.T) {
	dir, outside := tree(t)
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, name := range []string{
		"/lib/libc.so.6", "lib/libc.so.6", "/abs", "/climb", "/usr/lib/climbdir/lib/libc.so.6",
		"/../../..", "/usr/../../lib", "/usr/lib/chain", "/usr/lib/dirlink/lib/chain", "/lib/./libc.so.6",
		"//usr///lib/", "/loop1", "/dangling", "/usr/lib/file-as-dir", outside + "/file",
	} {
		want, kerr := kernelResolve(t, r, name)
		got, err := r.Resolve(name, nil)
		switch {
		case kerr != nil:
			if err == nil || !errors.Is(err, kerr) {
				t.Errorf("Resolve(%q) = %q, %v; the kernel says %v", name, got, err, kerr)
			}
		case err != nil || got != want:
			t.Errorf("Resolve(%q) = %q, %v; the kernel says %q", name, got, err, want)
		}
	}
	for _, name := range []string{"/abs", "/climb", outside + "/file"} {
		if b, err := r.ReadFile(name); err != nil || string(b) != "genuine" {
			t.Errorf("ReadFile(%q) = %q, %v", name, b, err)
		}
	}
}

// Resolve reports each link on the way, as written, with its own path.
func TestResolveVisitsLinks(t *testing.T) {
	dir, _ := tree(t)
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var seen []string
	got, err := r.Resolve("/usr/lib/chain", func(link, target string) error {
		seen = append(seen, link+" -> "+target)
		return nil
	})
	want := []string{"/usr/lib/chain -> ../../lib/libc.so.6", "/lib -> usr/lib", "/usr/lib/libc.so.6 -> /lib/libc.so.6.real", "/lib -> usr/lib"}
	if err != nil || got != "/usr/lib/libc.so.6.real" || !slices.Equal(seen, want) {
		t.Errorf("Resolve: %q, %v, links %q; want /usr/lib/libc.so.6.real, links %q", got, err, seen, want)
	}
}

// A nil Root is the host: the same answers as the standard library's.
func TestHost(t *testing.T) {
	dir, _ := tree(t)
	var r *Root
	for _, name := range []string{dir + "/lib/libc.so.6", dir + "/usr/lib/chain", dir + "/usr/lib/dirlink"} {
		want, werr := filepath.EvalSymlinks(name)
		got, err := r.Resolve(name, nil)
		if (werr == nil) != (err == nil) || got != want {
			t.Errorf("Resolve(%q) = %q, %v; EvalSymlinks: %q, %v", name, got, err, want, werr)
		}
	}
	if _, err := Open(dir + "/missing"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("Open of a missing directory: %v", err)
	}
	if _, err := Open(dir + "/usr/lib/libc.so.6.real"); !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("Open of a file: %v", err)
	}
}

// A FIFO in a tree does not stop its reader.
func TestFIFO(t *testing.T) {
	dir, _ := tree(t)
	if err := unix.Mkfifo(dir+"/fifo", 0o644); err != nil {
		t.Skip(err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.ReadFile("/fifo"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("ReadFile of a FIFO: %v", err)
	}
	if _, err := r.OpenObject("/fifo"); err == nil {
		t.Errorf("OpenObject of a FIFO succeeded")
	}
}
