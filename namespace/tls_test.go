package namespace_test

import (
	"bytes"
	"debug/elf"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ldgo/ldgo/internal/testelf"
	"github.com/ldgo/ldgo/linkmap"
)

// tlsProgram prints, for each of its thread-local variables and its
// library's (and libc's errno), "object variable offset": the variable's
// offset from the thread pointer, where glibc placed it.
const tlsProgram = `
#include <errno.h>
#include <stdio.h>
%s
#define OFF(obj, name, p) printf("%%s %%s %%ld\n", obj, name, (long)((char *)(p) - (char *)__builtin_thread_pointer()))
int main(void) {
%s
	OFF("libc.so.6", "errno", &errno);
	return 0;
}
`

// TestStaticTLSLayout: where the blocks of the objects loaded at start-up
// lie below the thread pointer (glibc's _dl_determine_tlsoffset, TLS
// variant II): the program's first, then each library's in load order,
// each aligned, a later block going into the gap an earlier one's
// alignment left when it fits there.
func TestStaticTLSLayout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name              string
		prog, lib         string   // the program's and liba.so's variables
		progVars, libVars []string // their names
	}{
		{
			name:     "blocks in load order",
			prog:     `__thread int m1 = 5; __thread char m2[100];`,
			progVars: []string{"m1", "m2"},
			lib:      `__thread char a1 = 1; __thread long a2[3] __attribute__((aligned(32))) = {2};`,
			libVars:  []string{"a1", "a2"},
		},
		{
			name:     "a block in the gap alignment left",
			prog:     `__thread char m[8] __attribute__((aligned(64))) = {1};`,
			progVars: []string{"m"},
			lib:      `__thread long a[2] __attribute__((aligned(16))) = {3};`,
			libVars:  []string{"a"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := testelf.New(t)
			lib, prog := tc.lib, tc.prog
			var prints []string
			for _, v := range tc.progVars {
				prints = append(prints, fmt.Sprintf("\tOFF(\"main\", %q, &%s);", v, v))
			}
			for _, v := range tc.libVars {
				lib += fmt.Sprintf("\nvoid *get_%[1]s(void) { return &%[1]s; }", v)
				prog += fmt.Sprintf("\nvoid *get_%s(void);", v)
				prints = append(prints, fmt.Sprintf("\tOFF(\"liba.so\", %q, get_%s());", v, v))
			}
			d.Build("liba.so", lib)
			main := d.Build("main", fmt.Sprintf(tlsProgram, prog, strings.Join(prints, "\n")), "-la")
			env, opts := libraryPath(d)
			native := d.Lines(env, main)
			ns := load(t, main, opts)
			for _, line := range native {
				var obj, name string
				var want int64
				if _, err := fmt.Sscan(line, &obj, &name, &want); err != nil {
					t.Fatalf("the program printed %q", line)
				}
				var m *linkmap.Map
				for _, x := range ns.Chain {
					if x.Kind == linkmap.Executable && obj == "main" || x.Name != "" && filepath.Base(x.Name) == obj {
						m = x
					}
				}
				if m == nil || !m.HasStaticTLS {
					t.Errorf("%s: no static TLS block laid out", obj)
					continue
				}
				value := tlsSymbol(t, m, name)
				if got := int64(value) - int64(m.TLSOffset); got != want {
					t.Errorf("%s's %s is at %d from the thread pointer (block at -%d), glibc put it at %d", obj, name, got, m.TLSOffset, want)
				}
			}
		})
	}
}

// tlsSymbol returns the offset of the thread-local variable name in m's
// block, from the file's symbol table (the program's variables are not
// dynamic symbols).
func tlsSymbol(t *testing.T, m *linkmap.Map, name string) uint64 {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(m.File.Data()))
	if err != nil {
		t.Fatal(err)
	}
	syms, _ := f.Symbols()
	dyn, _ := f.DynamicSymbols()
	for _, s := range append(syms, dyn...) {
		if s.Name == name && elf.ST_TYPE(s.Info) == elf.STT_TLS && s.Section != elf.SHN_UNDEF {
			return s.Value
		}
	}
	t.Fatalf("%s defines no thread-local %s", m.Name, name)
	return 0
}
