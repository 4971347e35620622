package object_test

import (
	"bytes"
	"debug/elf"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/ldgo/ldgo/internal/testelf"
	"github.com/ldgo/ldgo/object"
)

// The two hash functions as their specifications publish them, in C: the
// System V ABI's elf_hash (DT_HASH, and the hash of every version name)
// and glibc's dl_new_hash (dl-hash.h; DT_GNU_HASH, Bernstein's h*33+c).
// Each name is given in hex after an "x" (so that the empty name is an
// argument too), and bytes above 0x7f reach the functions as they are:
// they must be read as unsigned.
const hashOracle = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long elf_hash(const unsigned char *name) {
	unsigned long h = 0, g;
	while (*name) {
		h = (h << 4) + *name++;
		if ((g = h & 0xf0000000))
			h ^= g >> 24;
		h &= ~g;
	}
	return h;
}

static unsigned int dl_new_hash(const char *s) {
	unsigned int h = 5381;
	for (unsigned char c = *s; c != '\0'; c = *++s)
		h = h * 33 + c;
	return h;
}

int main(int argc, char **argv) {
	for (int i = 1; i < argc; i++) {
		char name[4096];
		const char *hex = argv[i] + 1;
		size_t n = strlen(hex) / 2;
		for (size_t j = 0; j < n; j++)
			sscanf(hex + 2 * j, "%2hhx", &name[j]);
		name[n] = '\0';
		printf("%08lx %08x\n", elf_hash((unsigned char *)name), dl_new_hash(name));
	}
	return 0;
}
`

// TestHashFunctionsVsPublishedAlgorithms compares SysVHash and GNUHash
// with the published algorithms compiled by gcc.
func TestHashFunctionsVsPublishedAlgorithms(t *testing.T) {
	names := []string{
		"",
		"printf",
		"exit",
		"__libc_start_main",
		"GLIBC_2.2.5",
		"_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE9_M_createERmm",
		"\xff\x80\xfe\x01", // bytes with the high bit set
		strings.Repeat("z", 300),
	}
	d := testelf.New(t)
	oracle := d.Build("hash", hashOracle)
	var args []string
	for _, n := range names {
		args = append(args, fmt.Sprintf("x%x", n))
	}
	want := d.Lines(nil, oracle, args...)
	if len(want) != len(names) {
		t.Fatalf("oracle printed %d lines for %d names:\n%s", len(want), len(names), strings.Join(want, "\n"))
	}
	for i, name := range names {
		got := fmt.Sprintf("%08x %08x", object.SysVHash(name), object.GNUHash(name))
		if got != want[i] {
			t.Errorf("%q: SysVHash, GNUHash = %s, published algorithms give %s", name, got, want[i])
		}
	}
}

// hashTables reads an object's hash sections and dynamic symbols with
// debug/elf, as GNU ld wrote them.
type hashTables struct {
	syms []elf.Symbol // index i is dynsym entry i+1
	gnu  []byte       // .gnu.hash
	sysv []byte       // .hash
}

func readHashTables(t *testing.T, data []byte) hashTables {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var h hashTables
	if h.syms, err = f.DynamicSymbols(); err != nil {
		t.Fatal(err)
	}
	if s := f.Section(".gnu.hash"); s != nil {
		h.gnu, _ = s.Data()
	}
	if s := f.Section(".hash"); s != nil {
		h.sysv, _ = s.Data()
	}
	return h
}

// checkGNUTable checks every symbol of a DT_GNU_HASH table against
// GNUHash: ld stores each hashed symbol's hash in its chain word (the low
// bit aside), and its bucket is the first of the symbol's chain.
func checkGNUTable(t *testing.T, h hashTables) int {
	t.Helper()
	nbuckets, symoffset := le.Uint32(h.gnu), le.Uint32(h.gnu[4:])
	bloomSize := le.Uint32(h.gnu[8:])
	buckets := h.gnu[16+8*bloomSize:]
	chains := buckets[4*nbuckets:]
	checked := 0
	for i := symoffset; int(i) <= len(h.syms); i++ {
		name := h.syms[i-1].Name
		hash := object.GNUHash(name)
		if w := le.Uint32(chains[4*(i-symoffset):]); w|1 != hash|1 {
			t.Errorf("symbol %d %q: chain word %#x, GNUHash %#x", i, name, w, hash)
		}
		if first := le.Uint32(buckets[4*(hash%nbuckets):]); first == 0 || first > i {
			t.Errorf("symbol %d %q: its bucket's chain starts at %d", i, name, first)
		}
		checked++
	}
	return checked
}

// checkSysVTable checks that every symbol of a DT_HASH table is on the
// chain of its SysVHash bucket.
func checkSysVTable(t *testing.T, h hashTables) int {
	t.Helper()
	nbucket, nchain := le.Uint32(h.sysv), le.Uint32(h.sysv[4:])
	bucket := func(i uint32) uint32 { return le.Uint32(h.sysv[8+4*i:]) }
	chain := func(i uint32) uint32 { return le.Uint32(h.sysv[8+4*nbucket+4*i:]) }
	checked := 0
	for i := uint32(1); i < nchain; i++ {
		name := h.syms[i-1].Name
		found := false
		for j, n := bucket(object.SysVHash(name)%nbucket), 0; j != 0 && n < int(nchain); j, n = chain(j), n+1 {
			found = found || j == i
		}
		if !found {
			t.Errorf("symbol %d %q is not on its SysVHash bucket's chain", i, name)
		}
		checked++
	}
	return checked
}

// TestHashTablesWrittenByLd checks both hash functions against the tables
// GNU ld wrote: the system's libc (DT_GNU_HASH only, on Debian) and a
// gcc-built library with both tables.
func TestHashTablesWrittenByLd(t *testing.T) {
	libc := openReal(t, libcPath)
	h := readHashTables(t, libc.Data())
	if h.gnu == nil {
		t.Fatalf("%s has no .gnu.hash", libcPath)
	}
	if n := checkGNUTable(t, h); n < 1000 {
		t.Errorf("checked %d symbols of libc's GNU hash table, want more than 1000", n)
	}
	lib := readHashTables(t, testLib(t, "both"))
	if lib.gnu == nil || lib.sysv == nil {
		t.Fatal("the library built with --hash-style=both lacks a table")
	}
	if checkGNUTable(t, lib) == 0 || checkSysVTable(t, lib) == 0 {
		t.Error("the library's tables hash no symbol")
	}
}

// TestVersionHashesWrittenByLd checks SysVHash against the hashes ld
// stored for every version name libc defines (vd_hash) and every version
// ls needs (vna_hash).
func TestVersionHashesWrittenByLd(t *testing.T) {
	libc := openReal(t, libcPath)
	if len(libc.Verdefs) < 30 {
		t.Fatalf("libc defines %d versions, want more than 30", len(libc.Verdefs))
	}
	for _, vd := range libc.Verdefs {
		if h := object.SysVHash(vd.Name); h != vd.Hash {
			t.Errorf("libc's version %s: vd_hash %#x, SysVHash %#x", vd.Name, vd.Hash, h)
		}
	}
	ls := openReal(t, lsPath)
	for _, vn := range ls.Verneeds {
		for _, a := range vn.Aux {
			if h := object.SysVHash(a.Name); h != a.Hash {
				t.Errorf("ls needs %s from %s: vna_hash %#x, SysVHash %#x", a.Name, vn.File, a.Hash, h)
			}
		}
	}
}

// TestEveryLibcSymbolFoundByItsHash looks every defined dynamic symbol of
// libc up through the object's own hash table walk (Bloom filter, bucket,
// chain): each must be among the candidates of its name.
func TestEveryLibcSymbolFoundByItsHash(t *testing.T) {
	libc := openReal(t, libcPath)
	h := readHashTables(t, libc.Data())
	n := 0
	for i, s := range h.syms {
		if s.Section == elf.SHN_UNDEF {
			continue
		}
		idx := uint32(i + 1)
		hash := object.NewHash(s.Name)
		found := false
		libc.Candidates(&hash, func(c uint32) bool {
			found = c == idx
			return !found
		})
		if !found {
			t.Errorf("symbol %d %q (%s) is not found by its hash", idx, s.Name, strconv.Quote(s.Version))
		}
		n++
	}
	if n < 1000 {
		t.Errorf("looked up %d symbols, want more than 1000", n)
	}
}
