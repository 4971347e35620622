package reloc

import (
	"debug/elf"
	"errors"
	"testing"
)

// The link editor's formulas, each with the psABI's terms; the values are
// worked out by hand from the psABI's table.
func TestStaticFormulas(t *testing.T) {
	v := &Terms{A: -4, P: 0x1000, S: 0x2000, L: 0x3000, G: 0x18, GOT: 0x4000, Z: 24, TLS: 0x5000, TP: 0x5100}
	for _, c := range []struct {
		t    elf.R_X86_64
		want int64
	}{
		{elf.R_X86_64_64, 0x2000 - 4},
		{elf.R_X86_64_PC32, 0x2000 - 4 - 0x1000},
		{elf.R_X86_64_PLT32, 0x3000 - 4 - 0x1000},
		{elf.R_X86_64_GOTPCREL, 0x18 + 0x4000 - 4 - 0x1000},
		{elf.R_X86_64_REX_GOTPCRELX, 0x18 + 0x4000 - 4 - 0x1000},
		{elf.R_X86_64_GOT32, 0x18 - 4},
		{elf.R_X86_64_GOTPC32, 0x4000 - 4 - 0x1000},
		{elf.R_X86_64_GOTOFF64, 0x2000 - 4 - 0x4000},
		{elf.R_X86_64_PLTOFF64, 0x3000 - 4 - 0x4000},
		{elf.R_X86_64_SIZE64, 24 - 4},
		{elf.R_X86_64_DTPOFF32, 0x2000 - 4 - 0x5000},
		{elf.R_X86_64_TPOFF32, 0x2000 - 4 - 0x5100},
	} {
		st, ok := Static(c.t)
		if !ok {
			t.Fatalf("%v not a static type", c.t)
		}
		if got := st.Formula.Calculate(v); got != uint64(c.want) {
			t.Errorf("%v: %#x, want %#x", c.t, got, c.want)
		}
	}
	for _, dyn := range []elf.R_X86_64{elf.R_X86_64_COPY, elf.R_X86_64_GLOB_DAT, elf.R_X86_64_JMP_SLOT, elf.R_X86_64_RELATIVE, elf.R_X86_64_IRELATIVE} {
		if _, ok := Static(dyn); ok {
			t.Errorf("%v taken in a relocatable object", dyn)
		}
	}
}

func TestStaticOverflow(t *testing.T) {
	for _, c := range []struct {
		t   elf.R_X86_64
		val uint64
		ok  bool
	}{
		{elf.R_X86_64_32, 0xffffffff, true},
		{elf.R_X86_64_32, 0x100000000, false},
		{elf.R_X86_64_32, ^uint64(0), false}, // -1 does not zero-extend
		{elf.R_X86_64_32S, ^uint64(0), true}, // -1 sign-extends
		{elf.R_X86_64_32S, 0x80000000, false},
		{elf.R_X86_64_PC32, uint64(1<<31 - 1), true},
		{elf.R_X86_64_PC32, uint64(1 << 31), false},
		{elf.R_X86_64_16, 0xffff, true},
		{elf.R_X86_64_16, ^uint64(0), true},
		{elf.R_X86_64_8, 0x100, false},
		{elf.R_X86_64_64, ^uint64(0), true},
	} {
		st, _ := Static(c.t)
		b := make([]byte, 8)
		err := st.Put(c.t, b, c.val)
		var oe *OverflowError
		if ok := err == nil; ok != c.ok || err != nil && !errors.As(err, &oe) {
			t.Errorf("%v of %#x: %v", c.t, c.val, err)
		}
		if got := st.Read(b); got != c.val&(1<<(8*st.Size)-1) && st.Size < 8 {
			t.Errorf("%v of %#x wrote %#x", c.t, c.val, got)
		}
	}
}
