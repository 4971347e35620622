package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ldgo/ldgo/lookup"
)

var fromCache = regexp.MustCompile(`ldgo: bindings from the bind cache: (\d+)`)

// cachedRun runs prog under ldgo with statistics and returns the result
// and how many bindings came from the bind cache.
func cachedRun(t *testing.T, bin string, env []string, prog string, args ...string) (result, int) {
	t.Helper()
	r := runCmd(t, env, "", bin, append([]string{"run", "--debug", "statistics", prog}, args...)...)
	m := fromCache.FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no bind cache statistics in:\n%s", r.stderr)
	}
	n, _ := strconv.Atoi(m[1])
	return r, n
}

// The bind cache: a second run over the same objects binds from the
// cache, exactly as the first; a replaced or touched library, another
// LD_LIBRARY_PATH or LD_PRELOAD, or a damaged cache file mean it is not
// used, and the program still runs as it should.
func TestRunBindCache(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	cache := t.TempDir()
	libSource := `
#include <stdio.h>
int counter = 3;
const char *greeting(void) { return "hello"; }
int next(void) { return ++counter; }
`
	f.lib("libcached.so", libSource)
	prog := f.prog("cached", `
#include <stdio.h>
const char *greeting(void);
int next(void);
extern int counter;
int main(void) { printf("%s %d %d\n", greeting(), next(), counter); return 0; }
`, "-L.", "-lcached", "-Wl,-rpath,"+f.dir)
	lib := f.path("libcached.so")
	env := func(extra ...string) []string {
		return engineEnv(append([]string{"XDG_CACHE_HOME=" + cache}, extra...)...)
	}
	want := native(t, engineEnv(), "", prog)

	check := func(what string, env []string, wantCached bool) {
		t.Helper()
		got, n := cachedRun(t, bin, env, prog)
		if got.stdout != want.stdout || got.status != want.status {
			t.Errorf("%s: output differs from native: %+v", what, got)
		}
		if wantCached != (n > 0) {
			t.Errorf("%s: %d bindings from the cache, want cached=%v", what, n, wantCached)
		}
	}
	check("first run", env(), false)
	files, _ := filepath.Glob(filepath.Join(cache, "ldgo", "bindings", "*"))
	if len(files) != 1 {
		t.Fatalf("want one cache entry, got %v", files)
	}
	check("second run", env(), true)

	// The same bindings, in the same order, cold and cached.
	strip := func(s string) string { return pidColumn.ReplaceAllString(s, "") }
	cold := runCmd(t, env("LD_DEBUG=bindings"), "", bin, "run", "--no-bind-cache", prog)
	warm := runCmd(t, env("LD_DEBUG=bindings"), "", bin, "run", prog)
	if !strings.Contains(cold.stderr, "binding file "+prog) {
		t.Fatalf("no bindings printed:\n%s", cold.stderr)
	}
	if strip(cold.stderr) != strip(warm.stderr) {
		t.Errorf("LD_DEBUG=bindings differs between a cold and a cached run:\ncold:\n%s\ncached:\n%s", cold.stderr, warm.stderr)
	}

	// A cached run searches no scope, yet LD_DEBUG=symbols shows the
	// searches each binding stands for, as a cold run makes them, the
	// PLT slots' at their first call included. (--debug, not LD_DEBUG,
	// which glibc's ld.so also obeys when it starts ldgo itself.)
	coldSym := runCmd(t, env(), "", bin, "run", "--debug", "symbols", "--no-bind-cache", prog)
	warmSym := runCmd(t, env(), "", bin, "run", "--debug", "symbols", prog)
	if !strings.Contains(coldSym.stderr, "symbol=greeting;  lookup in file="+lib) {
		t.Fatalf("a cold run printed no search of greeting in %s:\n%s", lib, coldSym.stderr)
	}
	if strip(coldSym.stderr) != strip(warmSym.stderr) || warmSym.stdout != want.stdout {
		t.Errorf("LD_DEBUG=symbols differs between a cold and a cached run:\ncold:\n%s\ncached (output %q):\n%s", coldSym.stderr, warmSym.stdout, warmSym.stderr)
	}

	check("another LD_LIBRARY_PATH", env("LD_LIBRARY_PATH=/nonexistent"), false)
	// Binding now relocates in another order: an entry of its own.
	check("LD_BIND_NOW", env("LD_BIND_NOW=1"), false)
	check("LD_BIND_NOW again", env("LD_BIND_NOW=1"), true)
	f.lib("libempty.so", `int unused_function(void) { return 0; }`)
	check("another LD_PRELOAD", env("LD_PRELOAD="+f.path("libempty.so")), false)

	later := time.Now().Add(2 * time.Second)
	if err := os.Chtimes(lib, later, later); err != nil {
		t.Fatal(err)
	}
	check("touched library", env(), false)
	check("after the touched library's run", env(), true)

	f.lib("libcached.so", "int extra_first(void) { return 1; }\n"+libSource)
	check("replaced library", env(), false)
	check("after the replaced library's run", env(), true)

	files, _ = filepath.Glob(filepath.Join(cache, "ldgo", "bindings", "[0-9a-f]*"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0x40
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	check("damaged cache file", env(), false)
	check("after the damaged file's run", env(), true)

	// Another build of ldgo (here another file with the same bytes) does
	// not trust this one's entries.
	other := filepath.Join(t.TempDir(), "ldgo")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, n := cachedRun(t, other, env(), prog); n != 0 || got.stdout != want.stdout {
		t.Errorf("another ldgo executable: %d bindings from the cache, output %+v", n, got)
	}

	off := t.TempDir()
	for _, e := range [][]string{
		engineEnv("XDG_CACHE_HOME="+off, "LDGO_BIND_CACHE=off"),
	} {
		if _, n := cachedRun(t, bin, e, prog); n != 0 {
			t.Errorf("cache off: %d bindings from the cache", n)
		}
	}
	r := runCmd(t, engineEnv("XDG_CACHE_HOME="+off), "", bin, "run", "--no-bind-cache", prog)
	if r.stdout != want.stdout {
		t.Errorf("--no-bind-cache: %+v", r)
	}
	if files, _ := filepath.Glob(filepath.Join(off, "ldgo", "bindings", "*")); len(files) != 0 {
		t.Errorf("cache off, yet entries written: %v", files)
	}
}

// Runs that start together, none finding an entry, each write one: every
// run binds as it should, and what is left is one whole entry (each is
// written to a file of its own and renamed into place), which the next
// run uses.
func TestRunBindCacheConcurrentWriters(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libshared.so", `int twice(int x) { return 2 * x; }`)
	prog := f.prog("writers", `
#include <stdio.h>
int twice(int);
int main(void) { printf("%d\n", twice(21)); return 0; }
`, "-L.", "-lshared", "-Wl,-rpath,"+f.dir)
	cache := t.TempDir()
	env := engineEnv("XDG_CACHE_HOME=" + cache)
	const runs = 8
	results := make(chan result, runs)
	for i := 0; i < runs; i++ {
		go func() {
			cmd := exec.Command(bin, "run", prog)
			cmd.Env = env
			out, err := cmd.Output()
			results <- result{stdout: string(out), status: map[bool]int{true: 1, false: 0}[err != nil]}
		}()
	}
	for i := 0; i < runs; i++ {
		if r := <-results; r.stdout != "42\n" || r.status != 0 {
			t.Errorf("concurrent run %d: %+v", i, r)
		}
	}
	entries, _ := filepath.Glob(filepath.Join(cache, "ldgo", "bindings", "*"))
	temps, _ := filepath.Glob(filepath.Join(cache, "ldgo", "bindings", ".tmp-*"))
	if len(entries) != 1 || len(temps) != 0 {
		t.Fatalf("after %d concurrent runs: entries %v, temporary files %v; want one entry", runs, entries, temps)
	}
	if got, n := cachedRun(t, bin, env, prog); n == 0 || got.stdout != "42\n" {
		t.Errorf("run after the concurrent ones: %d bindings from the cache, %+v", n, got)
	}
}

// cacheEntry runs prog once with the cache in cache and returns the path
// of the one entry that run wrote.
func cacheEntry(t *testing.T, bin string, env []string, cache, prog string) string {
	t.Helper()
	if _, n := cachedRun(t, bin, env, prog); n != 0 {
		t.Fatalf("first run: %d bindings from an empty cache", n)
	}
	files, _ := filepath.Glob(filepath.Join(cache, "ldgo", "bindings", "*"))
	if len(files) != 1 {
		t.Fatalf("want one cache entry, got %v", files)
	}
	return files[0]
}

// A file at an entry's path that ldgo did not write for the user is not
// read, and a FIFO there does not make the run wait for a writer: an
// entry is opened without blocking, and used only if it is a regular
// file of the user's that nobody else may write.
func TestRunBindCacheUntrustedFiles(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libfifo.so", `int seven(void) { return 7; }`)
	prog := f.prog("fifo", `
#include <stdio.h>
int seven(void);
int main(void) { printf("%d\n", seven()); return 0; }
`, "-L.", "-lfifo", "-Wl,-rpath,"+f.dir)
	want := native(t, engineEnv(), "", prog)
	cache := t.TempDir()
	env := engineEnv("XDG_CACHE_HOME=" + cache)
	entry := cacheEntry(t, bin, env, cache, prog)
	good := readFile(t, entry)
	elsewhere := filepath.Join(t.TempDir(), "entry")
	if err := os.WriteFile(elsewhere, good, 0o600); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name  string
		place func() error
	}{
		{"FIFO", func() error { return syscall.Mkfifo(entry, 0o600) }},
		{"group-writable", func() error {
			if err := os.WriteFile(entry, good, 0o600); err != nil {
				return err
			}
			return os.Chmod(entry, 0o620)
		}},
		{"world-writable", func() error {
			if err := os.WriteFile(entry, good, 0o600); err != nil {
				return err
			}
			return os.Chmod(entry, 0o602)
		}},
		{"symbolic link", func() error { return os.Symlink(elsewhere, entry) }},
		{"directory", func() error { return os.Mkdir(entry, 0o700) }},
	} {
		os.RemoveAll(entry)
		if err := c.place(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, bin, "run", "--debug", "statistics", prog)
		cmd.Env = env
		got := runCommand(t, cmd)
		timedOut := ctx.Err() != nil
		cancel()
		if timedOut {
			t.Errorf("%s at the entry's path: the run did not end in 30 s", c.name)
			continue
		}
		m := fromCache.FindStringSubmatch(got.stderr)
		if got.stdout != want.stdout || got.status != want.status || m == nil {
			t.Errorf("%s at the entry's path: %+v; want %+v", c.name, got, want)
		} else if m[1] != "0" {
			t.Errorf("%s at the entry's path: %s bindings read from it", c.name, m[1])
		}
	}
}

// Runs in parallel, some writing the entry and all reading it, while the
// entry is replaced again and again by damaged copies of itself
// (truncated, a bit flipped, empty: what a crash or a full disk leaves):
// every run prints what the native run prints.
func TestRunBindCacheDamagedWhileRunning(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libdamaged.so", countLib)
	prog := f.prog("damaged", countProg, "-L.", "-ldamaged", "-Wl,-rpath,"+f.dir, "-pthread")
	want := native(t, engineEnv(), "", prog)
	cache := t.TempDir()
	env := engineEnv("XDG_CACHE_HOME=" + cache)
	entry := cacheEntry(t, bin, env, cache, prog)
	good := readFile(t, entry)

	damaged := [][]byte{nil, good[:len(good)/2], good[:len(good)-1], good[:len(good)-lookup.RecordSize]}
	for _, at := range []int{0, 20, len(good) / 2, len(good) - 2} {
		b := bytes.Clone(good)
		b[at] ^= 0x10
		damaged = append(damaged, b)
	}
	damaged = append(damaged, good)

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tmp := filepath.Join(filepath.Dir(entry), "damage.tmp")
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := os.WriteFile(tmp, damaged[i%len(damaged)], 0o600); err == nil {
				os.Rename(tmp, entry)
			}
			if i%4 == 0 {
				// Now and then no entry: the next run writes one.
				os.Remove(entry)
			}
			time.Sleep(time.Millisecond)
		}
	}()

	const parallel, rounds = 4, 6
	results := make(chan result, parallel*rounds)
	var wg sync.WaitGroup
	for i := 0; i < parallel; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < rounds; j++ {
				cmd := exec.Command(bin, "run", prog)
				cmd.Env = env
				results <- runCommand(t, cmd)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-done
	close(results)
	i := 0
	for got := range results {
		if got != want {
			t.Errorf("run %d: %+v; native %+v", i, got, want)
		}
		i++
	}
}
