package main

import (
	"os"
	"slices"
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
