package object_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ldgo/ldgo/object"
)

// The system's own programs and libraries must read as the loader needs
// them: these are the files every run of ldgo starts from.
const (
	lsPath   = "/usr/bin/ls"
	libcPath = "/lib/x86_64-linux-gnu/libc.so.6"
	ldsoPath = "/lib64/ld-linux-x86-64.so.2"
)

func openReal(t *testing.T, path string) *object.File {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no %s on this machine", path)
	}
	f, err := object.Open(path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestLibc(t *testing.T) {
	libc := openReal(t, libcPath)

	if libc.Dyn.Soname != "libc.so.6" {
		t.Errorf("SONAME = %q, want libc.so.6", libc.Dyn.Soname)
	}
	if !libc.DefinesVersion("GLIBC_2.2.5", object.SysVHash("GLIBC_2.2.5")) {
		t.Errorf("libc does not define GLIBC_2.2.5; it defines %v", libc.Verdefs)
	}
	if n := libc.NumSymbols(); n <= 1000 {
		t.Errorf("libc has %d dynamic symbols, want more than 1000", n)
	}
	if libc.TLS == nil {
		t.Error("libc has no PT_TLS")
	}

	// printf is found through the hash table, is defined, and carries a
	// GLIBC_ version.
	h := object.NewHash("printf")
	var found []uint32
	libc.Candidates(&h, func(idx uint32) bool {
		found = append(found, idx)
		return true
	})
	if len(found) == 0 {
		t.Fatal("Candidates(printf) found nothing in libc")
	}
	for _, idx := range found {
		sym := libc.Symbol(idx)
		if name := libc.SymbolName(idx); name != "printf" {
			t.Errorf("candidate %d is named %q", idx, name)
		}
		if sym.Undefined() || sym.Type() != elf.STT_FUNC || sym.Value == 0 {
			t.Errorf("printf is %+v, want a defined function", sym)
		}
		v, _ := libc.SymbolVersion(idx)
		if v == nil || !strings.HasPrefix(v.Name, "GLIBC_") || v.File != "" {
			t.Errorf("printf's version is %+v, want a GLIBC_ version libc defines", v)
		}
	}

	// A name libc does not define has no candidates.
	h = object.NewHash("no_such_symbol_in_libc")
	libc.Candidates(&h, func(idx uint32) bool {
		t.Errorf("Candidates(no_such_symbol_in_libc) yielded %d (%s)", idx, libc.SymbolName(idx))
		return true
	})

	// Its relocation tables lie inside the file.
	for _, r := range []object.Range{libc.Dyn.Rela, libc.Dyn.JmpRel} {
		if _, err := libc.Relas(r); err != nil {
			t.Error(err)
		}
	}
	if err := libc.Relr(func(uint64) {}); err != nil {
		t.Error(err)
	}
}

func TestExecutable(t *testing.T) {
	ls := openReal(t, lsPath)

	if !slices.Contains(ls.Dyn.Needed, "libc.so.6") {
		t.Errorf("DT_NEEDED = %q, want libc.so.6 among them", ls.Dyn.Needed)
	}
	if ls.Interp != "/lib64/ld-linux-x86-64.so.2" {
		t.Errorf("PT_INTERP = %q", ls.Interp)
	}
	if ls.Phdr == 0 {
		t.Error("no program header address")
	}
	// ls needs GLIBC_2.2.5 from libc.so.6.
	var needs []string
	for _, vn := range ls.Verneeds {
		for _, a := range vn.Aux {
			needs = append(needs, vn.File+":"+a.Name)
		}
	}
	if !slices.Contains(needs, "libc.so.6:GLIBC_2.2.5") {
		t.Errorf("ls needs %q, want libc.so.6:GLIBC_2.2.5 among them", needs)
	}
}

func TestDynamicLinker(t *testing.T) {
	ld := openReal(t, ldsoPath)
	if ld.Dyn.Soname != "ld-linux-x86-64.so.2" {
		t.Errorf("SONAME = %q", ld.Dyn.Soname)
	}
	if ld.Interp != "" || len(ld.Dyn.Needed) != 0 {
		t.Errorf("ld.so has PT_INTERP %q and DT_NEEDED %q, want neither", ld.Interp, ld.Dyn.Needed)
	}
	if ld.Entry == 0 {
		t.Error("ld.so has no entry point")
	}
}

// The symbol count, which only DT_HASH states, is the count of the
// .dynsym section (which the loader does not read) in every object of
// the system: the GNU hash chains end within their array.
func TestSymbolCountOfSystemObjects(t *testing.T) {
	var paths []string
	for _, pattern := range []string{"/usr/lib/x86_64-linux-gnu/*.so*", "/usr/bin/*"} {
		m, _ := filepath.Glob(pattern)
		paths = append(paths, m...)
	}
	n := 0
	for _, p := range paths {
		e, err := elf.Open(p)
		if err != nil || e.Class != elf.ELFCLASS64 || e.Machine != elf.EM_X86_64 {
			continue
		}
		dynsym := e.Section(".dynsym")
		e.Close()
		if dynsym == nil {
			continue
		}
		f, err := object.Open(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if got, want := f.NumSymbols(), int(dynsym.Size/24); got != want {
			t.Errorf("%s: %d symbols, .dynsym has %d", p, got, want)
		}
		f.Close()
		n++
	}
	if n < 100 {
		t.Skipf("only %d objects on this machine", n)
	}
}

// A gcc-built library with every table the loader reads: DT_HASH and
// DT_GNU_HASH (or one of them), version definitions and needs, TLS, RELA,
// JMPREL and RELR relocations.
const testLibSource = `
#include <stdio.h>
__thread int counter = 1;
int answer = 42;
static int secret = 7;
int *answers[] = {&secret, &secret, &secret, &secret};
int foo(int x) { puts("foo"); return x + answer + counter; }
`

const testLibVersions = `VERS_1 { global: foo; answer; answers; counter; local: *; };`

var (
	buildMu    sync.Mutex
	buildCache = map[string][]byte{}
)

// gccBuild compiles source with gcc and the given flags and returns the
// output file's bytes, cached for the test binary's life. It skips the test
// when there is no gcc.
func gccBuild(tb testing.TB, source string, flags ...string) []byte {
	tb.Helper()
	data, err := build(source, flags...)
	if err == errNoGCC {
		tb.Skip("no gcc")
	}
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

type buildError string

func (e buildError) Error() string { return string(e) }

const errNoGCC = buildError("no gcc")

func build(source string, flags ...string) ([]byte, error) {
	key := source + "\x00" + strings.Join(flags, "\x00")
	buildMu.Lock()
	defer buildMu.Unlock()
	if b, ok := buildCache[key]; ok {
		return b, nil
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return nil, errNoGCC
	}
	dir, err := os.MkdirTemp("", "objtest")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "x.c"), []byte(source), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "v.map"), []byte(testLibVersions), 0o644); err != nil {
		return nil, err
	}
	args := append([]string{"-o", "out", "x.c"}, flags...)
	cmd := exec.Command(gcc, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, buildError("gcc " + strings.Join(args, " ") + ": " + err.Error() + "\n" + string(out))
	}
	b, err := os.ReadFile(filepath.Join(dir, "out"))
	if err != nil {
		return nil, err
	}
	buildCache[key] = b
	return b, nil
}

// libFlags builds testLibSource as a small shared library with the given
// hash style ("gnu", "sysv" or "both").
func libFlags(hashStyle string) []string {
	return []string{"-shared", "-fPIC", "-Wl,-s", "-Wl,-z,noseparate-code",
		"-Wl,--hash-style=" + hashStyle, "-Wl,-z,pack-relative-relocs",
		"-Wl,--version-script=v.map"}
}

func testLib(tb testing.TB, hashStyle string) []byte {
	return gccBuild(tb, testLibSource, libFlags(hashStyle)...)
}

// exeFlags builds a small position-independent executable.
var exeFlags = []string{"-Wl,-s", "-Wl,-z,noseparate-code"}

const exeSource = `
#include <stdio.h>
int main(void) { puts("hello"); return 0; }
`

func TestGCCLibrary(t *testing.T) {
	for _, style := range []string{"gnu", "sysv", "both"} {
		t.Run(style, func(t *testing.T) {
			o, err := object.ParseBytes("lib.so", testLib(t, style))
			if err != nil {
				t.Fatal(err)
			}
			if o.Dyn.HasGNUHash != (style != "sysv") || o.Dyn.HasHash != (style != "gnu") {
				t.Errorf("DT_GNU_HASH %v, DT_HASH %v", o.Dyn.HasGNUHash, o.Dyn.HasHash)
			}
			if !slices.Contains(o.Dyn.Needed, "libc.so.6") {
				t.Errorf("DT_NEEDED = %q", o.Dyn.Needed)
			}
			if o.TLS == nil || o.TLS.Image.Size != 4 {
				t.Errorf("TLS = %+v, want a 4-byte image", o.TLS)
			}
			for _, name := range []string{"foo", "answer", "answers", "counter"} {
				h := object.NewHash(name)
				n := 0
				o.Candidates(&h, func(idx uint32) bool {
					n++
					if v, hidden := o.SymbolVersion(idx); v == nil || v.Name != "VERS_1" || hidden {
						t.Errorf("%s: version %+v hidden %v, want VERS_1", name, v, hidden)
					}
					return true
				})
				if n != 1 {
					t.Errorf("%s: %d candidates, want 1", name, n)
				}
			}
			relr := 0
			if err := o.Relr(func(uint64) { relr++ }); err != nil || relr < 4 {
				t.Errorf("Relr: %d addresses, %v; want at least the 4 relative pointers in answers", relr, err)
			}
			jmp, err := o.Relas(o.Dyn.JmpRel)
			if err != nil || jmp.Len() == 0 {
				t.Fatalf("JMPREL: %d relocations, %v", jmp.Len(), err)
			}
			if r := jmp.At(0); r.Type != elf.R_X86_64_JMP_SLOT || o.SymbolName(r.Sym) != "puts" {
				t.Errorf("first PLT relocation %+v against %q, want JUMP_SLOT puts", r, o.SymbolName(r.Sym))
			}
		})
	}
}

// elfImage is a test's view of an object's bytes, for patching them.
type elfImage struct {
	tb   testing.TB
	data []byte
	obj  *object.Object
}

func newImage(tb testing.TB, data []byte) *elfImage {
	tb.Helper()
	obj, err := object.ParseBytes("original", data)
	if err != nil {
		tb.Fatal(err)
	}
	return &elfImage{tb: tb, data: bytes.Clone(data), obj: obj}
}

var le = binary.LittleEndian

// off returns the file offset of the link-time address addr.
func (m *elfImage) off(addr uint64) int {
	for _, p := range m.obj.Progs {
		if p.Type == elf.PT_LOAD && addr >= p.Vaddr && addr < p.Vaddr+p.Filesz {
			return int(p.Off + addr - p.Vaddr)
		}
	}
	m.tb.Fatalf("address %#x is in no segment", addr)
	return 0
}

// phdr returns the file offset of the first program header of type typ.
func (m *elfImage) phdr(typ elf.ProgType) int {
	phoff := int(le.Uint64(m.data[32:]))
	for i := range int(le.Uint16(m.data[56:])) {
		at := phoff + 56*i
		if elf.ProgType(le.Uint32(m.data[at:])) == typ {
			return at
		}
	}
	m.tb.Fatalf("no program header of type %v", typ)
	return 0
}

// dyn returns the file offset of the value of the dynamic entry tag.
func (m *elfImage) dyn(tag elf.DynTag) int {
	at := m.off(m.obj.Dynamic.Addr)
	for ; ; at += 16 {
		switch elf.DynTag(le.Uint64(m.data[at:])) {
		case tag:
			return at + 8
		case elf.DT_NULL:
			m.tb.Fatalf("no dynamic entry %v", tag)
		}
	}
}

// dynVal returns the value of the dynamic entry tag.
func (m *elfImage) dynVal(tag elf.DynTag) uint64 { return le.Uint64(m.data[m.dyn(tag):]) }

func (m *elfImage) put16(at int, v uint16) { le.PutUint16(m.data[at:], v) }
func (m *elfImage) put32(at int, v uint32) { le.PutUint32(m.data[at:], v) }
func (m *elfImage) put64(at int, v uint64) { le.PutUint64(m.data[at:], v) }
