package rtld

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"github.com/ldgo/ldgo/internal/testelf"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/object"
)

// printStack prints the permissions of the process's stack mapping.
const printStack = `
#include <stdio.h>
#include <string.h>
int main(void) {
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	while (fgets(line, sizeof line, f))
		if (strstr(line, "[stack]"))
			printf("%.4s\n", strchr(line, ' ') + 1);
	return 0;
}
`

// dropStackHeader turns the PT_GNU_STACK program header of the file at
// path into PT_NULL, as in objects from toolchains that wrote none.
func dropStackHeader(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	phoff, phnum := le.Uint64(data[32:]), int(le.Uint16(data[56:]))
	for i := range phnum {
		at := phoff + 56*uint64(i)
		if elf.ProgType(le.Uint32(data[at:])) == elf.PT_GNU_STACK {
			le.PutUint32(data[at:], uint32(elf.PT_NULL))
			if err := os.WriteFile(path, data, 0o755); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("%s has no PT_GNU_STACK", path)
}

// TestWantsExecStack: which objects ask for an executable stack, as
// glibc decides (a PT_GNU_STACK with PF_X, or none at all: x86-64's
// default). glibc's ld.so shows it: the stack of a program run by it,
// with a library loaded at start-up, is executable or not.
func TestWantsExecStack(t *testing.T) {
	d := testelf.New(t)
	for _, tc := range []struct {
		name  string
		flags []string
		drop  bool // no PT_GNU_STACK
		want  bool
	}{
		{"PT_GNU_STACK without PF_X", []string{"-z", "noexecstack"}, false, false},
		{"PT_GNU_STACK with PF_X", []string{"-z", "execstack"}, false, true},
		{"no PT_GNU_STACK", []string{"-z", "noexecstack"}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := strings.ReplaceAll(tc.name, " ", "_") + "/"
			lib := d.Build(dir+"libs.so", `void s(void) {}`, tc.flags...)
			withLib := d.Build(dir+"withlib", printStack, "-z", "noexecstack", "-L"+dir, "-ls")
			prog := d.Build(dir+"prog", printStack, tc.flags...)
			if tc.drop {
				dropStackHeader(t, lib)
				dropStackHeader(t, prog)
			}
			for _, c := range []struct{ what, obj, run string }{
				{"a library", lib, withLib},
				{"a program", prog, prog},
			} {
				f, err := object.Open(c.obj)
				if err != nil {
					t.Fatal(err)
				}
				got := wantsExecStack(&linkmap.Map{Obj: f.Object})
				f.Close()
				perms := d.Run([]string{"LD_LIBRARY_PATH=" + d.File(dir)}, "/lib64/ld-linux-x86-64.so.2", c.run)
				if native := strings.Contains(perms, "x"); native != tc.want {
					t.Fatalf("%s: under glibc's ld.so the stack is %q, want executable %v", c.what, perms, tc.want)
				}
				if got != tc.want {
					t.Errorf("%s: wantsExecStack %v, want %v", c.what, got, tc.want)
				}
			}
		})
	}
}
