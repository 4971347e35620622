package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// GOTPCRELX relaxation as GNU ld makes it: in a position-dependent
// executable a load of a local address from the GOT becomes the address
// as an immediate (mov, test and the binops), in a PIE an lea; calls and
// jumps through the GOT become direct ones. GNU ld's code is the oracle,
// instruction by instruction, and --emit-relocs keeps the types each
// rewrite made.

var relaxSource = map[string]string{"gx.c": `extern long foo; extern int bar;
__asm__(".text\n.globl f\n.type f,@function\nf:\n"
	"mov foo@GOTPCREL(%rip), %rax\n"
	"mov foo@GOTPCREL(%rip), %r9\n"
	"mov bar@GOTPCREL(%rip), %eax\n"
	"mov bar@GOTPCREL(%rip), %r10d\n"
	"test %rcx, foo@GOTPCREL(%rip)\n"
	"test %r11, foo@GOTPCREL(%rip)\n"
	"test %ecx, foo@GOTPCREL(%rip)\n"
	"add foo@GOTPCREL(%rip), %rdx\n"
	"sub foo@GOTPCREL(%rip), %r12\n"
	"cmp foo@GOTPCREL(%rip), %esi\n"
	"xor foo@GOTPCREL(%rip), %r13d\n"
	"and foo@GOTPCREL(%rip), %rbx\n"
	"or foo@GOTPCREL(%rip), %rbx\n"
	"adc foo@GOTPCREL(%rip), %rbx\n"
	"sbb foo@GOTPCREL(%rip), %rbx\n"
	"call *g@GOTPCREL(%rip)\n"
	"jmp *g@GOTPCREL(%rip)\n"
	".size f,.-f\n");
long foo = 1;
int bar = 2;
int g(void) { return 0; }
int main(void) { return (long)&foo == 0; }
`}

// addressLike is what differs between two links of the same code: the
// addresses, as immediates, displacements and jump targets.
var addressLike = regexp.MustCompile(`\$?0x[0-9a-f]+|\b[0-9a-f]{4,}\b|<[^>]*>|#.*`)

// disassembly returns function f of path as objdump shows it, the
// addresses left out.
func disassembly(t *testing.T, path, f string) []string {
	t.Helper()
	out, err := exec.Command("objdump", "-d", "--no-show-raw-insn", "--disassemble="+f, path).CombinedOutput()
	if err != nil {
		t.Fatalf("objdump %s: %v\n%s", path, err, out)
	}
	var insns []string
	for _, l := range strings.Split(string(out), "\n") {
		_, insn, ok := strings.Cut(l, ":\t")
		if ok {
			insns = append(insns, strings.Join(strings.Fields(addressLike.ReplaceAllString(insn, "A")), " "))
		}
	}
	return insns
}

func TestLinkGOTPCRELX(t *testing.T) {
	if _, err := exec.LookPath("objdump"); err != nil {
		t.Skip("objdump not installed")
	}
	b := newLinkBuild(t, relaxSource)
	b.cc("gcc", "-c", "gx.c")
	for _, kind := range []string{"-no-pie", "-pie"} {
		b.cc("gcc", kind, "-Wl,--emit-relocs", "-o", "gx"+kind, "gx.o")
		want, got := disassembly(t, b.path("bfd", "gx"+kind), "f"), disassembly(t, b.path("ldgo", "gx"+kind), "f")
		if len(want) < 17 || strings.Join(want, "\n") != strings.Join(got, "\n") {
			t.Errorf("%s: f differs\nGNU ld:\n\t%s\nldgo:\n\t%s", kind, strings.Join(want, "\n\t"), strings.Join(got, "\n\t"))
		}
		// Without PIC every load became an immediate: none reads the
		// GOT any more. (A PIE's test and binops keep reading it: they
		// have no PC-relative form.)
		for _, insn := range got {
			if kind == "-no-pie" && strings.Contains(insn, "(%rip)") {
				t.Errorf("%s: %q still reads memory", kind, insn)
			}
		}
		// The kept relocations say what each rewrite made, and hold
		// (keptRelocs checks each field against its relocation).
		if w, g := keptRelocs(t, b.path("bfd", "gx"+kind)), keptRelocs(t, b.path("ldgo", "gx"+kind)); strings.Join(multisetMinus(w, g), "\n") != "" || len(w) != len(g) {
			t.Errorf("%s: kept relocations differ\nonly GNU ld's:\n\t%s\nonly ldgo's:\n\t%s", kind,
				strings.Join(multisetMinus(w, g), "\n\t"), strings.Join(multisetMinus(g, w), "\n\t"))
		}
		b.check("gx" + kind)
		b.run(baseEnv(), "gx"+kind)
	}
}
