package main

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ldgo/ldgo/object"
)

// --emit-relocs: the input relocations kept in the output as .rela<name>
// sections against the output's .symtab, as GNU ld keeps them. GNU ld's
// output of the same fixture is the oracle for which sections there are
// and what each relocation is (type and symbol); each output is also
// checked against itself: every kept relocation whose value the link
// editor wrote says what the field holds.

var emitRelocsSources = map[string]string{
	"main.c": `#include <stdio.h>
extern int other(int);
extern int other_data;
extern __thread int lib_tls;
__thread int main_tls = 2;
static int counter = 5;
static const char *greeting = "hello";
int *pointer = &other_data;
int (*function)(int) = other;
int twice(int x) { return other(x) * 2; }
/* A tail call through the GOT with -fno-plt: jmp *other@GOTPCREL(%rip). */
int tail(int x) { return other(x + 1); }
int main(void)
{
	counter += main_tls + lib_tls;
	printf("%s %d %d %d %d\n", greeting, twice(counter), *pointer, function(1), tail(2));
	return 0;
}
`,
	"other.c": `int other_data = 7;
int other(int x) { return x + other_data; }
`,
	// Code --gc-sections removes, which the debug information still
	// names: its kept relocations are R_X86_64_NONE.
	"unused.c": "int unused(int x) { return x * 3; }\n",
	"lib.c": `__thread int lib_tls = 3;
int lib_count;
int lib_get(void) { return ++lib_count + lib_tls; }
`,
}

// keptReloc is one relocation of an output as the test compares it.
type keptReloc struct {
	section string // the relocation section
	typ     elf.R_X86_64
	sym     string // the symbol's name, without a version; "(section)" for a section or none
}

// keptRelocs reads an output's kept relocations (SHT_RELA sections that
// are not loaded) and checks each whose field the link editor wrote
// with a link-time value against the output's bytes and symbols.
func keptRelocs(t *testing.T, path string) []keptReloc {
	t.Helper()
	f := openELF(t, path)
	syms, err := f.Symbols()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []keptReloc
	for _, s := range f.Sections {
		if s.Type != elf.SHT_RELA || s.Flags&elf.SHF_ALLOC != 0 {
			continue
		}
		if s.Flags&elf.SHF_INFO_LINK == 0 || int(s.Link) >= len(f.Sections) || f.Sections[s.Link].Type != elf.SHT_SYMTAB || int(s.Info) >= len(f.Sections) {
			t.Errorf("%s: %s: link %d, info %d, flags %v", path, s.Name, s.Link, s.Info, s.Flags)
			continue
		}
		target := f.Sections[s.Info]
		data, err := s.Data()
		if err != nil {
			t.Fatal(err)
		}
		content, _ := target.Data()
		table := object.RelaTable(data)
		for i := 0; i < table.Len(); i++ {
			r := table.At(i)
			off, addend, typ, idx := r.Off, r.Addend, r.Type, uint64(r.Sym)
			k := keptReloc{section: s.Name, typ: typ, sym: "(section)"}
			var sym elf.Symbol
			if idx > 0 {
				if int(idx) > len(syms) {
					t.Fatalf("%s: %s: symbol %d out of range", path, s.Name, idx)
				}
				sym = syms[idx-1]
				if elf.ST_TYPE(sym.Info) != elf.STT_SECTION {
					k.sym, _, _ = strings.Cut(sym.Name, "@")
				}
			}
			out = append(out, k)
			// The field, where the target section's bytes are.
			at := off
			if target.Flags&elf.SHF_ALLOC != 0 {
				at -= target.Addr
			}
			defined := idx == 0 || sym.Section != elf.SHN_UNDEF && elf.ST_TYPE(sym.Info) != elf.STT_TLS && elf.ST_TYPE(sym.Info) != elf.STT_GNU_IFUNC
			if !defined || target.Type == elf.SHT_NOBITS || at >= uint64(len(content)) {
				continue
			}
			v := sym.Value + uint64(addend)
			var size int
			switch typ {
			case elf.R_X86_64_64:
				size = 8
			case elf.R_X86_64_32, elf.R_X86_64_32S:
				size = 4
			case elf.R_X86_64_PC32, elf.R_X86_64_PLT32:
				size = 4
				v -= off
			default:
				continue
			}
			if at+uint64(size) > uint64(len(content)) {
				t.Errorf("%s: %s: %#x: field past %s", path, s.Name, off, target.Name)
				continue
			}
			var field uint64
			if size == 8 {
				field = binary.LittleEndian.Uint64(content[at:])
			} else {
				field, v = uint64(binary.LittleEndian.Uint32(content[at:])), uint64(uint32(v))
			}
			if field != v {
				t.Errorf("%s: %s: %s at %#x against %s%+d: the field holds %#x, the relocation says %#x",
					path, s.Name, typ, off, k.sym, addend, field, v)
			}
		}
	}
	slices.SortFunc(out, func(a, b keptReloc) int {
		return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
	})
	return out
}

func TestLinkEmitRelocs(t *testing.T) {
	b := newLinkBuild(t, emitRelocsSources)
	b.cc("gcc", "-shared", "-fPIC", "-g", "-O2", "-Wl,--emit-relocs", "-o", "libtls.so", "lib.c")
	b.cc("gcc", "-c", "-g", "-O2", "-fno-plt", "main.c", "other.c")
	b.cc("gcc", "-c", "-fno-pie", "-O2", "-o", "main-nopie.o", "main.c")
	b.cc("gcc", "-c", "-fno-pie", "-O2", "-o", "other-nopie.o", "other.c")
	b.cc("gcc", "-Wl,--emit-relocs", "-o", "pie", "main.o", "other.o", "./libtls.so")
	b.cc("gcc", "-Wl,-q", "-no-pie", "-o", "nopie", "main-nopie.o", "other-nopie.o", "./libtls.so")
	b.cc("gcc", "-c", "-g", "-ffunction-sections", "unused.c")
	b.cc("gcc", "-Wl,--emit-relocs,--gc-sections", "-o", "gc", "main.o", "other.o", "unused.o", "./libtls.so")
	for _, out := range []string{"libtls.so", "pie", "nopie", "gc"} {
		b.check(out)
		want, got := keptRelocs(t, b.path("bfd", out)), keptRelocs(t, b.path("ldgo", out))
		if len(got) == 0 {
			t.Errorf("%s: ldgo kept no relocations", out)
		}
		if out == "gc" && !slices.Contains(got, keptReloc{".rela.debug_info", elf.R_X86_64_NONE, "(section)"}) {
			t.Errorf("gc: no R_X86_64_NONE in .rela.debug_info for the removed function")
		}
		if !slices.Equal(want, got) {
			t.Errorf("%s: kept relocations differ\nonly GNU ld's:\n\t%s\nonly ldgo's:\n\t%s", out,
				strings.Join(multisetMinus(want, got), "\n\t"), strings.Join(multisetMinus(got, want), "\n\t"))
		}
	}
	env := append(baseEnv(), "LD_LIBRARY_PATH=.")
	for _, prog := range []string{"pie", "nopie", "gc"} {
		if r := b.run(env, prog); r.status != 0 || !strings.HasPrefix(r.stdout, "hello ") {
			t.Errorf("%s: status %d, output %q", prog, r.status, r.stdout)
		}
	}
	b.runHosted(env, "pie")
}

// multisetMinus lists what a has more times than b.
func multisetMinus(a, b []keptReloc) []string {
	n := map[keptReloc]int{}
	for _, k := range b {
		n[k]++
	}
	var out []string
	for _, k := range a {
		if n[k] > 0 {
			n[k]--
			continue
		}
		out = append(out, fmt.Sprint(k))
	}
	return out
}
