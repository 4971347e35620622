package main

import (
	"debug/elf"
	"encoding/binary"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// Linker scripts (-T, -dT), each fixture linked by GNU ld and by ldgo.

// fedoraNoteScript is what Fedora's redhat-rpm-config passes with
// -Wl,-dT: the package's metadata as a .note.package note.
const fedoraNoteScript = `SECTIONS
{
    .note.package (READONLY) : ALIGN(4)
    {
        BYTE(0x04) BYTE(0x00) BYTE(0x00) BYTE(0x00) /* Length of Owner including NUL */
        BYTE(0x14) BYTE(0x00) BYTE(0x00) BYTE(0x00) /* Length of Value including NUL */
        BYTE(0x7e) BYTE(0x1a) BYTE(0xfe) BYTE(0xca) /* Note ID */
        BYTE(0x46) BYTE(0x44) BYTE(0x4f) BYTE(0x00) /* Owner: 'FDO\x00' */
        BYTE(0x7b) BYTE(0x22) BYTE(0x74) BYTE(0x79) /* Value: '{"type":"rpm"}' */
        BYTE(0x70) BYTE(0x65) BYTE(0x22) BYTE(0x3a)
        BYTE(0x22) BYTE(0x72) BYTE(0x70) BYTE(0x6d)
        BYTE(0x22) BYTE(0x2c) BYTE(0x22) BYTE(0x78)
        BYTE(0x22) BYTE(0x7d) BYTE(0x00) BYTE(0x00)
    }
}
INSERT AFTER .note.gnu.build-id;
`

var noteLine = regexp.MustCompile(`(?m)^\s+FDO\s+.*$`)

// TestLinkScriptFedoraNote links a program and a shared library with
// Fedora's -dT note script: the note is where GNU ld puts it (after the
// build ID, in the notes' segment), of the same type, flags and bytes.
func TestLinkScriptFedoraNote(t *testing.T) {
	b := newLinkBuild(t, map[string]string{
		"note.ld": fedoraNoteScript,
		"m.c":     "#include <stdio.h>\nint f(void) { return 7; }\nint main(void) { printf(\"%d\\n\", f()); return 0; }\n",
	})
	b.cc("gcc", "-Wl,-dT,note.ld", "-o", "m", "m.c")
	b.cc("gcc", "-shared", "-fPIC", "-Wl,-dT,note.ld", "-o", "libm.so", "m.c")
	for _, f := range []string{"m", "libm.so"} {
		b.check(f)
		var notes, order []string
		for _, l := range linkers {
			out := readelf(t, "-n", b.path(l, f))
			notes = append(notes, strings.Join(noteLine.FindAllString(out, -1), "\n"))
			order = append(order, noteSections(t, b.path(l, f)))
		}
		if notes[0] != notes[1] || !strings.Contains(notes[1], `Packaging Metadata: {"type":"rpm","x"}`) {
			t.Errorf("%s: readelf -n's package note: GNU ld's\n%s\nldgo's\n%s", f, notes[0], notes[1])
		}
		if order[0] != order[1] {
			t.Errorf("%s: note sections: GNU ld's %s, ldgo's %s", f, order[0], order[1])
		}
	}
	b.run(baseEnv(), "m")
}

// noteSections lists the loaded sections of type NOTE in address order,
// with their flags and alignment.
func noteSections(t *testing.T, path string) string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NOTE && s.Flags&elf.SHF_ALLOC != 0 {
			out = append(out, s.Name+" "+s.Flags.String())
		}
	}
	return strings.Join(out, ", ")
}

const tableScript = `/* A table of entries gathered from every object, bounded by symbols,
   with a header and a trailer of data. */
SECTIONS
{
  .mytable : ALIGN(16)
  {
    table_start = .;
    LONG(0xdeadbeef) SHORT(7) BYTE(1)
    . = ALIGN(8);
    entries = .;
    KEEP(*(SORT_BY_NAME(.mytable.*)))
    entries_end = .;
    QUAD(table_start)
    . = . + 4;
    PROVIDE(table_end = .);
  }
  /DISCARD/ : { *(.discard.me) }
}
INSERT AFTER .data;
PROVIDE(marker = 0x2a);
PROVIDE_HIDDEN(unused_marker = 1);
limit = 4K;
ASSERT(SIZEOF(.mytable) < limit, "table too big")
`

const tableProgram = `#include <stdio.h>
#include <string.h>
extern const unsigned char table_start[], table_end[];
extern const int entries[], entries_end[];
extern char marker[];
#define ENTRY(n, v) __attribute__((section(".mytable." #n))) const int entry_##n = v;
ENTRY(b, 0x2222)
ENTRY(a, 0x1111)
ENTRY(c, 0x3333)
__attribute__((section(".discard.me"), used)) static const char gone[] = "discarded";
int main(void)
{
	printf("table: %d bytes, header", (int)(table_end - table_start));
	for (int i = 0; i < 7; i++)
		printf(" %02x", table_start[i]);
	printf("\nentries:");
	for (const int *e = entries; e < entries_end; e++)
		printf(" %#x", *e);
	/* marker is absolute: in a PIE, its address from the code is the
	   load address plus its value, on a page boundary plus 0x2a. */
	printf("\nmarker %#lx\n", (unsigned long)marker & 0xfff);
	return 0;
}
`

// TestLinkScriptTable links a program whose script gathers sections into
// a table of its own, under --gc-sections: KEEP, SORT_BY_NAME, symbols
// at the bounds, BYTE/SHORT/LONG/QUAD, ALIGN and . =, PROVIDE and
// PROVIDE_HIDDEN, /DISCARD/ and ASSERT; both builds print the same table.
func TestLinkScriptTable(t *testing.T) {
	b := newLinkBuild(t, map[string]string{"table.ld": tableScript, "table.c": tableProgram})
	b.cc("gcc", "-O2", "-fdata-sections", "-ffunction-sections", "-c", "table.c")
	b.cc("gcc", "-Wl,--gc-sections", "-Wl,-T,table.ld", "-o", "table", "table.o")
	b.check("table")
	r := b.run(baseEnv(), "table")
	if want := "table: 32 bytes, header ef be ad de 07 00 01\nentries: 0x1111 0x2222 0x3333\n"; !strings.HasPrefix(r.stdout, want) {
		t.Errorf("table printed\n%s\nwant\n%s", r.stdout, want)
	}
	for _, l := range linkers {
		f, values := symbolsOf(t, b.path(l, "table"))
		sec := f.Section(".mytable")
		if sec == nil {
			t.Fatalf("%s: no .mytable", l)
		}
		data, _ := sec.Data()
		// QUAD(table_start), after the three entries, is the symbol's
		// link-time value.
		if got := binary.LittleEndian.Uint64(data[20:]); got != values["table_start"].Value {
			t.Errorf("%s: QUAD(table_start) is %#x, table_start %#x", l, got, values["table_start"].Value)
		}
		if m := values["marker"]; m.Section != elf.SHN_ABS || m.Value != 0x2a {
			t.Errorf("%s: marker: %+v", l, m)
		}
		if _, ok := values["unused_marker"]; ok {
			t.Errorf("%s: PROVIDE_HIDDEN defined unused_marker, which nothing refers to", l)
		}
		if f.Section(".discard.me") != nil || strings.Contains(string(data), "discarded") {
			t.Errorf("%s: /DISCARD/ kept .discard.me", l)
		}
		f.Close()
	}
}

// TestLinkScriptShared checks a script's symbols in a shared library:
// exported, as GNU ld exports them (b.check compares .dynsym); and
// ENTRY in an INSERT script, which GNU ld reads before its default
// script, whose ENTRY(_start) then wins.
func TestLinkScriptShared(t *testing.T) {
	b := newLinkBuild(t, map[string]string{
		"lib.ld":   "SECTIONS { .mytable : { table_start = .; KEEP(*(.mytable.*)) table_end = .; } } INSERT AFTER .data;\nlib_limit = 64;\n",
		"entry.ld": "ENTRY(other)\nSECTIONS { .x : { BYTE(1) } } INSERT AFTER .data;\n",
		"lib.c":    "__attribute__((section(\".mytable.x\"))) int x = 1;\nvoid other(void) {}\nint main(void) { return 0; }\n",
	})
	b.cc("gcc", "-shared", "-fPIC", "-Wl,-T,lib.ld", "-o", "lib.so", "lib.c")
	b.check("lib.so")
	b.cc("gcc", "-Wl,-T,entry.ld", "-o", "entry", "lib.c")
	b.check("entry")
	for _, l := range linkers {
		f, values := symbolsOf(t, b.path(l, "entry"))
		if start := values["_start"].Value; f.Entry != start || start == 0 {
			t.Errorf("%s: entry %#x, _start at %#x", l, f.Entry, values["_start"].Value)
		}
		f.Close()
	}
}

// symbolsOf opens an ELF file and reads its .symtab by name; the caller
// closes the file.
func symbolsOf(t *testing.T, path string) (*elf.File, map[string]elf.Symbol) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	values := map[string]elf.Symbol{}
	for _, s := range syms {
		values[s.Name] = s
	}
	return f, values
}

// TestLinkScriptRefused checks that what ldgo's scripts do not take is
// an error naming the script's line and the command, with no output.
func TestLinkScriptRefused(t *testing.T) {
	b := newLinkBuild(t, map[string]string{
		"memory.ld": "/* a board */\nMEMORY\n{\n  ram (rwx) : ORIGIN = 0x20000000, LENGTH = 64K\n}\n",
		"at.ld":     "SECTIONS\n{\n  .data : AT(0x1000) { *(.data) }\n}\nINSERT AFTER .bss;\n",
		"m.c":       "int main(void) { return 0; }\n",
	})
	for _, c := range []struct{ script, want string }{
		{"memory.ld", "memory.ld:2: MEMORY is not supported by ldgo's linker scripts"},
		{"at.ld", "at.ld:3: AT (a load address) is not supported by ldgo's linker scripts"},
	} {
		out, err := b.ccOne("ldgo", "gcc", "-Wl,-T,"+c.script, "-o", "m", "m.c")
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("-T %s: %v\n%s\nwant %s", c.script, err, out, c.want)
		}
		if _, err := exec.Command("test", "-e", b.path("ldgo", "m")).CombinedOutput(); err == nil {
			t.Errorf("-T %s: an output was left", c.script)
		}
	}
}

// TestLinkRefusedOptions checks options ldgo does not honour are errors
// naming them, never silently taken.
func TestLinkRefusedOptions(t *testing.T) {
	b := newLinkBuild(t, map[string]string{"m.c": "int main(void) { return 0; }\n"})
	for _, c := range []struct{ flag, want string }{
		{"-Wl,--emit-relocs,-s", "--emit-relocs with -s (--strip-all) is not supported yet"},
		{"-Wl,--script=missing.ld", "cannot open linker script file missing.ld: No such file or directory"},
	} {
		out, err := b.ccOne("ldgo", "gcc", c.flag, "-o", "m", "m.c")
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("%s: %v\n%s\nwant %s", c.flag, err, out, c.want)
		}
	}
}
