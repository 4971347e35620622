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

// .plt.got: a function both called through the PLT and whose address
// is loaded from the GOT is called through a stub that jumps through its
// GOT entry (GLOB_DAT), with no lazy PLT entry, as GNU ld lays it out.
// GNU ld's outputs are the oracle for which functions get one and for
// the section's kind; the stubs are decoded to check where they jump.
// The fixture is the IBT one (link_pltsec_test.go): the library takes
// the address of twice, which is preemptible, from the GOT and calls it.

// pltGOT describes an output's .plt.got: "none", or its flags, entry
// size, alignment and the symbols its entries jump through (the GLOB_DAT
// relocation of the GOT word each reads), and the symbols of .rela.plt.
func pltGOT(t *testing.T, path string) []string {
	t.Helper()
	f := openELF(t, path)
	dynsyms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	relocs := func(name string, want elf.R_X86_64) map[uint64]string {
		m := map[uint64]string{}
		s := f.Section(name)
		if s == nil {
			return m
		}
		data, err := s.Data()
		if err != nil {
			t.Fatal(err)
		}
		table := object.RelaTable(data)
		for i := 0; i < table.Len(); i++ {
			if r := table.At(i); r.Type == want && r.Sym > 0 && int(r.Sym) <= len(dynsyms) {
				m[r.Off] = dynsyms[r.Sym-1].Name
			}
		}
		return m
	}
	var out []string
	for _, name := range relocs(".rela.plt", elf.R_X86_64_JMP_SLOT) {
		out = append(out, "JUMP_SLOT "+name)
	}
	s := f.Section(".plt.got")
	if s == nil {
		slices.Sort(out)
		return append(out, ".plt.got none")
	}
	out = append(out, fmt.Sprintf(".plt.got %v entsize %d align %d", s.Flags, s.Entsize, s.Addralign))
	data, err := s.Data()
	if err != nil || s.Entsize == 0 {
		t.Fatalf("%s: .plt.got: %v, entry size %d", path, err, s.Entsize)
	}
	globDat := relocs(".rela.dyn", elf.R_X86_64_GLOB_DAT)
	for i := uint64(0); i+s.Entsize <= uint64(len(data)); i += s.Entsize {
		e := data[i : i+s.Entsize]
		jmp := 0 // jmp *disp(%rip), after endbr64 in an IBT-enabled entry
		if s.Entsize == 16 {
			if string(e[:4]) != "\xf3\x0f\x1e\xfa" {
				t.Errorf("%s: .plt.got entry %d: no endbr64: % x", path, i/s.Entsize, e)
			}
			jmp = 4
		}
		if e[jmp] != 0xff || e[jmp+1] != 0x25 {
			t.Errorf("%s: .plt.got entry %d: not jmp *x(%%rip): % x", path, i/s.Entsize, e)
			continue
		}
		slot := s.Addr + i + uint64(jmp) + 6 + uint64(int64(int32(binary.LittleEndian.Uint32(e[jmp+2:]))))
		name, ok := globDat[slot]
		if !ok {
			t.Errorf("%s: .plt.got entry %d jumps through %#x, which no GLOB_DAT relocation binds", path, i/s.Entsize, slot)
		}
		out = append(out, ".plt.got entry for "+name)
	}
	slices.Sort(out)
	return out
}

// gotLayout describes where an output's GOT words are, in GNU ld's
// terms: which of .got and .got.plt it has (with -z now, GNU ld puts
// .got.plt's words at the start of .got), and which section and offset
// DT_PLTGOT, _GLOBAL_OFFSET_TABLE_ and .rela.plt's sh_info name.
func gotLayout(t *testing.T, path string) []string {
	t.Helper()
	f := openELF(t, path)
	where := func(addr uint64) string {
		for _, s := range f.Sections {
			if s.Flags&elf.SHF_ALLOC != 0 && addr >= s.Addr && addr < s.Addr+s.Size {
				return fmt.Sprintf("%s+%#x", s.Name, addr-s.Addr)
			}
		}
		return fmt.Sprintf("%#x (in no section)", addr)
	}
	var out []string
	for _, name := range []string{".got", ".got.plt"} {
		if s := f.Section(name); s != nil {
			out = append(out, fmt.Sprintf("%s %v %v", name, s.Type, s.Flags))
		}
	}
	if pltgot, err := f.DynValue(elf.DT_PLTGOT); err == nil && len(pltgot) == 1 {
		out = append(out, "DT_PLTGOT "+where(pltgot[0]))
	}
	if syms, err := f.Symbols(); err == nil {
		for _, s := range syms {
			if s.Name == "_GLOBAL_OFFSET_TABLE_" {
				out = append(out, "_GLOBAL_OFFSET_TABLE_ "+where(s.Value))
			}
		}
	}
	if s := f.Section(".rela.plt"); s != nil && int(s.Info) < len(f.Sections) {
		out = append(out, ".rela.plt applies to "+f.Sections[s.Info].Name)
	}
	return out
}

func TestLinkPLTGOT(t *testing.T) {
	for _, z := range []string{"", "-Wl,-z,ibtplt", "-Wl,-z,now"} {
		name := strings.TrimPrefix(z, "-Wl,-z,")
		if name == "" {
			name = "lazy"
		}
		t.Run(name, func(t *testing.T) {
			b := newLinkBuild(t, ibtSources)
			flags := func(args ...string) []string {
				if z != "" {
					args = append(args, z)
				}
				return args
			}
			b.cc("gcc", flags("-shared", "-fPIC", "-O1", "-o", "libpg.so", "lib.c")...)
			b.cc("gcc", flags("-o", "pie", "main.c", "./libpg.so")...)
			b.cc("gcc", flags("-no-pie", "-fno-pie", "-o", "nopie", "main.c", "./libpg.so")...)
			for _, out := range []string{"libpg.so", "pie", "nopie"} {
				b.check(out)
				want, got := pltGOT(t, b.path("bfd", out)), pltGOT(t, b.path("ldgo", out))
				want, got = append(want, gotLayout(t, b.path("bfd", out))...), append(got, gotLayout(t, b.path("ldgo", out))...)
				if !slices.Equal(want, got) {
					t.Errorf("%s: GNU ld's\n\t%s\nldgo's\n\t%s", out, strings.Join(want, "\n\t"), strings.Join(got, "\n\t"))
				}
				// The library calls twice, whose address it loads,
				// through .plt.got.
				if out == "libpg.so" && !slices.Contains(got, ".plt.got entry for twice") {
					t.Errorf("%s: twice has no .plt.got entry:\n\t%s", out, strings.Join(got, "\n\t"))
				}
			}
			// --why says so, with the entry's address.
			out, err := b.ccOne("ldgo", "gcc", flags("-shared", "-fPIC", "-O1", "-o", "libwhy.so", "lib.c", "-Wl,--why,twice")...)
			f, ferr := elf.Open(b.path("ldgo", "libwhy.so"))
			if err != nil || ferr != nil {
				t.Fatalf("--why twice: %v, %v\n%s", err, ferr, out)
			}
			defer f.Close()
			var at uint64
			_, said, ok := strings.Cut(out, ".plt.got entry at ")
			if ok {
				_, err = fmt.Sscanf(said, "%v", &at)
			}
			if sec := f.Section(".plt.got"); !ok || err != nil || sec == nil || at < sec.Addr || at >= sec.Addr+sec.Size {
				t.Errorf("--why twice does not name its .plt.got entry:\n%s", out)
			}
			env := append(baseEnv(), "LD_LIBRARY_PATH=.")
			for _, prog := range []string{"pie", "nopie"} {
				if r := b.run(env, prog); r.stdout != "42 12 same\n" {
					t.Errorf("%s: status %d, %q%s", prog, r.status, r.stdout, r.stderr)
				}
			}
			b.runHosted(env, "pie")
		})
	}
}
