package reloc

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// assemble returns the code of insn as the GNU assembler encodes it,
// and its first relocation (nil if it has none).
func assemble(t *testing.T, insn string) ([]byte, *elf.Rela64) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "a.s")
	if err := os.WriteFile(src, []byte(".text\n"+insn+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	obj := filepath.Join(dir, "a.o")
	if out, err := exec.Command("as", "-mrelax-relocations=yes", "-o", obj, src).CombinedOutput(); err != nil {
		t.Fatalf("as %q: %v\n%s", insn, err, out)
	}
	f, err := elf.Open(obj)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	code, err := f.Section(".text").Data()
	if err != nil {
		t.Fatal(err)
	}
	var rela *elf.Rela64
	if s := f.Section(".rela.text"); s != nil {
		data, _ := s.Data()
		if len(data) >= 24 {
			var r elf.Rela64
			r.Off = leUint64(data)
			r.Info = leUint64(data[8:])
			rela = &r
		}
	}
	return code, rela
}

func leUint64(b []byte) uint64 { return le32.Uint64(b) }

// disassemble returns the instructions of code as objdump reads them.
func disassemble(t *testing.T, code []byte) string {
	t.Helper()
	var src bytes.Buffer
	src.WriteString(".text\n")
	for _, c := range code {
		fmt.Fprintf(&src, ".byte %#x\n", c)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "b.s"), src.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("as", "-o", filepath.Join(dir, "b.o"), filepath.Join(dir, "b.s")).CombinedOutput(); err != nil {
		t.Fatalf("as: %v\n%s", err, out)
	}
	out, err := exec.Command("objdump", "-d", "--no-show-raw-insn", filepath.Join(dir, "b.o")).CombinedOutput()
	if err != nil {
		t.Fatalf("objdump: %v\n%s", err, out)
	}
	var insns []string
	for _, l := range strings.Split(string(out), "\n") {
		if _, insn, ok := strings.Cut(l, ":\t"); ok {
			insns = append(insns, strings.Join(strings.Fields(insn), " "))
		}
	}
	return strings.Join(insns, "; ")
}

// TestRelaxGOTPCRELX rewrites each GOT load the assembler encodes and
// compares the result with the assembler's encoding of the instruction
// it must become: GNU as is the oracle for the bytes.
func TestRelaxGOTPCRELX(t *testing.T) {
	for _, tool := range []string{"as", "objdump"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not installed")
		}
	}
	const imm = 0x12345678
	for _, c := range []struct {
		from, to string
		r        Relaxation
		field    elf.R_X86_64 // the field's type after GOTPCRELXToAbs
	}{
		{"mov foo@GOTPCREL(%rip), %rax", "mov $0x12345678, %rax", GOTPCRELXToAbs, elf.R_X86_64_32S},
		{"mov foo@GOTPCREL(%rip), %r9", "mov $0x12345678, %r9", GOTPCRELXToAbs, elf.R_X86_64_32S},
		{"mov foo@GOTPCREL(%rip), %eax", "mov $0x12345678, %eax", GOTPCRELXToAbs, elf.R_X86_64_32},
		{"mov foo@GOTPCREL(%rip), %r10d", "mov $0x12345678, %r10d", GOTPCRELXToAbs, elf.R_X86_64_32},
		{"test %rcx, foo@GOTPCREL(%rip)", "test $0x12345678, %rcx", GOTPCRELXToAbs, elf.R_X86_64_32S},
		{"test %r11d, foo@GOTPCREL(%rip)", "test $0x12345678, %r11d", GOTPCRELXToAbs, elf.R_X86_64_32},
		{"add foo@GOTPCREL(%rip), %rdx", "add $0x12345678, %rdx", GOTPCRELXToAbs, elf.R_X86_64_32S},
		{"sub foo@GOTPCREL(%rip), %r12", "sub $0x12345678, %r12", GOTPCRELXToAbs, elf.R_X86_64_32S},
		{"cmp foo@GOTPCREL(%rip), %esi", "cmp $0x12345678, %esi", GOTPCRELXToAbs, elf.R_X86_64_32},
		{"xor foo@GOTPCREL(%rip), %r13d", "xor $0x12345678, %r13d", GOTPCRELXToAbs, elf.R_X86_64_32},
		{"and foo@GOTPCREL(%rip), %rbx", "and $0x12345678, %rbx", GOTPCRELXToAbs, elf.R_X86_64_32S},
		{"or foo@GOTPCREL(%rip), %rbx", "or $0x12345678, %rbx", GOTPCRELXToAbs, elf.R_X86_64_32S},
		{"adc foo@GOTPCREL(%rip), %ebx", "adc $0x12345678, %ebx", GOTPCRELXToAbs, elf.R_X86_64_32},
		{"sbb foo@GOTPCREL(%rip), %rbx", "sbb $0x12345678, %rbx", GOTPCRELXToAbs, elf.R_X86_64_32S},
		{"mov foo@GOTPCREL(%rip), %eax", "lea 0x12345678(%rip), %eax", GOTPCRELXToPCRel, 0},
		{"mov foo@GOTPCREL(%rip), %r14", "lea 0x12345678(%rip), %r14", GOTPCRELXToPCRel, 0},
	} {
		code, r := assemble(t, c.from)
		want, _ := assemble(t, c.to)
		if r == nil {
			t.Fatalf("%s: no relocation", c.from)
		}
		typ, off := elf.R_X86_64(uint32(r.Info)), r.Off
		ok := CanRelaxGOTPCRELX(typ, code, off)
		if c.r == GOTPCRELXToAbs {
			ok = CanRelaxGOTPCRELXToAbs(typ, code, off)
			if got := GOTPCRELXAbsType(typ, code, off); got != c.field {
				t.Errorf("%s: the field is %v, want %v", c.from, got, c.field)
			}
		}
		if !ok {
			t.Errorf("%s (%v): not relaxable", c.from, typ)
			continue
		}
		got := bytes.Clone(code)
		Relax(c.r, typ, got, off, 0, imm)
		// The same bytes, or (where the assembler has a shorter form,
		// mov $imm32,%r32 as b8+r, which a link editor cannot use) the
		// same instruction as objdump reads them.
		if !bytes.Equal(got, want) && disassemble(t, got) != disassemble(t, want) {
			t.Errorf("%s -> %s: % x (%s), as encodes % x (%s)", c.from, c.to, got, disassemble(t, got), want, disassemble(t, want))
		}
	}
	// Not GOT loads: left alone.
	for _, insn := range []string{"cmpq $0, foo@GOTPCREL(%rip)", "push foo@GOTPCREL(%rip)"} {
		code, r := assemble(t, insn)
		if r == nil {
			continue
		}
		typ := elf.R_X86_64(uint32(r.Info))
		if CanRelaxGOTPCRELXToAbs(typ, code, r.Off) || CanRelaxGOTPCRELX(typ, code, r.Off) {
			t.Errorf("%s (%v): relaxable", insn, typ)
		}
	}
}
