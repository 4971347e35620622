package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ldgo/ldgo/reloc"
)

// A library damaged in its relocations: the analysis commands must refuse
// it as `ldgo run` does, in the same words, naming the file and the
// relocation, where glibc's ld.so mostly dies of a signal. The damaged
// files are gcc-built libraries with a few bytes changed.

const hostileLib = `
#include <stdio.h>
int answer = 42;
int *answers[] = {&answer, &answer};
static int secret = 7;
int *secrets[] = {&secret, &secret, &secret};
int foo(int x) { puts("foo"); return x + answer + *secrets[1]; }
`

const hostileProg = `int foo(int); int main(void) { return foo(1) == 50 ? 7 : 1; }`

// libImage is a library's bytes with its headers, sections and symbols
// decoded, for a test to patch.
type libImage struct {
	t    *testing.T
	data []byte
	elf  *elf.File
}

var le = binary.LittleEndian

func newLibImage(t *testing.T, data []byte) *libImage {
	t.Helper()
	e, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return &libImage{t: t, data: bytes.Clone(data), elf: e}
}

// dyn returns the file offset of the value of dynamic entry tag.
func (l *libImage) dyn(tag elf.DynTag) int {
	s := l.elf.Section(".dynamic")
	for at := int(s.Offset); at < int(s.Offset+s.Size); at += 16 {
		if elf.DynTag(le.Uint64(l.data[at:])) == tag {
			return at + 8
		}
	}
	l.t.Fatalf("no dynamic entry %v", tag)
	return 0
}

func (l *libImage) setDyn(tag elf.DynTag, v uint64) { le.PutUint64(l.data[l.dyn(tag):], v) }

// rela returns the file offset of the relocation of section sec (".rela.dyn"
// or ".rela.plt") whose type is typ, and its index.
func (l *libImage) rela(sec string, typ elf.R_X86_64) (at, index int) {
	s := l.elf.Section(sec)
	for i := 0; i < int(s.Size/24); i++ {
		at := int(s.Offset) + 24*i
		if elf.R_X86_64(le.Uint32(l.data[at+8:])) == typ {
			return at, i
		}
	}
	l.t.Fatalf("no %v relocation in %s", typ, sec)
	return 0, 0
}

// intoText points the relocation of type typ in section sec that comes
// skip after the first at the text segment, and returns the cause.
func (l *libImage) intoText(sec string, typ elf.R_X86_64, skip int) string {
	at, i := l.rela(sec, typ)
	at, i = at+24*skip, i+skip
	text := l.segment(elf.PF_R | elf.PF_X)
	le.PutUint64(l.data[at:], text)
	table := map[string]string{".rela.dyn": "DT_RELA", ".rela.plt": "DT_JMPREL"}[sec]
	return fmt.Sprintf("%s relocation %d (%s at %#x): segment is not writable", table, i, reloc.TypeName(typ), text)
}

// relaOff returns the r_offset of the relocation at file offset at.
func (l *libImage) relaOff(at int) uint64 { return le.Uint64(l.data[at:]) }

// segment returns the address of the first loaded segment with exactly
// the flags given.
func (l *libImage) segment(flags elf.ProgFlag) uint64 {
	for _, p := range l.elf.Progs {
		if p.Type == elf.PT_LOAD && p.Flags == flags {
			return p.Vaddr
		}
	}
	l.t.Fatalf("no segment %v", flags)
	return 0
}

// symbol returns the index of the dynamic symbol name.
func (l *libImage) symbol(name string) int {
	syms, err := l.elf.DynamicSymbols()
	if err != nil {
		l.t.Fatal(err)
	}
	for i, s := range syms {
		if s.Name == name {
			return i + 1 // DynamicSymbols leaves out symbol 0
		}
	}
	l.t.Fatalf("no dynamic symbol %s", name)
	return 0
}

const far = 0x7fff_0000_0000 // an address in no segment

// hostileCase is a change to the library and the cause every command must
// give for it, after the library's name. lazyCause, when set, is what a
// lazy binding pass (bindings, run) says instead.
type hostileCase struct {
	name string
	// lib is the library patched: "plain" when empty; "relr", which
	// packs its relative relocations (DT_RELR); "early", with enough
	// relative relocations for ldgo run to apply them on a goroutine of
	// their own.
	lib        string
	patch      func(l *libImage) (cause, lazyCause string)
	glibcWords bool // glibc's ld.so gives the same cause
	// copies runs a program that is not position-independent, and so
	// copies the library's data (R_X86_64_COPY), and blames it: the
	// cause names the library as LIB.
	copies bool
	// asNeeded: the library is named as the program needs it, not by
	// its path, as glibc names it when it cannot map it.
	asNeeded bool
}

var hostileCases = []hostileCase{
	{name: "DT_RELASZ huge", patch: func(l *libImage) (string, string) {
		l.setDyn(elf.DT_RELASZ, 0xffff_ffff_ffff_ff00)
		return "DT_RELA relocation table outside the loaded segments (18446744073709551360 bytes at 0x", ""
	}},
	{name: "DT_RELASZ 2^32 entries", patch: func(l *libImage) (string, string) {
		l.setDyn(elf.DT_RELASZ, 24<<32)
		return "DT_RELA relocation table outside the loaded segments (103079215104 bytes at 0x", ""
	}},
	{name: "DT_RELASZ odd", patch: func(l *libImage) (string, string) {
		l.setDyn(elf.DT_RELASZ, 0x10_0000_0000)
		return "DT_RELA relocation table size 68719476736 is not a multiple of 24", ""
	}},
	{name: "DT_PLTRELSZ huge", patch: func(l *libImage) (string, string) {
		l.setDyn(elf.DT_PLTRELSZ, 0xffff_ffff_ffff_ff00)
		return "DT_JMPREL relocation table outside the loaded segments (18446744073709551360 bytes at 0x", ""
	}},
	{name: "DT_RELA outside", patch: func(l *libImage) (string, string) {
		l.setDyn(elf.DT_RELA, far)
		return "DT_RELA relocation table outside the loaded segments (", ""
	}},
	{name: "DT_JMPREL outside", patch: func(l *libImage) (string, string) {
		l.setDyn(elf.DT_JMPREL, far)
		return "DT_JMPREL relocation table outside the loaded segments (24 bytes at 0x7fff00000000)", ""
	}},
	{name: "DT_RELRSZ huge", lib: "relr", patch: func(l *libImage) (string, string) {
		l.setDyn(0x23, 0xffff_ffff_ffff_ff00) // DT_RELRSZ
		return "DT_RELR table outside the loaded segments (18446744073709551360 bytes at 0x", ""
	}},
	{name: "relative relocation into text", patch: func(l *libImage) (string, string) {
		return l.intoText(".rela.dyn", elf.R_X86_64_RELATIVE, 0), ""
	}},
	{name: "relative relocation into text, applied early", lib: "early", patch: func(l *libImage) (string, string) {
		return l.intoText(".rela.dyn", elf.R_X86_64_RELATIVE, 1000), ""
	}},
	{name: "PT_LOAD past the address space", asNeeded: true, glibcWords: true, patch: func(l *libImage) (string, string) {
		phoff := int(le.Uint64(l.data[32:]))
		for i := len(l.elf.Progs) - 1; i >= 0; i-- {
			if l.elf.Progs[i].Type == elf.PT_LOAD {
				le.PutUint64(l.data[phoff+56*i+40:], 1<<48) // p_memsz
				break
			}
		}
		return "failed to map segment from shared object", ""
	}},
	{name: "COPY from outside the library", copies: true, patch: func(l *libImage) (string, string) {
		i := l.symbol("answer")
		sym := int(l.elf.Section(".dynsym").Offset) + 24*i
		le.PutUint64(l.data[sym+8:], far)
		index, at := copyReloc(l.t)
		return fmt.Sprintf("DT_RELA relocation %d (R_X86_64_COPY at %#x): the 4 bytes it copies, at %#x of LIB: address outside the loaded segments", index, at, far), ""
	}},
	{name: "GLOB_DAT into read-only data", patch: func(l *libImage) (string, string) {
		at, i := l.rela(".rela.dyn", elf.R_X86_64_GLOB_DAT)
		ro := l.segment(elf.PF_R)
		le.PutUint64(l.data[at:], ro+8)
		return fmt.Sprintf("DT_RELA relocation %d (R_X86_64_GLOB_DAT at %#x): segment is not writable", i, ro+8), ""
	}},
	{name: "64 outside every segment", patch: func(l *libImage) (string, string) {
		at, i := l.rela(".rela.dyn", elf.R_X86_64_64)
		le.PutUint64(l.data[at:], far)
		return fmt.Sprintf("DT_RELA relocation %d (R_X86_64_64 at %#x): address outside the loaded segments", i, far), ""
	}},
	{name: "64 across the end of its segment", patch: func(l *libImage) (string, string) {
		at, i := l.rela(".rela.dyn", elf.R_X86_64_64)
		var end uint64
		for _, p := range l.elf.Progs {
			if p.Type == elf.PT_LOAD && p.Flags&elf.PF_W != 0 {
				end = p.Vaddr + p.Memsz
			}
		}
		le.PutUint64(l.data[at:], end-4)
		return fmt.Sprintf("DT_RELA relocation %d (R_X86_64_64 at %#x): address outside the loaded segments", i, end-4), ""
	}},
	{name: "JUMP_SLOT into text", patch: func(l *libImage) (string, string) {
		return l.intoText(".rela.plt", elf.R_X86_64_JMP_SLOT, 0), ""
	}},
	{name: "DT_RELR entry into text", lib: "relr", patch: func(l *libImage) (string, string) {
		s := l.elf.Section(".relr.dyn")
		text := l.segment(elf.PF_R | elf.PF_X)
		le.PutUint64(l.data[s.Offset:], text)
		return fmt.Sprintf("DT_RELR relocation (R_X86_64_RELATIVE at %#x): segment is not writable", text), ""
	}},
	{name: "unknown type", glibcWords: true, patch: func(l *libImage) (string, string) {
		at, i := l.rela(".rela.dyn", elf.R_X86_64_GLOB_DAT)
		le.PutUint32(l.data[at+8:], 0x2a)
		return fmt.Sprintf("unexpected reloc type 0x2a (DT_RELA relocation %d at %#x)", i, l.relaOff(at)), ""
	}},
	{name: "unknown wide type", glibcWords: true, patch: func(l *libImage) (string, string) {
		at, i := l.rela(".rela.dyn", elf.R_X86_64_GLOB_DAT)
		le.PutUint32(l.data[at+8:], 0x12345)
		return fmt.Sprintf("unexpected reloc type 0x00012345 (DT_RELA relocation %d at %#x)", i, l.relaOff(at)), ""
	}},
	{name: "unknown PLT type", glibcWords: true, patch: func(l *libImage) (string, string) {
		at, i := l.rela(".rela.plt", elf.R_X86_64_JMP_SLOT)
		le.PutUint32(l.data[at+8:], 0x2a)
		where := fmt.Sprintf(" (DT_JMPREL relocation %d at %#x)", i, l.relaOff(at))
		return "unexpected reloc type 0x2a" + where, "unexpected PLT reloc type 0x2a" + where
	}},
	{name: "symbol index past the table", patch: func(l *libImage) (string, string) {
		at, i := l.rela(".rela.dyn", elf.R_X86_64_GLOB_DAT)
		le.PutUint32(l.data[at+12:], 100000)
		n := len(must(l.elf.DynamicSymbols())) + 1
		return fmt.Sprintf("DT_RELA relocation %d (R_X86_64_GLOB_DAT at %#x): symbol 100000 is past the end of the symbol table (%d symbols)", i, l.relaOff(at), n), ""
	}},
	{name: "symbol name past the string table", patch: func(l *libImage) (string, string) {
		i := l.symbol("answer")
		sym := int(l.elf.Section(".dynsym").Offset) + 24*i
		le.PutUint32(l.data[sym:], 0x10000)
		return fmt.Sprintf("symbol %d: name offset 0x10000 outside the string table (", i), ""
	}},
}

// copyingProg, not position-independent, copies answer into its own
// data (copyingPath is its path).
const copyingProg = `extern int answer; int main(void) { return answer; }`

var copyingPath string

// copyReloc returns the index of copyingPath's COPY relocation and where
// it writes.
func copyReloc(t *testing.T) (index int, at uint64) {
	e, err := elf.Open(copyingPath)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := e.Section(".rela.dyn")
	data, err := s.Data()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; 24*i+24 <= len(data); i++ {
		if r := data[24*i:]; elf.R_X86_64(le.Uint32(r[8:])) == elf.R_X86_64_COPY {
			return i, le.Uint64(r)
		}
	}
	t.Fatal("no COPY relocation in", copyingPath)
	return 0, 0
}

// manyRelative makes 20,000 relative relocations, more than ldgo run
// applies in line.
var manyRelative = "static int x;\nint *many[20000] = {" + strings.Repeat("&x, ", 20000) + "};\n"

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestHostileLibrary(t *testing.T) {
	f := newFixture(t)
	f.lib("plain/libh.so", hostileLib)
	f.lib("relr/libh.so", hostileLib, "-Wl,-z,pack-relative-relocs")
	f.lib("early/libh.so", hostileLib+manyRelative)
	prog := f.prog("prog", hostileProg, "-Lplain", "-lh")
	copyingPath = f.prog("copyprog", copyingProg, "-no-pie", "-Lplain", "-lh")
	bin := buildLdgo(t)
	for _, tc := range hostileCases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			dir := tc.lib
			if dir == "" {
				dir = "plain"
			}
			good, err := os.ReadFile(f.path(dir + "/libh.so"))
			if err != nil {
				t.Fatal(err)
			}
			l := newLibImage(t, good)
			cause, lazyCause := tc.patch(l)
			if lazyCause == "" {
				lazyCause = cause
			}
			bad := filepath.Join(t.TempDir(), "libh.so")
			if err := os.WriteFile(bad, l.data, 0o755); err != nil {
				t.Fatal(err)
			}
			env := []string{"LD_LIBRARY_PATH=" + filepath.Dir(bad)}
			prog, blamed := prog, bad
			if tc.copies {
				prog, blamed = copyingPath, copyingPath
			}
			if tc.asNeeded {
				blamed = filepath.Base(bad)
			}
			want := blamed + ": " + strings.ReplaceAll(cause, "LIB", bad)
			wantLazy := blamed + ": " + strings.ReplaceAll(lazyCause, "LIB", bad)
			for _, c := range []struct {
				args []string
				want string
			}{
				{[]string{"verify", prog}, want},
				{[]string{"bindings", "--now", prog}, want},
				{[]string{"bindings", prog}, wantLazy},
			} {
				out, status := ldgo(t, env, c.args...)
				if status != 1 || !strings.Contains(out, c.want) {
					t.Errorf("ldgo %s: status %d, output:\n%s\nwant status 1 and %q", strings.Join(c.args, " "), status, out, c.want)
				}
			}
			got := hosted(t, bin, baseEnv(env...), "", prog)
			if got.status != 127 || !strings.Contains(got.stderr, ": "+wantLazy) {
				t.Errorf("ldgo run: status %d, stderr %q; want 127 and %q", got.status, got.stderr, wantLazy)
			}
			if tc.glibcWords {
				words, _, _ := strings.Cut(lazyCause, " (")
				native := native(t, baseEnv(env...), "", prog)
				if native.status != 127 || !strings.Contains(native.stderr, ": "+blamed+": "+words+"\n") {
					t.Errorf("glibc: status %d, stderr %q; want 127 and %q", native.status, native.stderr, blamed+": "+words)
				}
			}
		})
	}
}

// A FIFO named like a needed library is not opened for reading, where
// glibc's ld.so waits for a writer for ever: the analysis commands and
// `ldgo run` say it is not a regular file.
func TestFIFOLibrary(t *testing.T) {
	f := newFixture(t)
	f.lib("plain/libh.so", hostileLib)
	prog := f.prog("prog", hostileProg, "-Lplain", "-lh")
	dir := t.TempDir()
	fifo := filepath.Join(dir, "libh.so")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"LD_LIBRARY_PATH=" + dir}
	want := fifo + ": not a regular file"
	for _, cmd := range []string{"list", "tree", "verify", "bindings"} {
		done := make(chan struct{})
		var out string
		var status int
		go func() {
			defer close(done)
			out, status = ldgo(t, env, cmd, prog)
		}()
		select {
		case <-done:
		case <-time.After(time.Minute):
			// The command hangs: open it for writing, so that its
			// open returns and the test can end.
			w, _ := os.OpenFile(fifo, os.O_WRONLY, 0)
			<-done
			w.Close()
			t.Errorf("ldgo %s hangs on a FIFO", cmd)
			continue
		}
		if status != 1 || !strings.Contains(out, want) {
			t.Errorf("ldgo %s: status %d, output:\n%s\nwant status 1 and %q", cmd, status, out, want)
		}
	}
	bin := buildLdgo(t)
	got := hosted(t, bin, baseEnv(env...), "", prog)
	if got.status != 127 || !strings.Contains(got.stderr, "error while loading shared libraries: "+want) {
		t.Errorf("ldgo run: status %d, stderr %q; want 127 and %q", got.status, got.stderr, want)
	}
}
