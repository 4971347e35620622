package lookup_test

import (
	"debug/elf"
	"strings"
	"testing"

	"github.com/ldgo/ldgo/internal/testelf"
)

// TestFirstDefinitionInScopeWins: the search takes the first definition
// in the scope, weak or not (glibc does without LD_DYNAMIC_WEAK), so
// the order of the program's DT_NEEDED entries decides.
func TestFirstDefinitionInScopeWins(t *testing.T) {
	t.Parallel()
	d := testelf.New(t)
	d.Build("libweak.so", `__attribute__((weak)) const char *who(void) { return "libweak.so:who"; }`)
	d.Build("libstrong.so", `const char *who(void) { return "libstrong.so:who"; }`)
	src := `
#include <stdio.h>
const char *who(void);
int main(void) { puts(who()); return 0; }
`
	for _, tc := range []struct {
		name  string
		libs  []string
		want  string
		class elf.R_X86_64
	}{
		{"a weak definition first", []string{"-lweak", "-lstrong"}, "libweak.so:who", elf.R_X86_64_JMP_SLOT},
		{"a global definition first", []string{"-lstrong", "-lweak"}, "libstrong.so:who", elf.R_X86_64_JMP_SLOT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prog := d.Build("main"+strings.Join(tc.libs, ""), src, tc.libs...)
			got := load(t, d, prog, d.Path).reference("main"+strings.Join(tc.libs, ""), "who", tc.class)
			if got.err != nil {
				t.Fatal(got.err)
			}
			if answer := definition(got.res); answer != tc.want {
				t.Errorf("lookup found %s, want %s", answer, tc.want)
			}
			if native := d.Run([]string{"LD_LIBRARY_PATH=" + d.Path}, prog); native != tc.want+"\n" {
				t.Errorf("the program run natively prints %q, want %q", native, tc.want)
			}
		})
	}
}

// TestUndefinedReferences: a weak reference with no definition resolves
// to nothing, without an error; a strong one is an undefined symbol, in
// glibc's words.
func TestUndefinedReferences(t *testing.T) {
	t.Parallel()
	d := testelf.New(t)
	d.Build("old/libgone.so", `void gone(void) {}`)
	d.Build("libgone.so", `void other(void) {}`)
	prog := d.Build("main", `
#include <stdio.h>
extern int missing(void) __attribute__((weak));
void gone(void);
int main(int argc, char **argv) {
	puts(missing ? "found" : "nothing");
	if (argc > 1) gone();
	return 0;
}
`, "-Lold", "-lgone")
	l := load(t, d, prog, d.Path)
	env := []string{"LD_LIBRARY_PATH=" + d.Path}

	weak := l.reference("main", "missing", elf.R_X86_64_GLOB_DAT)
	if weak.err != nil || weak.res.Map != nil || weak.line != "" {
		t.Errorf("weak reference: found %s (%v), binding %q; want nothing, no error, no binding", definition(weak.res), weak.err, weak.line)
	}
	if native := d.Run(env, prog); native != "nothing\n" {
		t.Errorf("natively the weak reference finds %q, want nothing", native)
	}

	strong := l.reference("main", "gone", elf.R_X86_64_JMP_SLOT)
	const want = "undefined symbol: gone"
	if strong.err == nil || strong.err.Error() != want {
		t.Errorf("strong reference: found %s, error %v; want %q", definition(strong.res), strong.err, want)
	}
	if ldd := d.Ldd(env, prog, "-r"); !hasLine(ldd, want+"\t(main)") {
		t.Errorf("ldd -r does not report %q:\n%s", want, strings.Join(ldd, "\n"))
	}
}

// TestLookupClasses: what a relocation's class passes over. A COPY
// relocation's lookup looks past the executable, whose copy is the
// first definition in the scope, while other lookups find that copy; a
// PLT lookup passes over an undefined symbol with a value (the address
// of a non-PIE executable's PLT entry, which stands for the function
// where its address is taken), while other lookups take it, for one
// address of the function everywhere.
func TestLookupClasses(t *testing.T) {
	t.Parallel()
	d := testelf.New(t)
	d.Build("libdata.so", `
int counter = 42;
int *lib_counter(void) { return &counter; }
`)
	d.Build("libf.so", `
const char *fn(void) { return "libf.so:fn"; }
const char *call_fn(void) { return fn(); }
`)
	d.Build("libg.so", `
const char *fn(void);
void *addr_fn(void) { return (void *)fn; }
`, "-lf")
	prog := d.Build("main", `
#include <stdio.h>
extern int counter;
int *lib_counter(void);
const char *fn(void);
const char *call_fn(void);
void *addr_fn(void);
int main(void) {
	printf("%d %d %d %s\n", counter, lib_counter() == &counter, addr_fn() == (void *)fn, call_fn());
	return 0;
}
`, "-no-pie", "-fno-pie", "-ldata", "-lg", "-lf")
	l, native, glibc := loadAndRun(t, d, prog)
	if native != "42 1 1 libf.so:fn\n" {
		t.Fatalf("the program run natively prints %q: the fixture does not share its data and function addresses", native)
	}
	for _, tc := range []struct {
		name      string
		ref, sym  string
		typ       elf.R_X86_64
		wantLine  string
		wantFound string
	}{
		{"a COPY relocation looks past the executable", "main", "counter", elf.R_X86_64_COPY,
			"binding file main [0] to libdata.so [0]: normal symbol `counter'", "libdata.so:counter"},
		{"other references find the executable's copy", "libdata.so", "counter", elf.R_X86_64_GLOB_DAT,
			"binding file libdata.so [0] to main [0]: normal symbol `counter'", "main:counter"},
		{"a PLT reference passes over the executable's PLT entry", "libf.so", "fn", elf.R_X86_64_JMP_SLOT,
			"binding file libf.so [0] to libf.so [0]: normal symbol `fn'", "libf.so:fn"},
		{"a data reference takes the executable's PLT entry", "libg.so", "fn", elf.R_X86_64_GLOB_DAT,
			"binding file libg.so [0] to main [0]: normal symbol `fn'", "main:fn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l.t = t
			got := l.binding(glibc, tc.ref, tc.sym, tc.typ, tc.wantLine)
			if answer := definition(got.res); answer != tc.wantFound {
				t.Errorf("lookup found %s, want %s", answer, tc.wantFound)
			}
		})
	}
}

// TestRTLDNext: dlsym(RTLD_NEXT) searches the global scope after the
// caller, never the caller itself (lookup's Skip).
func TestRTLDNext(t *testing.T) {
	t.Parallel()
	d := testelf.New(t)
	d.Build("libwho.so", `const char *who(void) { return "libwho.so:who"; }`)
	prog := d.Build("main", `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
const char *who(void) { return "main:who"; }
int main(void) {
	const char *(*next)(void) = dlsym(RTLD_NEXT, "who");
	puts(next ? next() : "nothing");
	return 0;
}
`, "-lwho")
	l := load(t, d, prog, d.Path)
	res, err := l.ns.Dlsym(nil, l.ns.Main, true, "who", "")
	if err != nil {
		t.Fatal(err)
	}
	const want = "libwho.so:who"
	if answer := definition(res); answer != want {
		t.Errorf("lookup found %s, want %s", answer, want)
	}
	if native := d.Run([]string{"LD_LIBRARY_PATH=" + d.Path}, prog); native != want+"\n" {
		t.Errorf("natively RTLD_NEXT finds %q, want %q", native, want)
	}
}
