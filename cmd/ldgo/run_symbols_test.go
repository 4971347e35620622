package main

import (
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

const ifuncLib = `
static int scale_avx2(int x) { return x * 1000 + 2; }
static int scale_plain(int x) { return x * 1000 + 1; }

// The resolver runs before the library's constructors, maybe before
// libgcc's: it initializes the cpu model itself.
static void *resolve_scale(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") ? (void *)scale_avx2 : (void *)scale_plain;
}
int lib_scale(int) __attribute__((ifunc("resolve_scale")));

static int twice_sse42(int x) { return 2 * x + 42; }
static int twice_plain(int x) { return 2 * x; }
static void *resolve_twice(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("sse4.2") ? (void *)twice_sse42 : (void *)twice_plain;
}
int lib_twice(int) __attribute__((ifunc("resolve_twice")));

// A call from inside the library: through the library's own PLT, since
// lib_scale can be interposed.
int lib_both(int x) { return lib_twice(lib_scale(x)); }

// The address of an IFUNC is its implementation's, the same everywhere.
void *lib_scale_address(void) { return (void *)lib_scale; }
int (*lib_scale_pointer)(int) = lib_scale;
`

const ifuncProg = `
#include <stdio.h>

int lib_scale(int);
int lib_twice(int);
int lib_both(int);
void *lib_scale_address(void);
extern int (*lib_scale_pointer)(int);

static int add_avx(int a, int b) { return a + b + 100; }
static int add_plain(int a, int b) { return a + b; }
static void *resolve_add(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx") ? (void *)add_avx : (void *)add_plain;
}
int prog_add(int, int) __attribute__((ifunc("resolve_add")));
int (*volatile prog_add_pointer)(int, int) = prog_add;

int main(void) {
	for (int i = 0; i < 3; i++)
		printf("prog_add %d lib_scale %d lib_twice %d lib_both %d\n", prog_add(i, 10), lib_scale(i), lib_twice(i), lib_both(i));
	printf("prog_add through a pointer %d\n", prog_add_pointer(1, 2));
	void *mine = (void *)lib_scale, *theirs = lib_scale_address();
	printf("&lib_scale in the program and in the library: %s\n", mine == theirs ? "equal" : "different");
	printf("&lib_scale in the library's data: %s\n", (void *)lib_scale_pointer == theirs ? "equal" : "different");
	printf("calls through the addresses: %d %d %d\n", ((int (*)(int))mine)(4), ((int (*)(int))theirs)(5), lib_scale_pointer(6));
	return 0;
}
`

// TestRunIFunc checks IFUNCs in the program and in a library: the
// resolvers choose by the cpu as natively, the choice is the same from
// every call site, and the address of a library IFUNC is one address.
func TestRunIFunc(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	for _, link := range abiLinks {
		dir := link.name
		f.lib(dir+"/libifunc.so", ifuncLib, append([]string{"-O1"}, link.flags...)...)
		prog := f.prog(dir+"/ifunc", ifuncProg, append([]string{"-O1", "-L" + dir, "-lifunc", "-Wl,-rpath," + f.path(dir)}, link.flags...)...)
		want := abiCompare(t, bin, link.name, prog)
		if want.status != 0 || !strings.Contains(want.stdout, "calls through the addresses") {
			t.Fatalf("%s: the fixture did not run natively: %+v", link.name, want)
		}
	}
}

const verScriptV1 = `V1 { global: foo; local: *; };
`

const verScriptV2 = `V1 { global: foo; local: *; };
V2 { global: foo; } V1;
`

// TestRunVersionedSymbols checks that a reference binds to the version it
// was linked against, not to the newest: lib2 was linked when libver had
// only foo@V1, the program against the current libver whose default is
// foo@@V2.
func TestRunVersionedSymbols(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.write("v1.map", verScriptV1)
	f.write("v2.map", verScriptV2)
	for _, link := range abiLinks {
		dir := link.name
		f.lib(dir+"/old/libver.so", `
const char *foo(void) { return "foo of the old library"; }
`, append([]string{"-Wl,-soname,libver.so", "-Wl,--version-script,v1.map"}, link.flags...)...)
		f.lib(dir+"/lib2.so", `
const char *foo(void);
const char *via_lib2(void) { return foo(); }
`, append([]string{"-Wl,-soname,lib2.so", "-L" + dir + "/old", "-lver"}, link.flags...)...)
		f.lib(dir+"/libver.so", `
__asm__(".symver foo_v1, foo@V1");
__asm__(".symver foo_v2, foo@@V2");
const char *foo_v1(void) { return "foo@V1 of the new library"; }
const char *foo_v2(void) { return "foo@@V2 of the new library"; }
`, append([]string{"-Wl,-soname,libver.so", "-Wl,--version-script,v2.map"}, link.flags...)...)
		prog := f.prog(dir+"/ver", `
#include <stdio.h>
const char *foo(void);
const char *via_lib2(void);
int main(void) {
	printf("program: %s\n", foo());
	printf("lib2: %s\n", via_lib2());
	printf("program again: %s\n", foo());
	return 0;
}
`, append([]string{"-L" + dir, "-lver", "-l2", "-Wl,-rpath," + f.path(dir)}, link.flags...)...)
		want := abiCompare(t, bin, link.name, prog)
		if !strings.Contains(want.stdout, "@V1 ") || !strings.Contains(want.stdout, "@@V2 ") {
			t.Fatalf("%s: natively the fixture does not reach both versions: %+v", link.name, want)
		}
	}
}

// copyRelocs lists the symbols of the R_X86_64_COPY relocations of an
// executable, as readelf shows them.
func copyRelocs(t *testing.T, path string) []string {
	t.Helper()
	out, err := exec.Command("readelf", "-rW", path).CombinedOutput()
	if err != nil {
		t.Fatalf("readelf -rW %s: %v\n%s", path, err, out)
	}
	var syms []string
	for _, l := range strings.Split(string(out), "\n") {
		if fs := strings.Fields(l); len(fs) >= 5 && fs[2] == "R_X86_64_COPY" {
			syms = append(syms, fs[4])
		}
	}
	sort.Strings(syms)
	return syms
}

const copyLib = `
#include <stdio.h>
int table[4] = {1, 2, 3, 4};
const char *name = "lib";
int *lib_table(void) { return table; }
void show(const char *when) {
	printf("%s: the library sees table %d %d %d %d, name %s\n", when, table[0], table[1], table[2], table[3], name);
}
// Constructors run after relocation: this writes the program's copy.
__attribute__((constructor)) static void init(void) { table[3] = 40; }
`

const copyProg = `
#include <stdio.h>
extern int table[4];
extern const char *name;
int *lib_table(void);
void show(const char *);
int main(void) {
	printf("the program sees table %d %d %d %d, name %s\n", table[0], table[1], table[2], table[3], name);
	show("before");
	table[1] = 20;
	name = "prog";
	show("after");
	printf("one table: %s\n", lib_table() == table ? "yes" : "no");
	return 0;
}
`

// TestRunCopyRelocationOfLibraryData checks that a program which refers
// to a library's data directly gets a copy initialized from the library,
// and that the library then uses that copy, its own constructor included.
func TestRunCopyRelocationOfLibraryData(t *testing.T) {
	bin := buildLdgo(t)
	if _, err := exec.LookPath("readelf"); err != nil {
		t.Skip("readelf not installed")
	}
	f := newFixture(t)
	f.lib("libdata.so", copyLib)
	for _, c := range []struct {
		name  string
		flags []string
	}{
		{"pie", nil},
		{"nopie", []string{"-fno-pic", "-no-pie"}},
	} {
		prog := f.prog(c.name, copyProg, append([]string{"-L.", "-ldata", "-Wl,-rpath," + f.dir}, c.flags...)...)
		if got := copyRelocs(t, prog); !slices.Equal(got, []string{"name", "table"}) {
			t.Fatalf("%s: want COPY relocations of name and table, readelf shows %q", c.name, got)
		}
		abiCompare(t, bin, c.name, prog)
	}
}
