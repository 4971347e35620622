package input_test

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ldgo/ldgo/link/input"
)

var le = binary.LittleEndian

// The inputs are gcc-built objects, and archives made of them by ar.

const objectSource = `
#include <stdio.h>
static int local_counter;
int global_counter = 3;
const char *message = "hello";
extern "C" int external(int);
__attribute__((noinline)) inline int comdat_helper(int v) { return v * 2; }
int (*pointer)(int) = external;
extern "C" int use(int v) { local_counter++; printf("%s %d\n", message, v); return external(v) + comdat_helper(v) + global_counter; }
`

var built struct {
	once sync.Once
	dir  string
	err  error
}

// build compiles the fixtures once: obj.o (C++, for COMDAT groups), and
// archives of it and another object, GNU and thin.
func build(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("g++"); err != nil {
		t.Skip("g++ not installed")
	}
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "ldgo-input-")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		run := func(name string, args ...string) {
			if built.err != nil {
				return
			}
			cmd := exec.Command(name, args...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				built.err = errors.New(name + " " + strings.Join(args, " ") + ": " + err.Error() + "\n" + string(out))
			}
		}
		os.WriteFile(filepath.Join(dir, "obj.cc"), []byte(objectSource), 0o644)
		os.WriteFile(filepath.Join(dir, "a_member_with_a_long_name.c"), []byte("int other(void) { return 1; }\n"), 0o644)
		run("g++", "-O1", "-fPIC", "-c", "obj.cc")
		run("gcc", "-c", "a_member_with_a_long_name.c")
		run("ar", "rcs", "lib.a", "obj.o", "a_member_with_a_long_name.o")
		run("ar", "rcsT", "thin.a", "obj.o", "a_member_with_a_long_name.o")
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

func read(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(build(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestObject(t *testing.T) {
	f, err := input.Open(filepath.Join(build(t), "obj.o"))
	if err != nil {
		t.Fatal(err)
	}
	o, ok := f.(*input.Object)
	if !ok {
		t.Fatalf("obj.o read as %T", f)
	}
	names := map[string]*input.Section{}
	for _, s := range o.Sections {
		if s != nil {
			names[s.Name] = s
		}
	}
	for _, want := range []string{".text", ".data", ".eh_frame", ".text._Z13comdat_helperi"} {
		if names[want] == nil {
			t.Errorf("no section %s", want)
		}
	}
	if s := names[".text"]; s == nil || s.Relocs.Len() == 0 {
		t.Errorf(".text has no relocations")
	}
	if s := names[".eh_frame"]; s == nil || len(s.EhRecords) < 2 || !s.EhRecords[0].CIE {
		t.Errorf(".eh_frame records: %+v", s)
	}
	var group *input.Group
	for _, g := range o.Groups {
		if g.Signature == "_Z13comdat_helperi" {
			group = g
		}
	}
	if group == nil || !group.COMDAT {
		t.Fatalf("no COMDAT group _Z13comdat_helperi: %+v", o.Groups)
	}
	syms := map[string]input.Symbol{}
	for _, s := range o.Symbols {
		syms[s.Name] = s
	}
	if s, ok := syms["external"]; !ok || s.Defined() {
		t.Errorf("external: %+v", s)
	}
	if s, ok := syms["use"]; !ok || !s.Defined() || s.Sym.Type() != elf.STT_FUNC {
		t.Errorf("use: %+v", s)
	}
	if o.SourceName != "obj.cc" {
		t.Errorf("source name %q", o.SourceName)
	}
	if !o.HasGNUStack || o.ExecStack {
		t.Errorf("GNU stack note: has %v, exec %v", o.HasGNUStack, o.ExecStack)
	}
}

func TestArchive(t *testing.T) {
	for _, name := range []string{"lib.a", "thin.a"} {
		f, err := input.Open(filepath.Join(build(t), name))
		if err != nil {
			t.Fatal(err)
		}
		a, ok := f.(*input.Archive)
		if !ok {
			t.Fatalf("%s read as %T", name, f)
		}
		if a.Thin != (name == "thin.a") || !a.HasIndex {
			t.Errorf("%s: thin %v, index %v", name, a.Thin, a.HasIndex)
		}
		byName := map[string]uint64{}
		for _, e := range a.Index {
			byName[e.Name] = e.Member
		}
		off, ok := byName["other"]
		if !ok {
			t.Fatalf("%s: index lacks other: %+v", name, a.Index)
		}
		m, err := a.Member(off)
		if err != nil {
			t.Fatal(err)
		}
		if m.Name != "a_member_with_a_long_name.o" {
			t.Errorf("%s: member name %q", name, m.Name)
		}
		if _, err := input.ParseObject(a.ObjectName(m), m.Data); err != nil {
			t.Errorf("%s: member: %v", name, err)
		}
		ms, err := a.Members()
		if err != nil || len(ms) != 2 {
			t.Errorf("%s: members %v, %v", name, ms, err)
		}
	}
}

// section returns the section header at index i of an object.
type elfFile struct {
	data  []byte
	shoff uint64
	shnum int
}

func parseHeaders(t *testing.T, data []byte) *elfFile {
	return &elfFile{data: data, shoff: le.Uint64(data[40:]), shnum: int(le.Uint16(data[60:]))}
}

func (e *elfFile) shdr(i int) []byte { return e.data[e.shoff+uint64(i)*64:] }

// find returns the index of the first section of type typ.
func (e *elfFile) find(typ elf.SectionType) int {
	for i := 0; i < e.shnum; i++ {
		if elf.SectionType(le.Uint32(e.shdr(i)[4:])) == typ {
			return i
		}
	}
	return -1
}

func (e *elfFile) contents(i int) []byte {
	h := e.shdr(i)
	return e.data[le.Uint64(h[24:]) : le.Uint64(h[24:])+le.Uint64(h[32:])]
}

// TestHostileObjects patches a gcc-built object: each damage must be an
// error naming the file and the cause, never a panic.
func TestHostileObjects(t *testing.T) {
	good := read(t, "obj.o")
	cases := []struct {
		name  string
		patch func(e *elfFile)
		cause string
	}{
		{"relocation offset past its section", func(e *elfFile) {
			le.PutUint64(e.contents(e.find(elf.SHT_RELA)), 1<<40)
		}, "outside the section"},
		{"relocation symbol out of range", func(e *elfFile) {
			r := e.contents(e.find(elf.SHT_RELA))
			le.PutUint64(r[8:], 0xffffff<<32|uint64(elf.R_X86_64_PC32))
		}, "symbol index"},
		{"unknown relocation type", func(e *elfFile) {
			r := e.contents(e.find(elf.SHT_RELA))
			le.PutUint32(r[8:], 200)
		}, "unsupported relocation type"},
		{"relocations of themselves", func(e *elfFile) {
			i := e.find(elf.SHT_RELA)
			le.PutUint32(e.shdr(i)[44:], uint32(i))
		}, "cannot be relocated"},
		{"group containing itself", func(e *elfFile) {
			i := e.find(elf.SHT_GROUP)
			le.PutUint32(e.contents(i)[4:], uint32(i))
		}, "not a section that can be grouped"},
		{"symbol section out of range", func(e *elfFile) {
			st := e.contents(e.find(elf.SHT_SYMTAB))
			le.PutUint16(st[24+6:], 0xfe00)
		}, "out of range"},
		{"section name outside the name table", func(e *elfFile) {
			le.PutUint32(e.shdr(1), 0xffffff)
		}, "name offset"},
		{"section outside the file", func(e *elfFile) {
			le.PutUint64(e.shdr(1)[24:], 1<<40)
		}, "outside the file"},
		{"section headers outside the file", func(e *elfFile) {
			le.PutUint64(e.data[40:], 1<<40)
		}, "section headers"},
		{"too many section headers", func(e *elfFile) {
			le.PutUint16(e.data[60:], 0xfff0)
		}, "do not fit"},
		{"symbol table with a bad entry size", func(e *elfFile) {
			le.PutUint64(e.shdr(e.find(elf.SHT_SYMTAB))[56:], 23)
		}, "symbol table"},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			data := append([]byte(nil), good...)
			c.patch(parseHeaders(t, data))
			_, err := input.ParseObject("bad.o", data)
			checkError(t, err, "bad.o", c.cause)
		})
	}
	// Cut short anywhere.
	for n := 0; n < len(good); n += 1 + len(good)/97 {
		if _, err := input.ParseObject("cut.o", good[:n]); err != nil {
			checkError(t, err, "cut.o", "")
		}
	}
}

func checkError(t *testing.T, err error, file, cause string) {
	t.Helper()
	var ie *input.Error
	if !errors.As(err, &ie) || ie.File != file {
		t.Fatalf("error %v (%T) does not name %s", err, err, file)
	}
	if !strings.Contains(ie.Cause, cause) {
		t.Errorf("error %q lacks %q", err, cause)
	}
}

// TestHostileArchives damages an archive's headers and index.
func TestHostileArchives(t *testing.T) {
	good := read(t, "lib.a")
	cases := []struct {
		name  string
		patch func(d []byte) []byte
		cause string
	}{
		{"bad member header magic", func(d []byte) []byte { d[8+58] = 'x'; return d }, "bad member header"},
		{"member size past the end", func(d []byte) []byte { copy(d[8+48:8+58], "9999999999"); return d }, "past the end"},
		{"member size not a number", func(d []byte) []byte { copy(d[8+48:8+58], "12z4      "); return d }, "bad member size"},
		{"index count too large", func(d []byte) []byte { binary.BigEndian.PutUint32(d[8+60:], 1<<30); return d }, "does not fit"},
		{"truncated header", func(d []byte) []byte { return d[:8+30] }, "truncated"},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			_, err := input.ParseArchive("bad.a", c.patch(append([]byte(nil), good...)))
			checkError(t, err, "bad.a", c.cause)
		})
	}
	// An index entry pointing anywhere is an error when the member is read.
	a, err := input.ParseArchive("lib.a", good)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []uint64{0, 9, uint64(len(good)) - 10, uint64(len(good)) + 100, 1 << 62} {
		if _, err := a.Member(off); err == nil {
			t.Errorf("member at %#x read", off)
		} else {
			checkError(t, err, "lib.a", "")
		}
	}
}

func TestScript(t *testing.T) {
	s, err := input.ParseScript("libc.so", []byte(`/* GNU ld script */
OUTPUT_FORMAT(elf64-x86-64)
SEARCH_DIR("=/usr/lib")
GROUP ( /lib/x86_64-linux-gnu/libc.so.6 /usr/lib/x86_64-linux-gnu/libc_nonshared.a  AS_NEEDED ( /lib64/ld-linux-x86-64.so.2 ) -lgcc )
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range s.Entries {
		switch {
		case e.GroupStart:
			got = append(got, "(")
		case e.GroupEnd:
			got = append(got, ")")
		default:
			n := e.Name
			if e.Library {
				n = "-l" + n
			}
			if e.AsNeeded {
				n += "[as-needed]"
			}
			got = append(got, n)
		}
	}
	want := "( /lib/x86_64-linux-gnu/libc.so.6 /usr/lib/x86_64-linux-gnu/libc_nonshared.a /lib64/ld-linux-x86-64.so.2[as-needed] -lgcc )"
	if strings.Join(got, " ") != want || len(s.SearchDirs) != 1 {
		t.Errorf("entries %s, search dirs %v", strings.Join(got, " "), s.SearchDirs)
	}
	for text, cause := range map[string]string{
		"SECTIONS { .text : { *(.text) } }": "1: SECTIONS is not supported",
		"GROUP ( a.o":                       "unterminated GROUP",
		"/* open":                           "unterminated comment",
		"\nOUTPUT_FORMAT(elf32-i386)":       "2: output format",
	} {
		_, err := input.ParseScript("x.lds", []byte(text))
		checkError(t, err, "x.lds", cause)
	}
}
