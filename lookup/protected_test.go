package lookup_test

import (
	"debug/elf"
	"strings"
	"testing"

	"github.com/ldgo/ldgo/internal/testelf"
)

// GNU ld binds a library's references to its own protected symbols at
// link time, so only a library made protected after it was linked
// (testelf.SetVisibility) still has them to look up at run time, as
// libraries from older linkers do.

// TestProtectedSymbols: a library's reference to its own protected
// symbol binds in the library, whatever the scope finds first — except
// the address of a function, which is the executable's PLT entry when
// the executable took it, for one address everywhere; and the
// executable's references that defeat protection are warned about
// (glibc's _dl_check_protected_symbol).
func TestProtectedSymbols(t *testing.T) {
	t.Parallel()
	d := testelf.New(t)
	lib := d.Build("libp.so", `
int pv = 1;
int *addr_pv(void) { return &pv; }
const char *pf(void) { return "libp.so:pf"; }
const char *(*addr_pf(void))(void) { return pf; }
const char *qf(void) { return "libp.so:qf"; }
const char *call_qf(void) { return qf(); }
`)
	prog := d.Build("main", `
#include <stdio.h>
extern int pv;
int *addr_pv(void);
const char *pf(void);
const char *(*addr_pf(void))(void);
const char *qf(void) { return "main:qf"; }
const char *call_qf(void);
int main(void) {
	printf("%d %d %s\n", addr_pv() == &pv, addr_pf() == pf, call_qf());
	return 0;
}
`, "-no-pie", "-fno-pie", "-lp")
	testelf.SetVisibility(t, lib, elf.STV_PROTECTED, "pv", "pf", "qf")
	l, native, glibc := loadAndRun(t, d, prog, "LD_BIND_NOW=1")
	if !strings.Contains(native, "0 1 libp.so:qf\n") {
		t.Fatalf("the program run natively prints %q: the library's protected symbols are not protected", native)
	}
	for _, tc := range []struct {
		name     string
		ref, sym string
		typ      elf.R_X86_64
		line     string
		warning  string
	}{
		{"protected data stays in its library, though the executable has a copy", "libp.so", "pv", elf.R_X86_64_GLOB_DAT,
			"binding file libp.so [0] to libp.so [0]: protected symbol `pv'", ""},
		{"a protected function's address is the executable's PLT entry", "libp.so", "pf", elf.R_X86_64_GLOB_DAT,
			"binding file libp.so [0] to main [0]: protected symbol `pf'", ""},
		{"a call of a protected function stays in its library", "libp.so", "qf", elf.R_X86_64_JMP_SLOT,
			"binding file libp.so [0] to libp.so [0]: protected symbol `qf'", ""},
		{"the executable's copy of protected data is warned about", "main", "pv", elf.R_X86_64_COPY,
			"binding file main [0] to libp.so [0]: normal symbol `pv'",
			"warning: copy relocation against non-copyable protected symbol `pv' in `libp.so'\n"},
		{"the executable's PLT entry for a protected function is warned about", "main", "pf", elf.R_X86_64_JMP_SLOT,
			"binding file main [0] to libp.so [0]: normal symbol `pf'",
			"warning: direct reference to protected function `pf' in `libp.so' may break pointer equality\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l.t = t
			got := l.binding(glibc, tc.ref, tc.sym, tc.typ, tc.line)
			if got.warnings != tc.warning {
				t.Errorf("lookup warned %q, want %q", got.warnings, tc.warning)
			}
			if tc.warning != "" && !strings.Contains(native, tc.warning) {
				t.Errorf("glibc does not warn %q; it prints\n%s", tc.warning, native)
			}
		})
	}
}
