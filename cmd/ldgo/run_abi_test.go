package main

import (
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

// `ldgo run` against the machine's calling conventions and the run-time
// services of glibc's ld.so a program can see: vector and x87 arguments
// across a lazily bound first call, IFUNCs, symbol versions, COPY
// relocations, initializer and finalizer order, and how a process ends.
// As in run_test.go, every expectation is the native run of the same
// files.

// abiLink is one way to bind PLT slots: at the first call (lazy) or at
// start-up (-z now). Both are built so that a fault in either path shows.
type abiLink struct {
	name  string
	flags []string
}

var abiLinks = []abiLink{{"lazy", nil}, {"now", []string{"-Wl,-z,now"}}}

// abiCompare runs prog natively and under `ldgo run` and compares them;
// it returns the native result, for checks that the fixture does what it
// is meant to.
func abiCompare(t *testing.T, bin, what string, prog string, args ...string) result {
	t.Helper()
	want := native(t, baseEnv(), "", prog, args...)
	got := hosted(t, bin, baseEnv(), "", prog, args...)
	sameResult(t, what, want, got)
	return want
}

// cpuFlags returns the flags of /proc/cpuinfo.
func cpuFlags(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "flags" {
			for _, f := range strings.Fields(v) {
				flags[f] = true
			}
			break
		}
	}
	return flags
}

// lazyFirsts counts, per symbol, the LDGO_DEBUG=lazy lines of references
// from the object named obj.
func lazyFirsts(stderr, obj string) map[string]int {
	n := map[string]int{}
	for _, m := range lazyLine.FindAllStringSubmatch(stderr, -1) {
		if m[1] == obj {
			n[m[2]]++
		}
	}
	return n
}

const vecLib = `
#include <immintrin.h>
#include <stdarg.h>
#include <stdio.h>

double dmix(double a, double b) { return a * 3.0 - b; }

float fmix(float a, float b, float c, float d, float e, float f, float g, float h, float i, float j) {
	return a + 2*b + 3*c + 4*d + 5*e + 6*f + 7*g + 8*h + 9*i + 10*j;
}

struct dpair { double x, y; };
struct dpair dswap(struct dpair p, double s) { struct dpair r = { p.y * s, p.x - s }; return r; }

long double ldmix(long double a, double b, long double c) { return a * c + b; }

__m128 v4mix(__m128 a, __m128 b, __m128 c, __m128 d, __m128 e, __m128 f, __m128 g, __m128 h, __m128 i, __m128 j) {
	__m128 r = a;
	r = _mm_add_ps(_mm_mul_ps(r, _mm_set1_ps(2)), b);
	r = _mm_add_ps(_mm_mul_ps(r, _mm_set1_ps(2)), c);
	r = _mm_add_ps(_mm_mul_ps(r, _mm_set1_ps(2)), d);
	r = _mm_add_ps(_mm_mul_ps(r, _mm_set1_ps(2)), e);
	r = _mm_add_ps(_mm_mul_ps(r, _mm_set1_ps(2)), f);
	r = _mm_add_ps(_mm_mul_ps(r, _mm_set1_ps(2)), g);
	r = _mm_add_ps(_mm_mul_ps(r, _mm_set1_ps(2)), h);
	r = _mm_add_ps(_mm_mul_ps(r, _mm_set1_ps(2)), i);
	return _mm_add_ps(_mm_mul_ps(r, _mm_set1_ps(2)), j);
}

#ifdef __AVX__
__m256 v8mix(__m256 a, __m256 b, __m256 c, __m256 d, __m256 e, __m256 f, __m256 g, __m256 h, __m256 i, __m256 j) {
	__m256 two = _mm256_set1_ps(2), r = a;
	r = _mm256_add_ps(_mm256_mul_ps(r, two), b);
	r = _mm256_add_ps(_mm256_mul_ps(r, two), c);
	r = _mm256_add_ps(_mm256_mul_ps(r, two), d);
	r = _mm256_add_ps(_mm256_mul_ps(r, two), e);
	r = _mm256_add_ps(_mm256_mul_ps(r, two), f);
	r = _mm256_add_ps(_mm256_mul_ps(r, two), g);
	r = _mm256_add_ps(_mm256_mul_ps(r, two), h);
	r = _mm256_add_ps(_mm256_mul_ps(r, two), i);
	return _mm256_add_ps(_mm256_mul_ps(r, two), j);
}
#endif

#ifdef __AVX512F__
__m512 v16mix(__m512 a, __m512 b, __m512 c, __m512 d, __m512 e, __m512 f, __m512 g, __m512 h, __m512 i) {
	__m512 two = _mm512_set1_ps(2), r = a;
	r = _mm512_add_ps(_mm512_mul_ps(r, two), b);
	r = _mm512_add_ps(_mm512_mul_ps(r, two), c);
	r = _mm512_add_ps(_mm512_mul_ps(r, two), d);
	r = _mm512_add_ps(_mm512_mul_ps(r, two), e);
	r = _mm512_add_ps(_mm512_mul_ps(r, two), f);
	r = _mm512_add_ps(_mm512_mul_ps(r, two), g);
	r = _mm512_add_ps(_mm512_mul_ps(r, two), h);
	return _mm512_add_ps(_mm512_mul_ps(r, two), i);
}
#endif

// Integers and doubles interleaved: 10 of each kind overflow their
// registers (6 and 8), so both kinds are on the stack too, in order.
double many(long i0, double d0, int i1, double d1, long i2, double d2, short i3, double d3,
            long i4, double d4, char i5, double d5, long i6, double d6, long i7, double d7,
            long i8, double d8, long i9, double d9, double d10, double d11) {
	double s = 0;
	long h = 0;
	double ds[] = {d0, d1, d2, d3, d4, d5, d6, d7, d8, d9, d10, d11};
	long is[] = {i0, i1, i2, i3, i4, i5, i6, i7, i8, i9};
	for (int k = 0; k < 12; k++) s = s * 4 + ds[k];
	for (int k = 0; k < 10; k++) h = h * 131 + is[k];
	return s + (double)h;
}

long ihash(long a, long b, long c, long d, long e, long f, long g, long h, long i) {
	long x[] = {a, b, c, d, e, f, g, h, i}, r = 0;
	for (int k = 0; k < 9; k++) r = r * 1000003 + x[k];
	return r;
}

int vfmt(char *buf, size_t n, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return r;
}
`

const vecProg = `
#include <immintrin.h>
#include <stdio.h>
#include <string.h>

double dmix(double, double);
float fmix(float, float, float, float, float, float, float, float, float, float);
struct dpair { double x, y; };
struct dpair dswap(struct dpair, double);
long double ldmix(long double, double, long double);
__m128 v4mix(__m128, __m128, __m128, __m128, __m128, __m128, __m128, __m128, __m128, __m128);
#ifdef __AVX__
__m256 v8mix(__m256, __m256, __m256, __m256, __m256, __m256, __m256, __m256, __m256, __m256);
#endif
#ifdef __AVX512F__
__m512 v16mix(__m512, __m512, __m512, __m512, __m512, __m512, __m512, __m512, __m512);
#endif
double many(long, double, int, double, long, double, short, double, long, double, char, double,
            long, double, long, double, long, double, long, double, double, double);
long ihash(long, long, long, long, long, long, long, long, long);
int vfmt(char *, size_t, const char *, ...);

// Vectors are printed as their bytes: any lane that moved shows.
static void hex(const char *what, int round, const void *p, size_t n) {
	const unsigned char *b = p;
	printf("%s[%d]", what, round);
	for (size_t i = 0; i < n; i++) printf("%s%02x", i % 4 ? "" : " ", b[i]);
	printf("\n");
}

// Each round calls every function once; round 0 is each PLT slot's first
// call, with all eight vector argument registers (and the stack) holding
// distinct values.
static void round_(int k) {
	double b = k;
	printf("dmix[%d] %a\n", k, dmix(1.0 / 3 + b, -2.5e-300 * (b + 1)));
	printf("fmix[%d] %a\n", k, (double)fmix(0.1f, 0.2f + k, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f, 1.1f * (k + 1)));
	struct dpair p = {1.25 + b, -7.5}, q = dswap(p, 0.0625 * (k + 1));
	printf("dswap[%d] %a %a\n", k, q.x, q.y);
	printf("ldmix[%d] %La\n", k, ldmix(1.0L / 3 + k, 0.1 * (k + 1), 3.0L / 7));

	__m128 a[10];
	for (int i = 0; i < 10; i++) a[i] = _mm_set_ps(i * 4 + 1 + k, i * 4 + 2, i * 4 + 3, i * 4 + 4 + 0.5f * k);
	__m128 r4 = v4mix(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9]);
	hex("v4mix", k, &r4, sizeof r4);
#ifdef __AVX__
	__m256 y[10];
	for (int i = 0; i < 10; i++) y[i] = _mm256_set_ps(i * 8 + 1 + k, i * 8 + 2, i * 8 + 3, i * 8 + 4, i * 8 + 5, i * 8 + 6, i * 8 + 7, i * 8 + 8 + 0.25f * k);
	__m256 r8 = v8mix(y[0], y[1], y[2], y[3], y[4], y[5], y[6], y[7], y[8], y[9]);
	hex("v8mix", k, &r8, sizeof r8);
#endif
#ifdef __AVX512F__
	__m512 z[9];
	for (int i = 0; i < 9; i++) {
		float v[16];
		for (int j = 0; j < 16; j++) v[j] = i * 16 + j + 1 + (j == 15 ? 0.125f * k : 0);
		z[i] = _mm512_loadu_ps(v);
	}
	__m512 r16 = v16mix(z[0], z[1], z[2], z[3], z[4], z[5], z[6], z[7], z[8]);
	hex("v16mix", k, &r16, sizeof r16);
#endif
	printf("many[%d] %a\n", k, many(1 + k, 0.5, -2, 0.25, 3, 0x1p-20, 4, 1e10, 5, -0.0, 6, 3.5, 7, 0x1.8p3,
	                               8, 1.0 / 7, 9, 2.0 + k, 10, 1e-5, 0x1p+60, -1.5));
	printf("ihash[%d] %ld\n", k, ihash(11 + k, -22, 33, -44, 55, -66, 77, -88, 99));
	char buf[512];
	int n = vfmt(buf, sizeof buf, "%a %a %d %a %a %a %ld %a %a %a %a %a %a %s %a",
	             0.1 + k, 0.2, 7, 0.3, 0.4, 0.5, -8L, 0.6, 0.7, 0.8, 0.9, 1.0e300, -0x1p-1070, "end", 1.0 / 3);
	printf("vfmt[%d] %d %s\n", k, n, buf);
}

int main(void) {
	for (int k = 0; k < 3; k++) round_(k);
	return 0;
}
`

// TestRunVectorArguments checks that a lazily bound first call reaches
// the function with every argument register intact (the vector state
// above all, which the resolver's own code may use) and that its result
// comes back, and that each slot goes through the resolver once however
// often it is called.
func TestRunVectorArguments(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	cpu := cpuFlags(t)
	flags := []string{"-O1", "-msse2"}
	syms := []string{"dmix", "fmix", "dswap", "ldmix", "v4mix", "many", "ihash", "vfmt"}
	if cpu["avx"] {
		flags = append(flags, "-mavx")
		syms = append(syms, "v8mix")
	} else {
		t.Log("no AVX on this machine: the __m256 calls are left out")
	}
	if cpu["avx512f"] {
		flags = append(flags, "-mavx512f")
		syms = append(syms, "v16mix")
	}
	for _, link := range abiLinks {
		dir := link.name
		f.lib(dir+"/libvec.so", vecLib, append(slices.Clone(flags), link.flags...)...)
		prog := f.prog(dir+"/vec", vecProg, append(append(slices.Clone(flags), "-L"+dir, "-lvec", "-Wl,-rpath,"+f.path(dir)), link.flags...)...)
		want := abiCompare(t, bin, link.name, prog)
		if want.status != 0 || strings.Count(want.stdout, "\n") < 3*len(syms) {
			t.Fatalf("%s: the fixture did not run natively: %+v", link.name, want)
		}

		// The trace makes the resolver write its line, and so run libc's
		// strlen while the arguments wait in their registers. Which
		// strlen is glibc's choice: the EVEX one keeps to ymm16 and up,
		// the AVX2 one ends in vzeroupper, the SSE2 one works in xmm0
		// to xmm3. The tunables make ldgo's libc (the program's too,
		// natively, without changing its output) take each in turn.
		for _, tunables := range vecTunables(cpu) {
			env := baseEnv("LDGO_DEBUG=lazy")
			what := link.name + " LDGO_DEBUG=lazy"
			if tunables != "" {
				env = append(env, "GLIBC_TUNABLES="+tunables)
				what += " GLIBC_TUNABLES=" + tunables
				if w := native(t, baseEnv("GLIBC_TUNABLES="+tunables), "", prog); w != want {
					t.Fatalf("%s: the tunables change the native output: %+v", what, w)
				}
			}
			traced := hosted(t, bin, env, "", prog)
			if traced.stdout != want.stdout || traced.status != want.status {
				t.Errorf("%s: the program's output differs from native\nnative:\n%s\nldgo run (status %d):\n%s\nstderr:\n%s",
					what, want.stdout, traced.status, traced.stdout, traced.stderr)
			}
			firsts := lazyFirsts(traced.stderr, prog)
			for _, sym := range syms {
				n := firsts[sym]
				if link.name == "now" && n != 0 {
					t.Errorf("%s: %s went through the resolver %d times under -z now", what, sym, n)
				}
				if link.name == "lazy" && n != 1 {
					t.Errorf("%s: %s went through the resolver %d times in 3 calls, want exactly 1\n%s", what, sym, n, traced.stderr)
				}
			}
		}
	}
}

// vecTunables returns GLIBC_TUNABLES settings under which glibc's strlen
// is each of the variants this machine has ("" is glibc's own choice).
func vecTunables(cpu map[string]bool) []string {
	tunables := []string{""}
	if cpu["avx512vl"] && cpu["avx512bw"] && cpu["avx2"] {
		tunables = append(tunables, "glibc.cpu.hwcaps=-AVX512VL,-AVX512BW")
	}
	if cpu["avx2"] {
		tunables = append(tunables, "glibc.cpu.hwcaps=-AVX2")
	}
	return tunables
}

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

const atexitLibB = `
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void say(const char *s) { write(1, s, strlen(s)); }
void b_init(void) { say("b: DT_INIT\n"); }
void b_fini(void) { say("b: DT_FINI\n"); }
__attribute__((constructor(300))) static void c300(void) { say("b: constructor 300\n"); }
__attribute__((constructor(101))) static void c101(void) { say("b: constructor 101\n"); }
__attribute__((constructor)) static void c(void) { say("b: constructor\n"); }
__attribute__((destructor(300))) static void d300(void) { say("b: destructor 300\n"); }
__attribute__((destructor(101))) static void d101(void) { say("b: destructor 101\n"); }
__attribute__((destructor)) static void d(void) { say("b: destructor\n"); }
static void from_ctor(void) { say("b: atexit handler registered by a constructor\n"); }
__attribute__((constructor(200))) static void reg(void) { atexit(from_ctor); say("b: constructor 200 registers an atexit handler\n"); }
static void from_call(void) { say("b: atexit handler registered from main\n"); }
void b_register(void) { atexit(from_call); }
void b_exit(int status) { say("b: exit\n"); exit(status); }
`

const atexitLibA = `
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void say(const char *s) { write(1, s, strlen(s)); }
void b_register(void);
void a_init(void) { say("a: DT_INIT\n"); }
void a_fini(void) { say("a: DT_FINI\n"); }
__attribute__((constructor(150))) static void c150(void) { say("a: constructor 150\n"); }
__attribute__((constructor)) static void c(void) { say("a: constructor\n"); }
__attribute__((destructor(150))) static void d150(void) { say("a: destructor 150\n"); }
__attribute__((destructor)) static void d(void) { say("a: destructor\n"); }
static void from_ctor(void) { say("a: atexit handler registered by a constructor\n"); }
__attribute__((constructor(120))) static void reg(void) { atexit(from_ctor); say("a: constructor 120 registers an atexit handler\n"); }
void a_work(void) { say("a: work\n"); b_register(); }
`

const atexitProg = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void say(const char *s) { write(1, s, strlen(s)); }
void a_work(void);
void b_exit(int);
void prog_init(void) { say("prog: DT_INIT\n"); }
void prog_fini(void) { say("prog: DT_FINI\n"); }
static void pre(int argc, char **argv, char **envp) { say("prog: preinit_array\n"); }
__attribute__((section(".preinit_array"), used)) static void (*pre_p)(int, char **, char **) = pre;
static void init_entry(int argc, char **argv, char **envp) {
	char buf[64];
	snprintf(buf, sizeof buf, "prog: init_array entry, argc %d, argv[1] %s\n", argc, argc > 1 ? argv[1] : "-");
	say(buf);
}
__attribute__((section(".init_array"), used)) static void (*init_p)(int, char **, char **) = init_entry;
static void fini_entry(void) { say("prog: fini_array entry\n"); }
__attribute__((section(".fini_array"), used)) static void (*fini_p)(void) = fini_entry;
__attribute__((constructor(500))) static void c500(void) { say("prog: constructor 500\n"); }
__attribute__((constructor(102))) static void c102(void) { say("prog: constructor 102\n"); }
__attribute__((constructor)) static void c(void) { say("prog: constructor\n"); }
__attribute__((destructor(500))) static void d500(void) { say("prog: destructor 500\n"); }
__attribute__((destructor(102))) static void d102(void) { say("prog: destructor 102\n"); }
__attribute__((destructor)) static void d(void) { say("prog: destructor\n"); }
static void first(void) { say("prog: first atexit handler\n"); }
static void second(void) { say("prog: second atexit handler\n"); }
int main(int argc, char **argv) {
	atexit(first);
	a_work();
	atexit(second);
	say("prog: main\n");
#ifdef EXIT_FROM_LIBRARY
	b_exit(3);
#endif
	return 4;
}
`

// TestRunAtexitOrder checks the order of everything that runs before and
// after main: DT_INIT, init and fini arrays with constructor and
// destructor priorities, in the program and two libraries, and atexit
// handlers registered by the program and by libraries, from a constructor
// and from a call. Output is written with write(2), so that the order is
// the order of the calls.
func TestRunAtexitOrder(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	for _, link := range abiLinks {
		dir := link.name
		f.lib(dir+"/libb.so", atexitLibB, append([]string{"-Wl,-init,b_init", "-Wl,-fini,b_fini"}, link.flags...)...)
		f.lib(dir+"/liba.so", atexitLibA, append([]string{"-Wl,-init,a_init", "-Wl,-fini,a_fini", "-L" + dir, "-lb", "-Wl,-rpath," + f.path(dir)}, link.flags...)...)
		for _, exit := range []struct {
			name  string
			flags []string
		}{
			{"return", nil},
			{"exit", []string{"-DEXIT_FROM_LIBRARY"}},
		} {
			what := link.name + "/" + exit.name
			flags := append([]string{"-Wl,-init,prog_init", "-Wl,-fini,prog_fini", "-L" + dir, "-la", "-lb", "-Wl,-rpath," + f.path(dir)}, link.flags...)
			prog := f.prog(dir+"/"+exit.name, atexitProg, append(flags, exit.flags...)...)
			want := abiCompare(t, bin, what, prog, "arg")
			if !strings.Contains(want.stdout, "prog: main\n") || !strings.Contains(want.stdout, "b: DT_FINI\n") {
				t.Fatalf("%s: the fixture did not run natively: %+v", what, want)
			}
		}
	}
}

const signalProg = `
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void say(const char *s) { write(2, s, strlen(s)); }

static void reraise(int sig) {
	say(sig == SIGSEGV ? "handler: SIGSEGV, raising it again with SIG_DFL\n" : "handler: unexpected signal\n");
	signal(sig, SIG_DFL);
	raise(sig);
}

// For a real fault, returning runs the faulting instruction again, now
// with the default action.
static void fault(int sig, siginfo_t *si, void *uc) {
	say(si->si_addr == (void *)16 && si->si_code == SEGV_MAPERR ? "handler: fault at 16\n" : "handler: other fault\n");
	signal(sig, SIG_DFL);
}

static volatile sig_atomic_t got_usr1;
static void usr1(int sig) { got_usr1 = gettid() == getpid() ? 1 : 2; }

int main(int argc, char **argv) {
	const char *how = argc > 1 ? argv[1] : "";
	// A signal that goes astray ends the wait for it.
	alarm(10);
	printf("start %s\n", how);
	if (!strcmp(how, "exit")) exit(atoi(argv[2]));
	if (!strcmp(how, "return")) return atoi(argv[2]);
	if (!strcmp(how, "_exit")) _exit(atoi(argv[2]));
	if (!strcmp(how, "abort")) {
		say("aborting\n");
		abort();
	}
	if (!strcmp(how, "raise-segv")) {
		fflush(stdout);
		signal(SIGSEGV, reraise);
		raise(SIGSEGV);
		say("still alive after SIGSEGV\n");
		return 1;
	}
	if (!strcmp(how, "fault")) {
		fflush(stdout);
		struct sigaction sa = {0};
		sa.sa_sigaction = fault;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGSEGV, &sa, 0);
		*(volatile int *)16 = 1;
		say("still alive after the fault\n");
		return 1;
	}
	if (!strcmp(how, "kill-term")) {
		fflush(stdout);
		kill(getpid(), SIGTERM);
		pause();
		return 1;
	}
	// A signal sent to the process is handled by the program's thread,
	// the process's main thread.
	if (!strcmp(how, "kill-usr1")) {
		sigset_t usr, old;
		sigemptyset(&usr);
		sigaddset(&usr, SIGUSR1);
		signal(SIGUSR1, usr1);
		sigprocmask(SIG_BLOCK, &usr, &old);
		kill(getpid(), SIGUSR1);
		while (!got_usr1) sigsuspend(&old);
		printf("SIGUSR1 handled on the %s thread\n", got_usr1 == 1 ? "main" : "another");
		return 0;
	}
	// What the program starts with: blocked and ignored signals.
	if (!strcmp(how, "state")) {
		sigset_t set;
		sigprocmask(SIG_BLOCK, 0, &set);
		for (int s = 1; s < NSIG; s++) {
			struct sigaction sa;
			if (sigismember(&set, s) == 1) printf("blocked %d\n", s);
			if (sigaction(s, 0, &sa) == 0 && sa.sa_handler != SIG_DFL) printf("disposition of %d not default\n", s);
		}
		stack_t ss;
		sigaltstack(0, &ss);
		printf("alternate stack %s\n", ss.ss_flags & SS_DISABLE ? "disabled" : "enabled");
		return 0;
	}
	say("unknown case\n");
	return 99;
}
`

// TestRunSignalsAndStatus checks how programs end: exit statuses by
// exit, _exit and return, and deaths by signal, raised, sent or from a
// fault, with and without a handler, and the signal state a program
// starts with.
func TestRunSignalsAndStatus(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	prog := f.prog("signals", signalProg)
	cases := [][]string{{"state"}}
	for _, n := range []string{"0", "1", "2", "42", "127", "128", "200", "255", "256"} {
		cases = append(cases, []string{"exit", n}, []string{"return", n})
	}
	cases = append(cases, []string{"_exit", "77"}, []string{"abort"}, []string{"raise-segv"}, []string{"fault"}, []string{"kill-term"}, []string{"kill-usr1"})
	for _, args := range cases {
		want := abiCompare(t, bin, strings.Join(args, " "), prog, args...)
		if strings.Contains(want.stderr, "unknown case") {
			t.Errorf("%s: the fixture does not know this case", strings.Join(args, " "))
		}
	}
}
