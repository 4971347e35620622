package layout

import (
	"debug/elf"
	"slices"
	"testing"

	"github.com/ldgo/ldgo/link/input"
)

func TestOutputName(t *testing.T) {
	for in, out := range map[string]string{
		".text":                  ".text",
		".text.startup":          ".text",
		".text.unlikely.foo":     ".text",
		".textual":               ".textual",
		".rodata.str1.1":         ".rodata",
		".data.rel.ro.local":     ".data.rel.ro",
		".data.rel.local":        ".data",
		".bss.counter":           ".bss",
		".init_array.00101":      ".init_array",
		".ctors.65434":           ".init_array",
		".gcc_except_table._Z1f": ".gcc_except_table",
		".tdata.x":               ".tdata",
		"my_section":             "my_section",
		".gnu.linkonce.t.f":      ".text",
	} {
		if got := OutputName(in); got != out {
			t.Errorf("OutputName(%q) = %q, want %q", in, got, out)
		}
	}
}

// Constructors run in priority order, those without one last, in link
// order (GNU ld's SORT_BY_INIT_PRIORITY).
func TestInitArrayOrder(t *testing.T) {
	o := &Section{Hdr: Header{Name: ".init_array"}}
	for _, n := range []string{".init_array", ".init_array.00300", ".ctors.65400", ".init_array.00101", ".init_array", ".init_array.65535"} {
		o.Members = append(o.Members, &input.Section{Name: n, Size: 8, Align: 8})
	}
	sortMembers(o)
	var got []string
	for _, m := range o.Members {
		got = append(got, m.Name)
	}
	want := []string{".init_array.00101", ".ctors.65400", ".init_array.00300", ".init_array.65535", ".init_array", ".init_array"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
}

type chunk struct{ h Header }

func (c *chunk) Header() *Header { return &c.h }

// RELRO ends on a page boundary, and the data after it starts there,
// with code apart (-z separate-code) or not; without, read-only data
// shares the code's segment and the file is not padded to a page.
func TestRelroEndsOnAPage(t *testing.T) {
	mk := func(name string, flags elf.SectionFlag, typ elf.SectionType, size, align uint64) Chunk {
		return &chunk{Header{Name: name, Flags: flags, Type: typ, Size: size, Align: align}}
	}
	a, w, x := elf.SHF_ALLOC, elf.SHF_WRITE, elf.SHF_EXECINSTR
	for _, c := range []struct {
		noSeparate bool
		loads      []elf.ProgFlag
	}{
		{false, []elf.ProgFlag{elf.PF_R, elf.PF_R | elf.PF_X, elf.PF_R, elf.PF_R | elf.PF_W}},
		{true, []elf.ProgFlag{elf.PF_R | elf.PF_X, elf.PF_R | elf.PF_W}},
	} {
		cfg := &Config{PageSize: 4096, Relro: true, Interp: true, NoSeparateCode: c.noSeparate}
		chunks := Order([]Chunk{
			mk(".interp", a, elf.SHT_PROGBITS, 28, 1),
			mk(".text", a|x, elf.SHT_PROGBITS, 5000, 16),
			mk(".rodata", a, elf.SHT_PROGBITS, 300, 16),
			mk(".data", a|w, elf.SHT_PROGBITS, 100, 8),
			mk(".init_array", a|w, elf.SHT_INIT_ARRAY, 8, 8),
			mk(".dynamic", a|w, elf.SHT_DYNAMIC, 400, 8),
			mk(".got", a|w, elf.SHT_PROGBITS, 24, 8),
			mk(".bss", a|w, elf.SHT_NOBITS, 1000, 32),
		}, cfg)
		l := Assign(chunks, cfg)
		var relro, data, rodata *Header
		for _, c := range l.Chunks {
			switch c.Header().Name {
			case ".got":
				relro = c.Header()
			case ".data":
				data = c.Header()
			case ".rodata":
				rodata = c.Header()
			}
		}
		if end := relro.Addr + relro.Size; end%4096 != 0 || data.Addr != end {
			t.Errorf("noseparate %v: RELRO ends at %#x, .data at %#x", c.noSeparate, end, data.Addr)
		}
		var loads []elf.ProgFlag
		var lastEnd uint64
		for _, s := range l.Segments {
			if s.Type == elf.PT_LOAD {
				loads = append(loads, s.Flags)
				if s.Vaddr%4096 != s.Offset%4096 {
					t.Errorf("noseparate %v: segment at %#x offset %#x: not congruent", c.noSeparate, s.Vaddr, s.Offset)
				}
				if s.Vaddr/4096 <= (lastEnd-1)/4096 && lastEnd != 0 {
					t.Errorf("noseparate %v: segment at %#x shares a page with the one before, ending at %#x", c.noSeparate, s.Vaddr, lastEnd)
				}
				lastEnd = s.Vaddr + s.Memsz
			}
			if s.Type == elf.PT_GNU_RELRO && (s.Vaddr+s.Memsz)%4096 != 0 {
				t.Errorf("noseparate %v: PT_GNU_RELRO ends at %#x", c.noSeparate, s.Vaddr+s.Memsz)
			}
		}
		if !slices.Equal(loads, c.loads) {
			t.Errorf("noseparate %v: PT_LOAD flags %v, want %v", c.noSeparate, loads, c.loads)
		}
		// Without separate code the writable data starts in the
		// file right after the read-only data (at most a page's
		// worth of RELRO alignment later).
		if c.noSeparate && relro.Offset-(rodata.Offset+rodata.Size) >= 4096 {
			t.Errorf("noseparate: .rodata ends at offset %#x, RELRO starts at %#x", rodata.Offset+rodata.Size, relro.Offset)
		}
	}
}

// Strings are merged across sections: each distinct string once, and
// every offset of an input section leads to its string's copy.
func TestMergeStrings(t *testing.T) {
	mk := func(data string) *input.Section {
		return &input.Section{Name: ".rodata.str1.1", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC | elf.SHF_MERGE | elf.SHF_STRINGS,
			Align: 1, Entsize: 1, Data: []byte(data), Size: uint64(len(data))}
	}
	a, b := mk("hello\x00world\x00"), mk("world\x00hello\x00again\x00")
	o := &Section{Hdr: Header{Name: ".rodata", Flags: elf.SHF_ALLOC}, Members: []*input.Section{a, b}}
	Merge([]*Section{o})
	if len(o.Members) != 1 || string(o.Members[0].Data) != "hello\x00world\x00again\x00" {
		t.Fatalf("merged %q", o.Members[0].Data)
	}
	m := o.Members[0]
	m.Addr = 0x1000
	for _, c := range []struct {
		s    *input.Section
		off  uint64
		want uint64
	}{
		{a, 0, 0x1000}, {a, 6, 0x1006}, {a, 8, 0x1008}, {b, 0, 0x1006}, {b, 6, 0x1000}, {b, 14, 0x100e}, {b, 15, 0x100f},
	} {
		if got := c.s.AddrOf(c.off); got != c.want {
			t.Errorf("offset %d: %#x, want %#x", c.off, got, c.want)
		}
	}
}
