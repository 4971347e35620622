package script

import (
	"strings"
	"testing"
)

// fedoraNote is the script Fedora's redhat-rpm-config passes with
// -Wl,-dT: a .note.package note of the package's metadata.
const fedoraNote = `SECTIONS
{
    .note.package (READONLY) : ALIGN(4)
    {
        BYTE(0x04) BYTE(0x00) BYTE(0x00) BYTE(0x00) /* Length of Owner including NUL */
        BYTE(0x0c) BYTE(0x00) BYTE(0x00) BYTE(0x00) /* Length of Value including NUL */
        BYTE(0x7e) BYTE(0x1a) BYTE(0xfe) BYTE(0xca) /* Note ID */
        BYTE(0x46) BYTE(0x44) BYTE(0x4f) BYTE(0x00) /* Owner: 'FDO\x00' */
    }
}
INSERT AFTER .note.gnu.build-id;
`

func TestParseFedoraNote(t *testing.T) {
	s, err := Parse("note.ld", fedoraNote)
	if err != nil {
		t.Fatal(err)
	}
	if s.Insert == nil || !s.Insert.After || s.Insert.Name != ".note.gnu.build-id" {
		t.Errorf("insert: %+v", s.Insert)
	}
	if len(s.Sections) != 1 {
		t.Fatalf("sections: %+v", s.Sections)
	}
	o := s.Sections[0]
	if o.Name != ".note.package" || !o.ReadOnly || o.Align == nil || len(o.Items) != 16 {
		t.Errorf("section: %+v", o)
	}
	if d, ok := o.Items[8].(*Data); !ok || d.Size != 1 {
		t.Errorf("item 8: %+v", o.Items[8])
	} else if v, _ := d.Value.Eval(nil); v != 0x7e {
		t.Errorf("item 8 is %#x, want 0x7e", v)
	}
}

func TestParseSectionsAndSymbols(t *testing.T) {
	s, err := Parse("sec.ld", `ENTRY(start)
SECTIONS {
  .table : ALIGN(16) {
    table_start = .;
    KEEP(*(.table .table.*)) *(SORT_BY_INIT_PRIORITY(.prio.*))
    EXCLUDE_FILE(*skip.o) *(.other)
    LONG(0xdeadbeef) SHORT(7) BYTE(1)
    . = ALIGN(8);
    QUAD(table_start)
    . += 4;
    PROVIDE(table_end = .);
  }
  after_table = . ;
  /DISCARD/ : { *(.note.discard) }
}
INSERT BEFORE .bss;
PROVIDE_HIDDEN(marker = 4K + (1 << 4) - -2);
HIDDEN(h = DEFINED(marker) ? 1 : 2)
ASSERT(SIZEOF(.table) < 0x100, "table too big")
`)
	if err != nil {
		t.Fatal(err)
	}
	if s.Entry != "start" || s.Insert.After || s.Insert.Name != ".bss" || len(s.Sections) != 2 || !s.Sections[1].Discard {
		t.Fatalf("%+v", s)
	}
	items := s.Sections[0].Items
	if in := items[1].(*Input); !in.Keep || strings.Join(in.Patterns, " ") != ".table .table.*" {
		t.Errorf("KEEP: %+v", in)
	}
	if in := items[2].(*Input); in.Sort != "init_priority" || in.Patterns[0] != ".prio.*" {
		t.Errorf("SORT_BY_INIT_PRIORITY: %+v", in)
	}
	if in := items[3].(*Input); in.Exclude[0] != "*skip.o" || in.Patterns[0] != ".other" {
		t.Errorf("EXCLUDE_FILE: %+v", in)
	}
	if a := items[len(items)-1].(*Assign); a.Name != "table_end" || !a.Provide {
		t.Errorf("PROVIDE: %+v", a)
	}
	if len(s.Assigns) != 3 || s.Assigns[0].After != s.Sections[0] || s.Assigns[0].Name != "after_table" {
		t.Fatalf("assignments: %+v", s.Assigns)
	}
	m := s.Assigns[1]
	if v, err := m.Value.Eval(nil); err != nil || v != 4096+16+2 || !m.Provide || !m.Hidden || !m.Value.Absolute() {
		t.Errorf("marker = %d, %v: %+v", v, err, m)
	}
	if len(s.Asserts) != 1 || s.Asserts[0].Message != "table too big" {
		t.Errorf("asserts: %+v", s.Asserts)
	}
}

// TestParseRefuses checks that what ldgo does not do is refused naming
// the command and its line.
func TestParseRefuses(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"MEMORY { ram : ORIGIN = 0, LENGTH = 4K }", "x.ld:1: MEMORY is not supported"},
		{"SECTIONS {\n .text : { *(.text) } > ram\n}", "x.ld:2: placing an output section in a memory region"},
		{"SECTIONS {\n\n .data : AT(0x1000) { *(.data) }\n}", "x.ld:3: AT (a load address) is not supported"},
		{"SECTIONS { . = 0x10000; }", "x.ld:1: an assignment to the location counter between output sections"},
		{"SECTIONS { .text 0x1000 : { *(.text) } }", "x.ld:1: an output section's address is not supported"},
		{"SECTIONS { OVERLAY : { .a { *(.a) } } }", "x.ld:1: OVERLAY is not supported"},
		{"PHDRS { text PT_LOAD; }", "x.ld:1: PHDRS is not supported"},
		{"SECTIONS { .t : { *(.t) } :text }", "x.ld:1: placing an output section in a program header"},
		{"OUTPUT_FORMAT(elf32-i386)", "x.ld:1: OUTPUT_FORMAT(elf32-i386): ldgo links only elf64-x86-64"},
		{"SECTIONS { .t : { *(.t) }", "x.ld:1: syntax error (unexpected end of file)"},
		{"/* open", "x.ld:1: unterminated comment"},
		{"x = SEGMENT_START(\"text\", 0);", "x.ld:1: SEGMENT_START is not supported"},
	} {
		_, err := Parse("x.ld", c.text)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: %v, want %s", c.text, err, c.want)
		}
	}
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"*", "/usr/lib/crt1.o", true},
		{"*crtbegin.o", "/usr/lib/gcc/crtbegin.o", true},
		{".text.*", ".text.hot", true},
		{".text.*", ".text", false},
		{".data.[a-c]*", ".data.bx", true},
		{".data.[!a-c]*", ".data.bx", false},
		{".t?xt", ".text", true},
	} {
		if got := Match(c.pattern, c.name); got != c.want {
			t.Errorf("Match(%q, %q) = %v", c.pattern, c.name, got)
		}
	}
}

// FuzzParse parses arbitrary scripts: an error or a script, never a
// panic.
func FuzzParse(f *testing.F) {
	f.Add(fedoraNote)
	f.Add("SECTIONS { .t : ALIGN(8) { a = .; KEEP(*(SORT(.t.*))) . = ALIGN(4); QUAD(a + 1) } /DISCARD/ : { *(.x) } } INSERT BEFORE .bss; PROVIDE(b = a ? 1 : 2);")
	f.Add("x = (1 << 3) * 4K / 2 % 7 - ~0 + !1 | 2 & 3 ^ 4 == 5 != 6 <= 7 >= 8 && 9 || 10;")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := Parse("fuzz.ld", text)
		if err != nil {
			return
		}
		for _, a := range s.Assigns {
			a.Value.Eval(nilEnv{})
		}
	})
}

type nilEnv struct{}

func (nilEnv) Dot() (uint64, bool)                     { return 0, true }
func (nilEnv) Symbol(string) (uint64, bool)            { return 0, false }
func (nilEnv) Section(string) (_, _, _ uint64, _ bool) { return }
func (nilEnv) Constant(string) (uint64, bool)          { return 0, false }
