package lookup_test

import (
	"debug/elf"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/internal/testelf"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/namespace"
	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/reloc"
)

// The fixtures are gcc-built programs and libraries, loaded by the engine
// over their files as the analysis commands load them; the lookups are
// the ones their relocations make. What each must find comes from
// glibc: the native run of the same program (whose definitions say who
// they are) or its LD_DEBUG=bindings lines.

// loaded is a fixture program loaded by the engine.
type loaded struct {
	t    *testing.T // where failures go: a subtest sets itself
	d    *testelf.Dir
	ns   *namespace.Namespace
	prog string
}

// load loads prog and what it needs, libraries searched in libDir first
// (as LD_LIBRARY_PATH does for glibc).
func load(t *testing.T, d *testelf.Dir, prog, libDir string) *loaded {
	t.Helper()
	a, err := analyze.Load(prog, analyze.Options{LibraryPath: libDir, PreloadFile: "-"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	if a.Err != nil {
		t.Fatal(a.Err)
	}
	return &loaded{t: t, d: d, ns: a.NS, prog: prog}
}

// loadAndRun loads prog as load does, with the fixture directory as the
// library path, and asks glibc about it with the same path: what the
// program prints run natively (with env added), and glibc's
// LD_DEBUG=bindings lines.
func loadAndRun(t *testing.T, d *testelf.Dir, prog string, env ...string) (l *loaded, native string, glibc []string) {
	t.Helper()
	path := "LD_LIBRARY_PATH=" + d.Path
	return load(t, d, prog, d.Path), d.Run(append(env, path), prog), d.Debug([]string{path}, prog, "bindings")
}

// object returns the loaded object named name: a library's file name, or
// the program's.
func (l *loaded) object(name string) *linkmap.Map {
	l.t.Helper()
	for _, m := range l.ns.Chain {
		if filepath.Base(m.DisplayName(l.prog)) == name && !m.Faked {
			return m
		}
	}
	l.t.Fatalf("no object %s loaded", name)
	return nil
}

// lookedUp is the answer of a lookup, the binding it reported as glibc's
// LD_DEBUG=bindings line ("" for none, and for lookups by name), and the
// warnings it gave.
type lookedUp struct {
	res      lookup.Result
	err      error
	line     string
	warnings string
}

// reference looks up the symbol that obj's relocation of type typ
// against name refers to, in obj's scope and in the relocation's lookup
// class: the lookup relocating obj makes.
func (l *loaded) reference(obj, name string, typ elf.R_X86_64) lookedUp {
	l.t.Helper()
	m := l.object(obj)
	idx, ok := relocationSymbol(m, name, typ)
	if !ok {
		l.t.Fatalf("%s has no %v relocation against %s", obj, typ, name)
	}
	ref := m.Obj.Symbol(idx)
	var req lookup.Request
	lookup.ReferenceRequest(&req, m, idx, &ref, reloc.Class(typ))
	return l.search(m.Scope, &req)
}

// search looks req up in scope.
func (l *loaded) search(scope [][]*linkmap.Map, req *lookup.Request) lookedUp {
	var got lookedUp
	l.ns.Linker.OnBind = func(b lookup.Binding) {
		if b.Ref == nil {
			return // a lookup by name: glibc reports none
		}
		version := ""
		if b.Version != nil {
			version = b.Version.Name
		}
		got.line = lookup.BindingLine(l.d.Short(b.Ref.DisplayName(l.prog)), l.d.Short(b.Def.DisplayName(l.prog)), b.Name, version, b.Protected)
	}
	l.ns.Linker.Warn = func(format string, args ...any) {
		got.warnings += l.d.Short(fmt.Sprintf(format, args...))
	}
	defer func() { l.ns.Linker.OnBind, l.ns.Linker.Warn = nil, nil }()
	got.res, got.err = l.ns.Linker.Symbol(scope, req)
	return got
}

// binding looks up obj's reference as reference does, and checks what
// it found against the binding line wanted, and that line against
// glibc's LD_DEBUG=bindings lines.
func (l *loaded) binding(glibc []string, obj, name string, typ elf.R_X86_64, want string) lookedUp {
	l.t.Helper()
	got := l.reference(obj, name, typ)
	if got.err != nil {
		l.t.Fatal(got.err)
	}
	if got.line != want {
		l.t.Errorf("lookup reported\n\t%s\nwant\n\t%s", got.line, want)
	}
	if !hasLine(glibc, want) {
		l.t.Errorf("glibc does not report\n\t%s\nit reports\n\t%s", want, linesAbout(glibc, obj, name))
	}
	return got
}

// relocationSymbol finds m's relocation of type typ against name and
// returns the index of the symbol it refers to.
func relocationSymbol(m *linkmap.Map, name string, typ elf.R_X86_64) (uint32, bool) {
	for _, r := range []object.Range{m.Obj.Dyn.Rela, m.Obj.Dyn.JmpRel} {
		tab, err := m.Obj.Relas(r)
		if err != nil {
			continue
		}
		for i := 0; i < tab.Len(); i++ {
			if r := tab.At(i); r.Type == typ && r.Sym != 0 && m.Obj.SymbolName(r.Sym) == name {
				return r.Sym, true
			}
		}
	}
	return 0, false
}

// definition names what a lookup found the way the fixtures' definitions
// name themselves: the file, the symbol and its version, "@@" for a
// default version and "@" for a hidden one.
func definition(res lookup.Result) string {
	if res.Map == nil {
		return "nothing"
	}
	obj := res.Map.Obj
	s := filepath.Base(res.Map.Name) + ":" + obj.SymbolName(res.Index)
	if res.Map.Kind == linkmap.Executable {
		s = "main:" + obj.SymbolName(res.Index)
	}
	if v, hidden := obj.SymbolVersion(res.Index); v != nil {
		if hidden {
			s += "@" + v.Name
		} else {
			s += "@@" + v.Name
		}
	}
	return s
}

// hasLine reports whether lines holds line.
func hasLine(lines []string, line string) bool {
	for _, l := range lines {
		if l == line {
			return true
		}
	}
	return false
}

// linesAbout returns the lines of glibc's LD_DEBUG=bindings that bind
// ref's references to name: what to show when hasLine fails.
func linesAbout(lines []string, ref, name string) string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, "binding file "+ref+" ") && strings.Contains(l, "`"+name+"'") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
