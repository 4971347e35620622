package rtld

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/host"
	"github.com/ldgo/ldgo/internal/testelf"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/namespace"
)

// An initializer and a finalizer of every kind, in a library and in the
// program: DT_INIT and DT_FINI (-init, -fini), DT_INIT_ARRAY and
// DT_FINI_ARRAY (constructors, destructors), DT_PREINIT_ARRAY (the
// program only). Each prints its name.
const (
	initLib = `
#include <stdio.h>
void lib_init(void) { puts("lib_init"); }
void lib_fini(void) { puts("lib_fini"); }
__attribute__((constructor)) static void lib_ctor(void) { puts("lib_ctor"); }
__attribute__((destructor)) static void lib_dtor(void) { puts("lib_dtor"); }
`
	initProg = `
#include <stdio.h>
void main_init(void) { puts("main_init"); }
void main_fini(void) { puts("main_fini"); }
static void main_preinit(void) { puts("main_preinit"); }
__attribute__((section(".preinit_array"), used)) static void (*preinit)(void) = main_preinit;
__attribute__((constructor)) static void main_ctor(void) { puts("main_ctor"); }
__attribute__((destructor)) static void main_dtor(void) { puts("main_dtor"); }
int main(void) { puts("main"); return 0; }
`
)

// TestInitFini: the initializers and finalizers ldgo has run, in glibc's
// order: the program's DT_PREINIT_ARRAY first; each library's DT_INIT,
// then its DT_INIT_ARRAY, dependencies first; the program's own; at exit
// each object's DT_FINI_ARRAY backwards, then its DT_FINI, the program's
// first. The program run natively prints the order.
func TestInitFini(t *testing.T) {
	d := testelf.New(t)
	d.Build("libi.so", initLib, "-Wl,-init,lib_init", "-Wl,-fini,lib_fini")
	prog := d.Build("main", initProg, "-Wl,-init,main_init", "-Wl,-fini,main_fini", "-li")
	native := d.Lines([]string{"LD_LIBRARY_PATH=" + d.Path}, prog)

	a, err := analyze.Load(prog, analyze.Options{LibraryPath: d.Path, PreloadFile: "-"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var start host.Start
	initFini(&start, a.NS)
	var got []string
	got = append(got, functions(t, a.NS, start.Inits, false)...)
	got = append(got, functions(t, a.NS, start.ExeInits, false)...)
	got = append(got, "main")
	got = append(got, functions(t, a.NS, start.Finis, true)...)
	if !slices.Equal(got, native) {
		t.Errorf("ldgo runs\n\t%q\nglibc runs\n\t%q", got, native)
	}
}

// functions names the functions fns call, in the order they are called
// (arrays backwards for finalizers), those of the fixtures only.
func functions(t *testing.T, ns *namespace.Namespace, fns []host.Fn, fini bool) []string {
	t.Helper()
	var out []string
	for _, fn := range fns {
		m := ns.Main // the preinit array, which has no owner
		for _, x := range ns.Chain {
			if x.Serial == fn.Owner {
				m = x
			}
		}
		addrs := []uint64{fn.Addr - m.Base}
		if fn.Array {
			addrs = arrayEntries(t, m, fn.Addr-m.Base, fn.Count)
			if fini {
				slices.Reverse(addrs)
			}
		}
		for _, addr := range addrs {
			if name := functionAt(t, m, addr); name != "" {
				out = append(out, name)
			}
		}
	}
	return out
}

// arrayEntries reads the link-time addresses an init or fini array of m
// holds, from its relocations (a position-independent object's entries
// are relative relocations) or the file.
func arrayEntries(t *testing.T, m *linkmap.Map, addr, n uint64) []uint64 {
	t.Helper()
	relas, err := m.Obj.Relas(m.Obj.Dyn.Rela)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for i := range n {
		at := addr + 8*i
		b, err := m.Obj.Bytes(at, 8)
		if err != nil {
			t.Fatal(err)
		}
		v := binary.LittleEndian.Uint64(b)
		for j := 0; j < relas.Len(); j++ {
			if r := relas.At(j); r.Off == at && r.Type == elf.R_X86_64_RELATIVE {
				v = uint64(r.Addend)
			}
		}
		out = append(out, v)
	}
	return out
}

// functionAt names the fixture function at link-time address addr of m,
// or "" for another (the C runtime's).
func functionAt(t *testing.T, m *linkmap.Map, addr uint64) string {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(m.File.Data()))
	if err != nil {
		t.Fatal(err)
	}
	syms, _ := f.Symbols() // none in the system's libraries
	for _, s := range syms {
		if s.Value == addr && elf.ST_TYPE(s.Info) == elf.STT_FUNC {
			switch s.Name {
			case "lib_init", "lib_fini", "lib_ctor", "lib_dtor", "main_init", "main_fini", "main_preinit", "main_ctor", "main_dtor":
				return s.Name
			}
		}
	}
	return ""
}
