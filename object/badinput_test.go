package object_test

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/ldgo/ldgo/object"
)

// checkError requires err to be an *object.Error that names the file and
// says cause, and, when is is set, that errors.Is(err, is).
func checkError(t *testing.T, err error, name, cause string, is error) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", cause)
	}
	var oe *object.Error
	if !errors.As(err, &oe) {
		t.Fatalf("error %q (%T) is not an *object.Error", err, err)
	}
	if oe.Name != name || !strings.HasPrefix(err.Error(), name+": ") {
		t.Errorf("error %q does not name %s", err, name)
	}
	if !strings.Contains(err.Error(), cause) {
		t.Errorf("error %q, want %q", err, cause)
	}
	if is != nil && !errors.Is(err, is) {
		t.Errorf("error %q is not %v", err, is)
	}
}

// parse reads data as the object named name; the copy has exactly
// len(data) bytes of capacity, so a read past the end panics rather than
// finding the rest of a larger buffer.
func parse(name string, data []byte) (*object.Object, error) {
	exact := make([]byte, len(data))
	copy(exact, data)
	return object.ParseBytes(name, exact)
}

func TestFilesThatAreNotObjects(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.so")
	short := filepath.Join(dir, "short.so")
	text := filepath.Join(dir, "text.so")
	os.WriteFile(empty, nil, 0o644)
	os.WriteFile(short, []byte("\x7fELF\x02\x01\x01"), 0o644)
	os.WriteFile(text, []byte(strings.Repeat("not an ELF file\n", 8)), 0o644)

	// Opened, a FIFO would wait for a writer (glibc's ld.so waits for
	// ever); it is refused at once.
	fifo := filepath.Join(dir, "fifo.so")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		path, cause string
	}{
		{empty, "file too short"},
		{short, "file too short"},
		{text, "invalid ELF header"},
		{dir, "cannot read file data: Is a directory"},
		{fifo, "not a regular file"},
		{"/dev/null", "not a regular file"},
		{filepath.Join(dir, "missing.so"), object.CauseOpen + ": No such file or directory"},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			f, err := object.Open(tc.path)
			if err == nil {
				f.Close()
			}
			checkError(t, err, tc.path, tc.cause, nil)
			f, err = object.OpenHeaders(tc.path)
			if err == nil {
				f.Close()
			}
			checkError(t, err, tc.path, tc.cause, nil)
			_, err = object.ReadProgramInfo(tc.path)
			checkError(t, err, tc.path, tc.cause, nil)
		})
	}
}

// A symbol whose name would start past the string table says so, where
// its name reads as empty.
func TestSymbolNameOutsideStringTable(t *testing.T) {
	m := newImage(t, testLib(t, "both"))
	h := object.NewHash("answer")
	var idx uint32
	m.obj.Candidates(&h, func(i uint32) bool { idx = i; return false })
	if idx == 0 {
		t.Fatal("no symbol answer")
	}
	if err := m.obj.CheckSymbolName(idx); err != nil {
		t.Fatalf("intact library: %v", err)
	}
	symtab, _, _, strsz := m.obj.DynamicSymbols()
	m.put32(m.off(symtab)+24*int(idx), uint32(strsz))
	o, err := parse("/tmp/hostile.so", m.data)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("symbol %d: name offset %#x outside the string table (%d bytes)", idx, strsz, strsz)
	if err := o.CheckSymbolName(idx); err == nil || err.Error() != want {
		t.Errorf("CheckSymbolName = %v, want %q", err, want)
	}
}

// A copy of a real library cut short anywhere inside its loaded segments
// is refused; cut after them (only section headers lost) it still reads.
func TestTruncated(t *testing.T) {
	files := map[string][]byte{"gcc-built lib.so": testLib(t, "both")}
	if libc, err := os.ReadFile(libcPath); err == nil {
		files[libcPath] = libc
	}
	for name, data := range files {
		full := newImage(t, data)
		var loadEnd uint64
		for _, p := range full.obj.Progs {
			if p.Type == elf.PT_LOAD {
				loadEnd = max(loadEnd, p.Off+p.Filesz)
			}
		}
		var lengths []int
		for n := range 65 {
			lengths = append(lengths, n)
		}
		for k := range 64 {
			lengths = append(lengths, k*len(data)/64)
		}
		lengths = append(lengths, int(loadEnd)-1, int(loadEnd), len(data)-1)
		for _, n := range lengths {
			o, err := parse(name, data[:n])
			if uint64(n) < loadEnd {
				if err == nil {
					t.Errorf("%s cut to %d bytes (segments end at %d): no error", name, n, loadEnd)
					continue
				}
				checkError(t, err, name, "", nil)
				continue
			}
			if err != nil {
				t.Errorf("%s cut to %d bytes, after its segments: %v", name, n, err)
			} else if o.NumSymbols() != full.obj.NumSymbols() {
				t.Errorf("%s cut to %d bytes: %d symbols, want %d", name, n, o.NumSymbols(), full.obj.NumSymbols())
			}
		}
	}
}

// A loader's open (OpenHeaders) reads the headers only: it refuses a
// file cut short inside its loaded segments, naming it, before anything
// is mapped, and keeps the descriptor of one that is whole.
func TestOpenHeadersTruncated(t *testing.T) {
	data := testLib(t, "both")
	full := newImage(t, data)
	var loadEnd uint64
	for _, p := range full.obj.Progs {
		if p.Type == elf.PT_LOAD {
			loadEnd = max(loadEnd, p.Off+p.Filesz)
		}
	}
	dir := t.TempDir()
	for _, n := range []int{0, 10, 63, 64, 100, 832, int(loadEnd) / 2, int(loadEnd) - 1, int(loadEnd), len(data)} {
		path := filepath.Join(dir, fmt.Sprintf("lib%d.so", n))
		if err := os.WriteFile(path, data[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := object.OpenHeaders(path)
		if uint64(n) < loadEnd {
			if err == nil {
				f.Close()
				t.Errorf("cut to %d bytes (segments end at %d): no error", n, loadEnd)
				continue
			}
			checkError(t, err, path, "", nil)
			continue
		}
		if err != nil {
			t.Errorf("cut to %d bytes, after its segments: %v", n, err)
			continue
		}
		if fd := f.TakeDescriptor(); fd < 0 {
			t.Errorf("cut to %d bytes: no descriptor kept", n)
		} else {
			syscall.Close(fd)
		}
		if len(f.Progs) != len(full.obj.Progs) || f.Dynamic != full.obj.Dynamic {
			t.Errorf("cut to %d bytes: program headers %v, dynamic %v; want %v, %v", n, f.Progs, f.Dynamic, full.obj.Progs, full.obj.Dynamic)
		}
		f.Close()
	}
}

// badCase is a real library with a few bytes changed, and the error the
// change must produce.
type badCase struct {
	name string
	lib  string // the test library's hash style, "both" when empty
	exe  bool   // patch the test executable instead
	// patch changes the image; it can read the original's tables.
	patch func(m *elfImage)
	cause string
	is    error
	// relocs says the object reads but its relocation tables do not.
	relocs bool
}

const far = 0x7fff_0000_0000 // an address in no segment

var badCases = []badCase{
	// The ELF header, in glibc's order and words.
	{name: "not ELF", patch: func(m *elfImage) { m.data[0] = 'X' }, cause: "invalid ELF header"},
	{name: "32-bit", patch: func(m *elfImage) { m.data[4] = byte(elf.ELFCLASS32) },
		cause: "wrong ELF class: ELFCLASS32", is: object.ErrOtherClass},
	{name: "aarch64", patch: func(m *elfImage) { m.put16(18, uint16(elf.EM_AARCH64)) },
		cause: "wrong machine EM_AARCH64", is: object.ErrOtherMachine},
	{name: "big-endian", patch: func(m *elfImage) { m.data[5] = byte(elf.ELFDATA2MSB) }, cause: "not little-endian"},
	{name: "relocatable", patch: func(m *elfImage) { m.put16(16, uint16(elf.ET_REL)) }, cause: "only ET_DYN and ET_EXEC"},
	{name: "phentsize", patch: func(m *elfImage) { m.put16(54, 32) }, cause: "phentsize"},

	// Program headers.
	{name: "phoff past EOF", patch: func(m *elfImage) { m.put64(32, uint64(len(m.data))) },
		cause: "program headers outside the file"},
	{name: "phoff wraps", patch: func(m *elfImage) { m.put64(32, 1<<64-8) },
		cause: "program headers outside the file"},
	{name: "phnum past EOF", patch: func(m *elfImage) { m.put16(56, 0xffff) },
		cause: "program headers outside the file"},
	{name: "no PT_LOAD", patch: func(m *elfImage) {
		for range 8 {
			if at := m.findPhdr(elf.PT_LOAD); at >= 0 {
				m.put32(at, uint32(elf.PT_NULL))
			}
		}
	}, cause: "no loadable segments"},
	{name: "PT_LOAD past EOF", patch: func(m *elfImage) { m.put64(m.phdr(elf.PT_LOAD)+32, uint64(len(m.data))+1) },
		cause: "file too short"},
	{name: "PT_LOAD offset past EOF", patch: func(m *elfImage) { m.put64(m.phdr(elf.PT_LOAD)+8, 1<<63) },
		cause: "file too short"},
	{name: "PT_LOAD filesz wraps", patch: func(m *elfImage) { m.put64(m.phdr(elf.PT_LOAD)+32, 1<<64-1) },
		cause: "file too short"},
	{name: "PT_LOAD misaligned", patch: func(m *elfImage) { m.put64(m.phdr(elf.PT_LOAD)+16, 1) },
		cause: "not page-aligned"},
	{name: "PT_LOAD filesz above memsz", patch: func(m *elfImage) {
		at := m.phdr(elf.PT_LOAD)
		m.put64(at+40, le.Uint64(m.data[at+32:])-1)
	}, cause: "file size beyond memory size"},
	{name: "PT_LOAD wraps", patch: func(m *elfImage) {
		at := m.phdr(elf.PT_LOAD)
		m.put64(at+16, 1<<64-pageSize)
		m.put64(at+40, 2*pageSize)
	}, cause: "wraps the address space"},
	{name: "PT_DYNAMIC outside", patch: func(m *elfImage) { m.put64(m.phdr(elf.PT_DYNAMIC)+16, far) },
		cause: "dynamic section outside the loaded segments"},
	{name: "PT_DYNAMIC past its segment", patch: func(m *elfImage) { m.put64(m.phdr(elf.PT_DYNAMIC)+40, 1<<40) },
		cause: "dynamic section outside the loaded segments"},
	{name: "PT_TLS alignment", patch: func(m *elfImage) { m.put64(m.phdr(elf.PT_TLS)+48, 3) },
		cause: "not a power of two"},
	{name: "PT_INTERP outside", exe: true, patch: func(m *elfImage) { m.put64(m.phdr(elf.PT_INTERP)+16, far) },
		cause: "PT_INTERP outside the loaded segments"},

	// Dynamic tags that point at or size tables.
	{name: "DT_STRTAB outside", patch: func(m *elfImage) { m.put64(m.dyn(elf.DT_STRTAB), far) },
		cause: "string table outside the loaded segments"},
	{name: "DT_STRSZ huge", patch: func(m *elfImage) { m.put64(m.dyn(elf.DT_STRSZ), 1<<62) },
		cause: "string table outside the loaded segments"},
	{name: "DT_NEEDED past DT_STRSZ", patch: func(m *elfImage) { m.put64(m.dyn(elf.DT_NEEDED), 1<<40) },
		cause: "outside the string table"},
	{name: "DT_RELAENT", patch: func(m *elfImage) { m.put64(m.dyn(elf.DT_RELAENT), 16) }, cause: "DT_RELAENT is 16"},
	{name: "DT_SYMENT", patch: func(m *elfImage) { m.put64(m.dyn(elf.DT_SYMENT), 16) }, cause: "DT_SYMENT is 16"},
	{name: "DT_PLTREL", patch: func(m *elfImage) { m.put64(m.dyn(elf.DT_PLTREL), uint64(elf.DT_REL)) },
		cause: "DT_PLTREL is not DT_RELA"},
	{name: "DT_SYMTAB outside (gnu)", lib: "gnu", patch: func(m *elfImage) { m.put64(m.dyn(elf.DT_SYMTAB), far) },
		cause: "symbol table"},
	{name: "DT_SYMTAB outside (sysv)", lib: "sysv", patch: func(m *elfImage) { m.put64(m.dyn(elf.DT_SYMTAB), far) },
		cause: "symbol table"},
	{name: "DT_VERSYM outside", patch: func(m *elfImage) { m.put64(m.dyn(elf.DT_VERSYM), far) },
		cause: "version symbol table outside"},

	// DT_GNU_HASH.
	{name: "DT_GNU_HASH outside", lib: "gnu", patch: func(m *elfImage) { m.put64(m.dyn(elf.DT_GNU_HASH), far) },
		cause: "GNU hash table outside"},
	{name: "GNU hash nbuckets huge", lib: "gnu", patch: func(m *elfImage) { m.put32(m.gnuHash(), 0xffff_ffff) },
		cause: "GNU hash buckets outside"},
	{name: "GNU hash bloom size", lib: "gnu", patch: func(m *elfImage) { m.put32(m.gnuHash()+8, 3) },
		cause: "bloom filter size 3 is not a power of two"},
	{name: "GNU hash bloom huge", lib: "gnu", patch: func(m *elfImage) { m.put32(m.gnuHash()+8, 1<<31) },
		cause: "bloom filter outside"},
	{name: "GNU hash symoffset huge", lib: "gnu", patch: func(m *elfImage) { m.put32(m.gnuHash()+4, 0xffff_fff0) },
		cause: "below the first hashed symbol 4294967280"},
	// Without the end bit, the last chain would run on into the symbol
	// table, whose words would give a symbol count of their own.
	{name: "GNU hash chain without an end", lib: "gnu", patch: func(m *elfImage) {
		at := m.lastChainEnd()
		m.put32(at, le.Uint32(m.data[at:])&^1)
	}, cause: "has no end: the chain array ends at symbol"},

	// DT_HASH.
	{name: "DT_HASH outside", lib: "sysv", patch: func(m *elfImage) { m.put64(m.dyn(elf.DT_HASH), far) },
		cause: "hash table outside"},
	{name: "DT_HASH nbuckets huge", lib: "sysv", patch: func(m *elfImage) { m.put32(m.sysvHash(), 0xffff_ffff) },
		cause: "hash buckets outside"},
	{name: "DT_HASH claims 2^31 symbols", lib: "sysv", patch: func(m *elfImage) { m.put32(m.sysvHash()+4, 1<<31) },
		cause: "hash chains outside"},

	// Version needs: the test library needs versions of libc.so.6 and
	// ld-linux-x86-64.so.2.
	{name: "DT_VERNEED outside", patch: func(m *elfImage) { m.put64(m.dyn(elf.DT_VERNEED), far) },
		cause: "version needs outside"},
	{name: "vn_version", patch: func(m *elfImage) { m.put16(m.verneed(), 2) },
		cause: "unsupported version 2 of Verneed record"},
	{name: "vn_next cycles", patch: func(m *elfImage) { m.put32(m.verneed()+12, 4) },
		cause: "Verneed record overlaps"},
	{name: "vn_next past the segment", patch: func(m *elfImage) { m.put32(m.verneed()+12, 0xffff_fff0) },
		cause: "version needs outside"},
	{name: "vn_aux past the segment", patch: func(m *elfImage) { m.put32(m.verneed()+8, 0xffff_fff0) },
		cause: "version needs outside"},
	{name: "vna_next cycles", patch: func(m *elfImage) {
		at := m.verneed()
		m.put32(at+int(le.Uint32(m.data[at+8:]))+12, 8)
	}, cause: "Vernaux record overlaps"},
	{name: "vna_next past the segment", patch: func(m *elfImage) {
		at := m.verneed()
		m.put32(at+int(le.Uint32(m.data[at+8:]))+12, 0xffff_fff0)
	}, cause: "version needs outside"},

	// Version definitions: the base version and VERS_1.
	{name: "DT_VERDEF outside", patch: func(m *elfImage) { m.put64(m.dyn(elf.DT_VERDEF), far) },
		cause: "version definitions outside"},
	{name: "vd_version", patch: func(m *elfImage) { m.put16(m.verdef(), 0) },
		cause: "unsupported version 0 of Verdef record"},
	{name: "vd_next cycles", patch: func(m *elfImage) { m.put32(m.verdef()+16, 4) },
		cause: "Verdef record overlaps"},
	{name: "vd_next past the segment", patch: func(m *elfImage) { m.put32(m.verdef()+16, 0xffff_fff0) },
		cause: "version definitions outside"},
	{name: "vd_aux past the segment", patch: func(m *elfImage) { m.put32(m.verdef()+12, 0xffff_fff0) },
		cause: "version definitions outside"},

	// Relocation tables are read when the linker relocates.
	{name: "DT_RELASZ huge", relocs: true, patch: func(m *elfImage) { m.put64(m.dyn(elf.DT_RELASZ), 1<<31*24) },
		cause: "DT_RELA relocation table outside the loaded segments (51539607552 bytes at 0x"},
	{name: "DT_RELASZ 2^64-256", relocs: true, patch: func(m *elfImage) { m.put64(m.dyn(elf.DT_RELASZ), 1<<64-256) },
		cause: "DT_RELA relocation table outside the loaded segments (18446744073709551360 bytes at 0x"},
	{name: "DT_RELASZ odd", relocs: true, patch: func(m *elfImage) { m.put64(m.dyn(elf.DT_RELASZ), 25) },
		cause: "DT_RELA relocation table size 25 is not a multiple of 24"},
	{name: "DT_RELA outside", relocs: true, patch: func(m *elfImage) { m.put64(m.dyn(elf.DT_RELA), far) },
		cause: "DT_RELA relocation table outside the loaded segments"},
	{name: "DT_PLTRELSZ huge", relocs: true, patch: func(m *elfImage) { m.put64(m.dyn(elf.DT_PLTRELSZ), 1<<40*24) },
		cause: "DT_JMPREL relocation table outside"},
	{name: "DT_JMPREL outside", relocs: true, patch: func(m *elfImage) { m.put64(m.dyn(elf.DT_JMPREL), far) },
		cause: "DT_JMPREL relocation table outside the loaded segments ("},
	{name: "DT_RELRSZ huge", relocs: true, patch: func(m *elfImage) { m.put64(m.dyn(object.DT_RELRSZ), 1<<62) },
		cause: "DT_RELR table outside the loaded segments (4611686018427387904 bytes at 0x"},
}

const pageSize = 4096

func (m *elfImage) findPhdr(typ elf.ProgType) int {
	phoff := int(le.Uint64(m.data[32:]))
	for i := range int(le.Uint16(m.data[56:])) {
		if at := phoff + 56*i; elf.ProgType(le.Uint32(m.data[at:])) == typ {
			return at
		}
	}
	return -1
}

// lastChainEnd returns the file offset of the chain word that ends the
// GNU hash table's last chain.
func (m *elfImage) lastChainEnd() int {
	var sym uint32
	h := m.gnuHash()
	nbuckets, symoffset, bloom := le.Uint32(m.data[h:]), le.Uint32(m.data[h+4:]), le.Uint32(m.data[h+8:])
	buckets := h + 16 + 8*int(bloom)
	chains := buckets + 4*int(nbuckets)
	for i := range int(nbuckets) {
		sym = max(sym, le.Uint32(m.data[buckets+4*i:]))
	}
	for ; ; sym++ {
		if at := chains + 4*int(sym-symoffset); le.Uint32(m.data[at:])&1 != 0 {
			return at
		}
	}
}

// The file offsets of the tables the dynamic section points at.
func (m *elfImage) gnuHash() int  { return m.off(m.dynVal(elf.DT_GNU_HASH)) }
func (m *elfImage) sysvHash() int { return m.off(m.dynVal(elf.DT_HASH)) }
func (m *elfImage) verneed() int  { return m.off(m.dynVal(elf.DT_VERNEED)) }
func (m *elfImage) verdef() int   { return m.off(m.dynVal(elf.DT_VERDEF)) }

func TestBadInput(t *testing.T) {
	for _, tc := range badCases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			var orig []byte
			switch {
			case tc.exe:
				orig = gccBuild(t, exeSource, exeFlags...)
			case tc.lib != "":
				orig = testLib(t, tc.lib)
			default:
				orig = testLib(t, "both")
			}
			m := newImage(t, orig)
			tc.patch(m)
			const name = "/tmp/hostile.so"
			o, err := parse(name, m.data)
			if tc.relocs {
				if err != nil {
					t.Fatalf("the object does not read: %v", err)
				}
				err = readRelocs(o)
			}
			checkError(t, err, name, tc.cause, tc.is)
		})
	}
}

// readRelocs reads the relocation tables as the linker does and returns
// the first error.
func readRelocs(o *object.Object) error {
	for _, r := range []object.Range{o.Dyn.Rela, o.Dyn.JmpRel} {
		if _, err := o.Relas(r); err != nil {
			return err
		}
	}
	return o.Relr(func(uint64) {})
}

// A library with a large initialised array, whose bytes can be rewritten
// into tables that are large for their file.
const padSize = 1 << 17

const padLibSource = `
#include <stdio.h>
char pad[131072] = {1};
int foo(void) { return puts(pad); }
`

// padImage returns the pad library and the file offset and address of
// its array.
func padImage(t *testing.T) (m *elfImage, off int, addr uint64) {
	m = newImage(t, gccBuild(t, padLibSource, "-shared", "-fPIC", "-Wl,-z,noseparate-code"))
	h := object.NewHash("pad")
	m.obj.Candidates(&h, func(idx uint32) bool {
		addr = m.obj.Symbol(idx).Value
		return false
	})
	if addr == 0 {
		t.Fatal("no symbol pad")
	}
	return m, m.off(addr), addr
}

// Reading an object costs memory in proportion to its file at most,
// however large the counts it states and however often its tables refer
// to the same bytes.
func TestMemoryBounded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		image func(t *testing.T) *elfImage
	}{
		{"DT_HASH claims 2^31 symbols", func(t *testing.T) *elfImage {
			m := newImage(t, testLib(t, "sysv"))
			m.put32(m.sysvHash()+4, 1<<31)
			return m
		}},
		{"GNU hash with 2^32-1 buckets", func(t *testing.T) *elfImage {
			m := newImage(t, testLib(t, "gnu"))
			m.put32(m.gnuHash(), 0xffff_ffff)
			return m
		}},
		{"2^31 relocations", func(t *testing.T) *elfImage {
			m := newImage(t, testLib(t, "both"))
			m.put64(m.dyn(elf.DT_RELASZ), 1<<31*24)
			m.put64(m.dyn(elf.DT_PLTRELSZ), 1<<31*24)
			m.put64(m.dyn(object.DT_RELRSZ), 1<<31*8)
			return m
		}},
		{"2^31 version records", func(t *testing.T) *elfImage {
			m := newImage(t, testLib(t, "both"))
			m.put64(m.dyn(elf.DT_VERNEEDNUM), 1<<31)
			m.put64(m.dyn(elf.DT_VERDEFNUM), 1<<31)
			return m
		}},
		{"version index 0x7fff", func(t *testing.T) *elfImage {
			m := newImage(t, testLib(t, "both"))
			at := m.verneed()
			m.put16(at+int(le.Uint32(m.data[at+8:]))+6, 0xffff)
			return m
		}},
		{"thousands of DT_NEEDED naming one long string", func(t *testing.T) *elfImage {
			// The array's first half becomes a string table holding one
			// string of 64 KiB, its second half a dynamic section whose
			// entries all name that string.
			m, off, addr := padImage(t)
			for i := range padSize / 2 {
				m.data[off+i] = 'a'
			}
			dyn := off + padSize/2
			m.put64(dyn, uint64(elf.DT_STRTAB))
			m.put64(dyn+8, addr)
			m.put64(dyn+16, uint64(elf.DT_STRSZ))
			m.put64(dyn+24, padSize/2)
			for at := dyn + 32; at < off+padSize-16; at += 16 {
				m.put64(at, uint64(elf.DT_NEEDED))
				m.put64(at+8, 0)
			}
			m.put64(off+padSize-16, uint64(elf.DT_NULL))
			ph := m.phdr(elf.PT_DYNAMIC)
			m.put64(ph+8, uint64(dyn))
			m.put64(ph+16, addr+padSize/2)
			m.put64(ph+32, padSize/2)
			m.put64(ph+40, padSize/2)
			return m
		}},
		{"thousands of Verneed records sharing their Vernaux chain", func(t *testing.T) *elfImage {
			// N Verneed records whose vn_aux all lead to one chain of N
			// Vernaux records: N*N versions from N*32 bytes.
			m, off, addr := padImage(t)
			const n = padSize / 32
			for i := range n {
				at := off + 16*i
				m.put16(at, 1)                           // vn_version
				m.put16(at+2, n)                         // vn_cnt
				m.put32(at+8, uint32(16*(n-i)))          // vn_aux: the shared chain
				m.put32(at+12, uint32(16*min(1, n-1-i))) // vn_next
				aux := off + 16*n + 16*i
				m.put32(aux, 1)                           // vna_hash
				m.put16(aux+6, 2)                         // vna_other
				m.put32(aux+12, uint32(16*min(1, n-1-i))) // vna_next
			}
			m.put64(m.dyn(elf.DT_VERNEED), addr)
			return m
		}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			m := tc.image(t)
			data := m.data
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			o, err := object.ParseBytes("big.so", data)
			if err == nil {
				err = readRelocs(o)
			}
			runtime.ReadMemStats(&after)
			used := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d-byte file: %v; allocated %d bytes", len(data), err, used)
			if limit := 2*uint64(len(data)) + 2<<20; used > limit {
				t.Errorf("reading a %d-byte file allocated %d bytes, more than %d", len(data), used, limit)
			}
			runtime.KeepAlive(o)
		})
	}
}
