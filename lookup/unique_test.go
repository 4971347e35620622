package lookup_test

import (
	"debug/elf"
	"testing"

	"github.com/ldgo/ldgo/internal/testelf"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/namespace"
)

// TestUniqueSymbols: an STB_GNU_UNIQUE symbol (what g++ makes of an
// inline function's static variable) has one definition in the process,
// the first one a lookup met, even for lookups in scopes that hold
// another: two libraries opened with RTLD_LOCAL, each defining it, share
// the first one's.
func TestUniqueSymbols(t *testing.T) {
	t.Parallel()
	d := testelf.New(t)
	src := `
int u = 1;
__asm__(".type u, @gnu_unique_object");
int *addr_u(void) { return &u; }
`
	d.Build("libu1.so", src)
	d.Build("libu2.so", src)
	prog := d.Build("main", `
#include <dlfcn.h>
#include <stdio.h>
int main(void) {
	void *h1 = dlopen("libu1.so", RTLD_NOW | RTLD_LOCAL), *h2 = dlopen("libu2.so", RTLD_NOW | RTLD_LOCAL);
	int *(*a1)(void) = dlsym(h1, "addr_u"), *(*a2)(void) = dlsym(h2, "addr_u");
	printf("%d %d %d\n", a1() == dlsym(h1, "u"), a2() == a1(), dlsym(h2, "u") == dlsym(h1, "u"));
	return 0;
}
`)
	if native := d.Run([]string{"LD_LIBRARY_PATH=" + d.Path}, prog); native != "1 1 1\n" {
		t.Fatalf("natively the libraries' u are not one (%q): the fixture is not unique", native)
	}
	l := load(t, d, prog, d.Path)
	h1, order1, err := l.ns.Dlopen("libu1.so", l.ns.Main, namespace.OpenMode{})
	if err != nil {
		t.Fatal(err)
	}
	h2, order2, err := l.ns.Dlopen("libu2.so", l.ns.Main, namespace.OpenMode{})
	if err != nil {
		t.Fatal(err)
	}
	if len(order1) != 1 || len(order2) != 1 {
		t.Fatalf("dlopen loaded %d and %d objects, want one each", len(order1), len(order2))
	}
	const want = "libu1.so:u"
	// Relocated in the order they were opened, as glibc's dlopen does.
	for _, ref := range []string{"libu1.so", "libu2.so"} {
		if got := l.reference(ref, "u", elf.R_X86_64_GLOB_DAT); got.err != nil || definition(got.res) != want {
			t.Errorf("%s's reference to u found %s (%v), want %s", ref, definition(got.res), got.err, want)
		}
	}
	for _, m := range []*linkmap.Map{h1, h2} {
		res, err := l.ns.Dlsym(m, nil, false, "u", "")
		if err != nil || definition(res) != want {
			t.Errorf("dlsym(%s, u) found %s (%v), want %s", m.Name, definition(res), err, want)
		}
	}
}
