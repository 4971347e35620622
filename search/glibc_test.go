package search

// Helpers that ask the real glibc of this machine (ld.so, ldconfig, gcc's
// output run under ld.so) what it does, so that the tests compare ldgo with
// glibc rather than with hand-written expectations.

import (
	"bytes"
	"debug/elf"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ldgo/ldgo/object"
)

// ldso is the program interpreter of every program gcc builds here.
const ldso = "/lib64/ld-linux-x86-64.so.2"

// fixture is a temporary directory where gcc builds test objects.
type fixture struct {
	t   *testing.T
	dir string // absolute, without symbolic links: $ORIGIN as glibc sees it
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	if _, err := os.Stat(ldso); err != nil {
		t.Skip("no glibc ld.so:", err)
	}
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, dir: dir}
}

func (f *fixture) path(rel string) string { return filepath.Join(f.dir, rel) }

func (f *fixture) mkdir(rel string) string {
	f.t.Helper()
	p := f.path(rel)
	if err := os.MkdirAll(p, 0o755); err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) write(rel string, data []byte) string {
	f.t.Helper()
	p := f.path(rel)
	f.mkdir(filepath.Dir(rel))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// Objects compiled once per test binary; linking them is cheap.
var (
	objOnce           sync.Once
	objDir            string
	libObj, progObj   string
	objErr            error
	objCompileOutputs []byte
)

func compileObjects() error {
	objOnce.Do(func() {
		objDir, objErr = os.MkdirTemp("", "ldgo-search-obj")
		if objErr != nil {
			return
		}
		libObj = filepath.Join(objDir, "lib.o")
		progObj = filepath.Join(objDir, "prog.o")
		src := map[string]string{
			libObj:  "int ldgo_search_lib(void) { return 1; }\n",
			progObj: "int main(void) { return 0; }\n",
		}
		for obj, text := range src {
			c := strings.TrimSuffix(obj, ".o") + ".c"
			if objErr = os.WriteFile(c, []byte(text), 0o644); objErr != nil {
				return
			}
			cmd := exec.Command("gcc", "-c", "-fPIC", "-o", obj, c)
			if objCompileOutputs, objErr = cmd.CombinedOutput(); objErr != nil {
				return
			}
		}
	})
	return objErr
}

func TestMain(m *testing.M) {
	code := m.Run()
	if objDir != "" {
		os.RemoveAll(objDir)
	}
	os.Exit(code)
}

func (f *fixture) gcc(args ...string) {
	f.t.Helper()
	if err := compileObjects(); err != nil {
		f.t.Fatalf("gcc: %v\n%s", err, objCompileOutputs)
	}
	cmd := exec.Command("gcc", args...)
	cmd.Dir = f.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		f.t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// lib links a shared library at rel with the given SONAME ("" for none);
// flags may name other libraries to depend on.
func (f *fixture) lib(rel, soname string, flags ...string) string {
	f.t.Helper()
	f.mkdir(filepath.Dir(rel))
	if err := compileObjects(); err != nil {
		f.t.Fatalf("gcc: %v\n%s", err, objCompileOutputs)
	}
	args := []string{"-shared", "-o", f.path(rel), libObj}
	if soname != "" {
		args = append(args, "-Wl,-soname,"+soname)
	}
	f.gcc(append(args, append([]string{"-Wl,--no-as-needed"}, flags...)...)...)
	return f.path(rel)
}

// prog links a program at rel; flags name the libraries it needs.
func (f *fixture) prog(rel string, flags ...string) string {
	f.t.Helper()
	f.mkdir(filepath.Dir(rel))
	if err := compileObjects(); err != nil {
		f.t.Fatalf("gcc: %v\n%s", err, objCompileOutputs)
	}
	f.gcc(append([]string{"-o", f.path(rel), progObj, "-Wl,--no-as-needed"}, flags...)...)
	return f.path(rel)
}

// copy copies the file src to rel, optionally changing it.
func (f *fixture) copy(src, rel string, edit func([]byte)) string {
	f.t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		f.t.Fatal(err)
	}
	if edit != nil {
		edit(data)
	}
	return f.write(rel, data)
}

// elfClass32 marks an object as 32-bit, which is all glibc's open_verify
// needs to skip it as "of the other class".
func elfClass32(data []byte) { data[4] = 1 }

// ldSearch is one library search as LD_DEBUG=libs reports it.
type ldSearch struct {
	name     string
	neededBy string   // the object whose DT_NEEDED it is; "" for none
	lines    []string // from "find library=" to the blank line, no pid
}

// tried returns the "trying file=" paths of the search.
func (s *ldSearch) tried() []string {
	var out []string
	for _, l := range s.lines {
		if p, ok := strings.CutPrefix(l, "  trying file="); ok {
			out = append(out, p)
		}
	}
	return out
}

// cacheResult returns what the ld.so.cache lookup of the search gave: the
// path glibc tried right after " search cache=", or "" for none. ok is
// false when the cache was not consulted.
func (s *ldSearch) cacheResult() (path string, ok bool) {
	for i, l := range s.lines {
		if strings.HasPrefix(l, " search cache=") {
			if i+1 < len(s.lines) {
				if p, ok := strings.CutPrefix(s.lines[i+1], "  trying file="); ok {
					return p, true
				}
			}
			return "", true
		}
	}
	return "", false
}

// ldRun is what glibc reported for one program run in list mode.
type ldRun struct {
	searches []*ldSearch
	// libs maps each name ldd lists to the paths it was loaded from, ""
	// for "not found", in the order of the list: a name that is not
	// found for one object is searched for again for the next.
	libs           map[string][]string
	stdout, stderr string
	exitErr        error
}

var (
	debugLine = regexp.MustCompile(`^ *[0-9]+:\t(.*)$`)
	lddLine   = regexp.MustCompile(`^\t(.*) => (.*?)(?: \(0x[0-9a-f]+\))?$`)
)

// runLD runs argv with only env in its environment, plus LD_DEBUG=libs,files
// and LD_TRACE_LOADED_OBJECTS=1 so that ld.so maps the libraries and lists
// them, as ldd does, without running anything. dir is its working directory
// ("" for the test's).
func runLD(t *testing.T, dir string, env []string, argv ...string) *ldRun {
	t.Helper()
	env = append(slices.Clip(env), "LD_DEBUG=libs,files", "LD_TRACE_LOADED_OBJECTS=1")
	return runDebug(t, dir, env, argv...)
}

func runDebug(t *testing.T, dir string, env []string, argv ...string) *ldRun {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	run := &ldRun{libs: make(map[string][]string)}
	run.exitErr = cmd.Run()
	run.stdout, run.stderr = stdout.String(), stderr.String()
	neededBy := ""
	var cur *ldSearch
	for _, raw := range strings.Split(run.stderr, "\n") {
		m := debugLine.FindStringSubmatch(raw)
		if m == nil {
			continue
		}
		l := m[1]
		if cur != nil {
			cur.lines = append(cur.lines, l)
			if l == "" {
				cur = nil
			}
			continue
		}
		if rest, ok := strings.CutPrefix(l, "file="); ok {
			if _, by, ok := strings.Cut(rest, "];  needed by "); ok {
				neededBy = strings.TrimSuffix(by, " [0]")
			}
			continue
		}
		if rest, ok := strings.CutPrefix(l, "find library="); ok {
			name, _, _ := strings.Cut(rest, " [")
			cur = &ldSearch{name: name, neededBy: neededBy, lines: []string{l}}
			run.searches = append(run.searches, cur)
			neededBy = ""
		}
	}
	for _, l := range strings.Split(run.stdout, "\n") {
		if m := lddLine.FindStringSubmatch(l); m != nil {
			path := m[2]
			if path == "not found" {
				path = ""
			}
			run.libs[m[1]] = append(run.libs[m[1]], path)
		}
	}
	return run
}

func (r *ldRun) search(name string) *ldSearch {
	for _, s := range r.searches {
		if s.name == name {
			return s
		}
	}
	return nil
}

// originOf is $ORIGIN of an object loaded from path, as glibc's
// _dl_new_object computes it: the directory part, not cleaned.
func originOf(path string) string {
	i := strings.LastIndexByte(path, '/')
	switch {
	case i < 0:
		wd, _ := os.Getwd()
		return wd
	case i == 0:
		return "/"
	}
	return path[:i]
}

// mainRequester describes the program at path (as run) for a Searcher.
func mainRequester(t *testing.T, path string) *Requester {
	t.Helper()
	f, err := object.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(real)
	if err != nil {
		t.Fatal(err)
	}
	return &Requester{Name: path, Origin: filepath.Dir(abs), Dyn: &f.Dyn, IsMain: true}
}

// replay repeats with a Searcher, in glibc's order and with the same
// requesters, every search glibc reported, and checks that each one prints
// the same LD_DEBUG=libs lines, tries the same files and ends with the same
// result as glibc's. It returns the results by name.
func replay(t *testing.T, run *ldRun, cfg Config, main *Requester) map[string]*Found {
	t.Helper()
	if len(run.searches) == 0 {
		t.Fatalf("glibc reported no search:\n%s%s", run.stdout, run.stderr)
	}
	var lines []string
	cfg.Debug = func(l string) { lines = append(lines, l) }
	s, err := New(cfg, main)
	if err != nil {
		t.Fatal(err)
	}
	reqs := map[string]*Requester{main.Name: main}
	results := make(map[string]*Found)
	libs := maps.Clone(run.libs)
	for _, gs := range run.searches {
		req := reqs[gs.neededBy]
		if gs.neededBy != "" && req == nil {
			t.Fatalf("%s is needed by %s, which ldgo did not load", gs.name, gs.neededBy)
		}
		lines = nil
		found, err := s.Find(gs.name, req)
		if d := diffLines(gs.lines, lines); d != "" {
			t.Errorf("LD_DEBUG=libs lines for %s differ from glibc's:\n%s", gs.name, d)
		}
		var want string
		if l := libs[gs.name]; len(l) > 0 {
			want, libs[gs.name] = l[0], l[1:]
		} else {
			t.Errorf("ldd did not list %s", gs.name)
		}
		wantTried := gs.tried()
		if req != nil && req.Dyn != nil && req.Dyn.Flags1&elf.DF_1_NODEFLIB != 0 {
			// glibc prints the cache's answer before rejecting it for a
			// DF_1_NODEFLIB requester; it opens nothing.
			if p, ok := gs.cacheResult(); ok && p != "" {
				i := slices.Index(wantTried, p)
				wantTried = slices.Delete(wantTried, i, i+1)
			}
		}
		switch {
		case err == nil:
			t.Cleanup(func() { found.File.Close() })
			results[gs.name] = found
			if found.Path != want {
				t.Errorf("%s: ldgo found %s by %v, glibc %q", gs.name, found.Path, found.Rule, want)
			}
			if d := diffLines(wantTried, append(slices.Clone(found.Tried), found.Path)); d != "" {
				t.Errorf("%s: the files ldgo tried differ from glibc's: %s", gs.name, d)
			}
			reqs[found.Path] = &Requester{Name: found.Path, Origin: originOf(found.Path), Dyn: &found.File.Dyn, Loader: req}
		default:
			nf, ok := err.(*NotFoundError)
			if !ok {
				t.Errorf("%s: %v", gs.name, err)
				continue
			}
			if want != "" {
				t.Errorf("%s: ldgo did not find it (%v), glibc found %s", gs.name, err, want)
			}
			if d := diffLines(wantTried, nf.Tried); d != "" {
				t.Errorf("%s: the files ldgo tried differ from glibc's: %s", gs.name, d)
			}
		}
	}
	return results
}

// diffLines describes the first difference between glibc's lines and
// ldgo's, or returns "".
func diffLines(want, got []string) string {
	for i := 0; i < max(len(want), len(got)); i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g || i >= len(want) || i >= len(got) {
			// Long lines: show them from a little before they part.
			j := 0
			for j < len(w) && j < len(g) && w[j] == g[j] {
				j++
			}
			if j > 150 {
				w, g = "..."+w[j-100:], "..."+g[j-100:]
			}
			return fmt.Sprintf("line %d:\nglibc: %q\nldgo:  %q", i+1, w, g)
		}
	}
	return ""
}
