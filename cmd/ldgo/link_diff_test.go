package main

import (
	"strings"
	"testing"
)

// linkCase is a fixture built with GNU ld and with ldgo: a library and a
// program using it, or more.
type linkCase struct {
	name    string
	sources map[string]string
	// steps are compiler-driver command lines (gcc or g++ first).
	steps [][]string
	// outputs are the files checked and compared; the programs among
	// them (not .so or .o) are run.
	outputs []string
	// env is added to the program's environment.
	env []string
	// noHosted says the programs are static: ldgo run and ldgo verify
	// do not link them.
	noHosted bool
}

var linkCases = []linkCase{
	{
		name: "weak undefined",
		sources: map[string]string{
			"lib.c": `
#include <stdio.h>
void optional_hook(void) __attribute__((weak));
extern int optional_data __attribute__((weak));
int lib_report(void) {
	printf("hook %s, data %s\n", optional_hook ? "present" : "absent", &optional_data ? "present" : "absent");
	if (optional_hook) optional_hook();
	return optional_hook != 0;
}`,
			"main.c": `
#include <stdio.h>
int lib_report(void);
void missing(void) __attribute__((weak));
int main(void) {
	printf("missing %s\n", missing ? "present" : "absent");
	return lib_report() + 3;
}`,
		},
		steps:   [][]string{{"gcc", "-shared", "-fPIC", "-o", "libweak.so", "lib.c"}, {"gcc", "-o", "weak", "main.c", "./libweak.so"}},
		outputs: []string{"libweak.so", "weak"},
	},
	{
		name: "interposition",
		sources: map[string]string{
			"lib.c": `
#include <stdio.h>
const char *greeting(void) { return "the library's"; }
void greet(void) { printf("greeting: %s\n", greeting()); }`,
			"main.c": `
#include <stdio.h>
void greet(void);
const char *greeting(void) { return "the program's"; }
int main(void) { greet(); return 0; }`,
		},
		steps:   [][]string{{"gcc", "-shared", "-fPIC", "-o", "libgreet.so", "lib.c"}, {"gcc", "-o", "interpose", "main.c", "./libgreet.so"}},
		outputs: []string{"libgreet.so", "interpose"},
	},
	{
		name: "protected symbols",
		sources: map[string]string{
			"lib.c": `
#include <stdio.h>
__attribute__((visibility("protected"))) int counter = 10;
__attribute__((visibility("protected"))) int next(void) { return ++counter; }
__attribute__((visibility("hidden"))) int hidden_helper(void) { return 7; }
int use(void) { return next() + hidden_helper(); }`,
			"main.c": `
#include <stdio.h>
int next(void);
int use(void);
int main(void) { int a = next(); int b = use(); printf("%d %d\n", a, b); return 0; }`,
		},
		steps:   [][]string{{"gcc", "-shared", "-fPIC", "-o", "libprot.so", "lib.c"}, {"gcc", "-o", "protected", "main.c", "./libprot.so"}},
		outputs: []string{"libprot.so", "protected"},
	},
	{
		name: "errno and stdio",
		sources: map[string]string{
			"lib.c": `
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
int try_open(const char *path) {
	FILE *f = fopen(path, "r");
	if (!f) { fprintf(stdout, "%s: %s (errno %d)\n", path, strerror(errno), errno); return errno; }
	fclose(f);
	return 0;
}
char *dup_upper(const char *s) { char *d = strdup(s); for (char *p = d; *p; p++) if (*p >= 'a' && *p <= 'z') *p -= 32; return d; }`,
			"main.c": `
#include <stdio.h>
#include <stdlib.h>
int try_open(const char *);
char *dup_upper(const char *);
int main(void) {
	char *s = dup_upper("hello, errno");
	puts(s);
	free(s);
	return try_open("/nonexistent/file") == 2 ? 0 : 1;
}`,
		},
		steps:   [][]string{{"gcc", "-shared", "-fPIC", "-o", "libio.so", "lib.c"}, {"gcc", "-o", "errno", "main.c", "./libio.so"}},
		outputs: []string{"libio.so", "errno"},
	},
	{
		name: "constructor order",
		sources: map[string]string{
			"lib.c": `
#include <stdio.h>
__attribute__((constructor(300))) static void l300(void) { puts("lib ctor 300"); }
__attribute__((constructor(101))) static void l101(void) { puts("lib ctor 101"); }
__attribute__((constructor)) static void lplain(void) { puts("lib ctor"); }
__attribute__((destructor(150))) static void ld150(void) { puts("lib dtor 150"); }
__attribute__((destructor)) static void ldplain(void) { puts("lib dtor"); }
void lib(void) { puts("lib"); }`,
			"a.c": `
#include <stdio.h>
__attribute__((constructor(200))) static void a200(void) { puts("a ctor 200"); }
__attribute__((constructor)) static void aplain(void) { puts("a ctor"); }
__attribute__((destructor(200))) static void ad200(void) { puts("a dtor 200"); }`,
			"main.c": `
#include <stdio.h>
#include <stdlib.h>
void lib(void);
__attribute__((constructor(150))) static void m150(void) { puts("main ctor 150"); }
__attribute__((constructor(65535))) static void mlast(void) { puts("main ctor 65535"); }
__attribute__((constructor)) static void mplain(void) { puts("main ctor"); }
__attribute__((destructor(101))) static void md101(void) { puts("main dtor 101"); }
__attribute__((destructor)) static void mdplain(void) { puts("main dtor"); }
static void at(void) { puts("atexit"); }
int main(void) { atexit(at); lib(); puts("main"); return 0; }`,
		},
		steps:   [][]string{{"gcc", "-shared", "-fPIC", "-o", "libctor.so", "lib.c"}, {"gcc", "-o", "ctors", "main.c", "a.c", "./libctor.so"}},
		outputs: []string{"libctor.so", "ctors"},
	},
	{
		name: "C++ exceptions across a library",
		sources: map[string]string{
			"lib.cc": `
#include <map>
#include <stdexcept>
#include <string>
#include <vector>
struct Error : std::runtime_error { int code; Error(const std::string &m, int c) : std::runtime_error(m), code(c) {} };
std::vector<std::string> seen;
template <typename T> T twice(T v) { return v + v; }
void check(int n) {
	seen.push_back(std::to_string(twice(n)));
	if (n % 3 == 2) throw Error("bad " + std::to_string(n), n);
	if (n == 4) throw std::out_of_range("four");
}
std::map<std::string, int> counts() { std::map<std::string, int> m; for (auto &s : seen) m[s]++; return m; }`,
			"main.cc": `
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
struct Error : std::runtime_error { int code; Error(const std::string &m, int c) : std::runtime_error(m), code(c) {} };
void check(int n);
std::map<std::string, int> counts();
template <typename T> T twice(T v) { return v + v; }
struct Guard { const char *n; ~Guard() { std::cout << "unwound " << n << "\n"; } };
int main() {
	for (int i = 0; i < 6; i++) {
		try { Guard g{"loop"}; check(i); std::cout << "ok " << twice(i) << "\n"; }
		catch (const Error &e) { std::cout << "Error " << e.what() << " code " << e.code << "\n"; }
		catch (const std::exception &e) { std::cout << "exception " << e.what() << "\n"; }
	}
	for (auto &kv : counts()) std::cout << kv.first << "=" << kv.second << "\n";
	try { throw 42; } catch (int v) { std::cout << "int " << v << "\n"; }
}`,
		},
		steps:   [][]string{{"g++", "-shared", "-fPIC", "-O1", "-o", "libcheck.so", "lib.cc"}, {"g++", "-O1", "-o", "cxx", "main.cc", "./libcheck.so"}},
		outputs: []string{"libcheck.so", "cxx"},
	},
	{
		name: "copy relocations",
		sources: map[string]string{
			"lib.c": `
int table[4] = {1, 2, 3, 4};
int counter = 5;
const char *name = "lib";
int bump(void) { return ++counter; }
int sum(void) { return table[0] + table[1] + table[2] + table[3]; }`,
			"main.c": `
#include <stdio.h>
extern int table[4];
extern int counter;
extern const char *name;
int bump(void);
int sum(void);
int (*fp)(void) = bump;
int main(void) {
	table[2] = 30;
	bump();
	printf("%s %d %d %d %d\n", name, counter, sum(), fp == bump, fp());
	fprintf(stdout, "stdout is copied: %d\n", stdout != 0);
	return 0;
}`,
		},
		steps:   [][]string{{"gcc", "-shared", "-fPIC", "-o", "libdata.so", "lib.c"}, {"gcc", "-no-pie", "-fno-pic", "-o", "copyrel", "main.c", "./libdata.so"}},
		outputs: []string{"libdata.so", "copyrel"},
	},
	{
		// Every access model, across the library boundary: the library
		// uses general and local dynamic and initial exec, and TLS
		// descriptors; the program local and initial exec, and, from
		// objects compiled -fPIC, general and local dynamic and TLS
		// descriptors, which the link editor relaxes.
		name: "thread-local storage",
		sources: map[string]string{
			"lib.c": `
__thread int lib_gd = 1;
static __thread int lib_ld = 2;
static __thread char lib_ld_bss[64];
__thread int lib_ie __attribute__((tls_model("initial-exec"))) = 3;
int lib_get(void) { lib_ld_bss[5] += 1; return lib_gd + lib_ld + lib_ie + lib_ld_bss[5]; }
int *lib_addr(void) { return &lib_gd; }`,
			"desclib.c": `
extern __thread int lib_gd;
__thread long desc_own_lib = 100;
static __thread long desc_local_lib = 7;
long desc_sum_lib(void) { return lib_gd + desc_own_lib + desc_local_lib++; }`,
			"desc.c": `
extern __thread int lib_gd;
__thread long desc_own = 100;
static __thread long desc_local = 7;
long desc_sum(void) { return lib_gd + desc_own + desc_local++; }`,
			"pic.c": `
extern __thread int lib_gd;
extern __thread int main_le;
static __thread int pic_local = 5;
int pic_sum(void) { return lib_gd + main_le + pic_local++; }`,
			"main.c": `
#include <pthread.h>
#include <stdio.h>
extern __thread int lib_gd;
extern __thread int lib_ie;
__thread int main_le = 10;
static __thread int main_bss;
int lib_get(void);
int *lib_addr(void);
int pic_sum(void);
long desc_sum(void);
long desc_sum_lib(void);
static void *work(void *arg) {
	long n = (long)arg;
	lib_gd += n; main_le += n; main_bss += n; lib_ie += n;
	int a = lib_get(), b = pic_sum(); long c = desc_sum(), d = desc_sum_lib();
	printf("thread %ld: %d %d %d %d %d %ld %ld %d\n", n, lib_gd, main_le, main_bss, a, b, c, d, lib_addr() == &lib_gd);
	return 0;
}
int main(void) {
	pthread_t t[3];
	for (long i = 0; i < 3; i++) { pthread_create(&t[i], 0, work, (void *)(i + 1)); pthread_join(t[i], 0); }
	work(0);
	return 0;
}`,
		},
		steps: [][]string{
			{"gcc", "-shared", "-fPIC", "-o", "libtls.so", "lib.c"},
			{"gcc", "-shared", "-fPIC", "-mtls-dialect=gnu2", "-o", "libdesc.so", "desclib.c", "./libtls.so"},
			{"gcc", "-fPIC", "-c", "pic.c"},
			{"gcc", "-fPIC", "-mtls-dialect=gnu2", "-c", "desc.c"},
			{"gcc", "-o", "tls", "main.c", "pic.o", "desc.o", "./libtls.so", "./libdesc.so", "-lpthread"},
		},
		outputs: []string{"libtls.so", "libdesc.so", "tls"},
	},
	{
		// A version script with two versions, one inheriting the other,
		// local: * hiding the rest; two versions of one symbol through
		// .symver, and a program that calls both.
		name: "version script",
		sources: map[string]string{
			"lib.c": `
__asm__(".symver foo_v1, foo@VERS_1");
__asm__(".symver foo_v2, foo@@VERS_2");
int foo_v1(void) { return 1; }
int foo_v2(void) { return 2; }
int bar(void) { return 10; }
int helper(void) { return 100; }
int baz(void) { return helper() + 1000; }`,
			"lib.map": `VERS_1 {
  global: bar; foo;
  local: *;
};
VERS_2 {
  global: baz;
} VERS_1;
`,
			"main.c": `
#include <stdio.h>
int foo(void);
int bar(void);
int baz(void);
__asm__(".symver foo_old, foo@VERS_1");
int foo_old(void);
int main(void) { printf("%d %d %d %d\n", foo(), foo_old(), bar(), baz()); return 0; }`,
		},
		steps: [][]string{
			{"gcc", "-shared", "-fPIC", "-Wl,--version-script,lib.map", "-Wl,-soname,libver.so", "-o", "libver.so", "lib.c"},
			{"gcc", "-o", "versioned", "main.c", "./libver.so"},
		},
		outputs: []string{"libver.so", "versioned"},
		env:     []string{"LD_LIBRARY_PATH=."},
	},
	{
		// A C++ library's exports chosen by demangled names (extern
		// "C++"): exact names with their parameters, a class's members
		// by pattern, a template instance; the rest local.
		name: "C++ version script",
		sources: map[string]string{
			"lib.cc": `
#include <vector>
namespace ns {
int f(int x) { return x + 1; }
int f(double x) { return int(x) + 2; }
struct Widget { int n; Widget(); int draw() const; };
Widget::Widget() : n(40) {}
int Widget::draw() const { return n + 2; }
int hidden(int x) { return x * 3; }
}
int total(const std::vector<int> &v) { int t = 0; for (int x : v) t += x; return t + int(v.size()); }
template std::vector<int>::size_type std::vector<int>::size() const;
extern "C" int c_api(void) { return ns::hidden(5); }`,
			"lib.map": `LIB_1 {
  global:
    extern "C++" {
      "ns::f(int)";
      ns::Widget::*;
      "total(std::vector<int, std::allocator<int> > const&)";
    };
    extern "C" { c_api; };
  local: *;
};
`,
			"main.cc": `
#include <cstdio>
#include <vector>
namespace ns { int f(int); struct Widget { int n; Widget(); int draw() const; }; }
int total(const std::vector<int> &v);
extern "C" int c_api(void);
int main() { ns::Widget w; std::printf("%d %d %d %d\n", ns::f(1), w.draw(), total({1, 2, 3}), c_api()); return 0; }`,
		},
		steps: [][]string{
			{"g++", "-shared", "-fPIC", "-Wl,--version-script,lib.map", "-Wl,-soname,libcxxver.so", "-o", "libcxxver.so", "lib.cc"},
			{"g++", "-o", "cxxversioned", "main.cc", "./libcxxver.so"},
		},
		outputs: []string{"libcxxver.so", "cxxversioned"},
		env:     []string{"LD_LIBRARY_PATH=."},
	},
	{
		// An IFUNC in a library (exported, and hidden: IRELATIVE) and
		// in the program. GNU ld gives a PIE two addresses of its own
		// IFUNC (the PLT entry where code takes it, the resolved
		// function in data); ldgo gives one (the PLT entry), so only
		// the non-PIE program compares them.
		name: "IFUNC",
		sources: map[string]string{
			"lib.c": `
static int impl_a(void) { return 1; }
static int impl_b(void) { return 2; }
static void *resolve_pick(void) { return sizeof(long) == 8 ? (void *)impl_b : (void *)impl_a; }
int pick(void) __attribute__((ifunc("resolve_pick")));
static int hidden_pick(void) __attribute__((ifunc("resolve_pick")));
int call_pick(void) { return pick() * 10 + hidden_pick(); }
int (*pick_ptr(void))(void) { return hidden_pick; }`,
			"main.c": `
#include <stdio.h>
int pick(void);
int call_pick(void);
int (*pick_ptr(void))(void);
static int twice_fast(int v) { return v << 1; }
static void *resolve_twice(void) { return twice_fast; }
int twice(int) __attribute__((ifunc("resolve_twice")));
int (*twice_ptr)(int) = twice;
int main(void) {
	int (*local)(int) = twice;
	printf("%d %d %d %d %d\n", twice(21), twice_ptr(4), pick(), call_pick(), pick_ptr()());
#ifdef COMPARE
	printf("same address: %d\n", local == twice_ptr);
#endif
	return local(0);
}`,
		},
		steps: [][]string{
			{"gcc", "-shared", "-fPIC", "-o", "libifunc.so", "lib.c"},
			{"gcc", "-o", "ifunc-pie", "main.c", "./libifunc.so"},
			{"gcc", "-no-pie", "-DCOMPARE", "-o", "ifunc", "main.c", "./libifunc.so"},
		},
		outputs: []string{"libifunc.so", "ifunc-pie", "ifunc"},
	},
	{
		// --wrap redirects the program's calls; the dynamic list and
		// --export-dynamic-symbol export the program's symbols to a
		// plugin it opens; -S drops the debug information.
		name: "--wrap, --dynamic-list, --export-dynamic-symbol, -S",
		sources: map[string]string{
			"plugin.c": `
extern int host_value(void);
extern int host_listed;
int plugin_run(void) { return host_value() * 100 + host_listed; }`,
			"main.c": `
#include <dlfcn.h>
#include <stdio.h>
int __real_puts(const char *);
int __wrap_puts(const char *s) { printf("wrapped: "); return __real_puts(s); }
int host_value(void) { return 7; }
int host_listed = 3;
int main(void) {
	puts("hello");
	void *h = dlopen("./libplugin.so", RTLD_NOW);
	if (!h) { printf("dlopen: %s\n", dlerror()); return 1; }
	int (*run)(void) = (int (*)(void))dlsym(h, "plugin_run");
	printf("plugin: %d\n", run());
	return 0;
}`,
			"list": "{ host_listed; };\n",
		},
		steps: [][]string{
			{"gcc", "-shared", "-fPIC", "-o", "libplugin.so", "plugin.c"},
			{"gcc", "-g", "-Wl,--wrap=puts", "-Wl,--dynamic-list=list", "-Wl,-S", "-Wl,--export-dynamic-symbol=host_val*", "-o", "wrap", "main.c", "-ldl"},
		},
		outputs: []string{"libplugin.so", "wrap"},
	},
	{
		// --gc-sections over C++ with exceptions: the LSDAs of the
		// live functions stay, the unused functions and data go.
		name: "--gc-sections",
		sources: map[string]string{
			"gc.cc": `
#include <cstdio>
#include <stdexcept>
#include <string>
int unused_data = 5;
int unused_fn(int v) { if (v) throw std::runtime_error("never"); return 42; }
static int checked(int v) { if (v > 1) throw std::invalid_argument("v=" + std::to_string(v)); return v; }
int main() {
	for (int i = 0; i < 4; i++) {
		try { std::printf("%d\n", checked(i)); }
		catch (const std::exception &e) { std::printf("caught %s\n", e.what()); }
	}
	return 0;
}`,
		},
		steps: [][]string{
			{"g++", "-ffunction-sections", "-fdata-sections", "-O1", "-c", "gc.cc"},
			{"g++", "-Wl,--gc-sections", "-o", "gc", "gc.o"},
		},
		outputs: []string{"gc"},
	},
	{
		// Static executables: the C library's IFUNCs (strlen, memcpy)
		// through IRELATIVE relocations it applies itself, its TLS
		// (errno) relaxed to local exec, C++ exceptions unwound through
		// crtbeginT's registered .eh_frame; and the same as static PIEs,
		// which relocate themselves.
		name: "static and static PIE",
		sources: map[string]string{
			"st.c": `
#include <errno.h>
#include <stdio.h>
#include <string.h>
__thread int tv = 5;
const char *volatile text = "through the IFUNC";
int main(void) { printf("%zu %d %s\n", strlen(text), tv, strerror(ENOENT)); return 0; }`,
			"st.cc": `
#include <iostream>
#include <stdexcept>
#include <string>
static void f(int i) { if (i % 2) throw std::runtime_error("odd " + std::to_string(i)); }
int main() {
	for (int i = 0; i < 3; i++) try { f(i); std::cout << "even " << i << "\n"; } catch (const std::exception &e) { std::cout << e.what() << "\n"; }
}`,
		},
		steps: [][]string{
			{"gcc", "-static", "-o", "static", "st.c"},
			{"gcc", "-static-pie", "-o", "static-pie", "st.c"},
			{"g++", "-static", "-o", "static-cxx", "st.cc"},
			{"g++", "-static-pie", "-o", "static-pie-cxx", "st.cc"},
		},
		outputs:  []string{"static", "static-pie", "static-cxx", "static-pie-cxx"},
		noHosted: true,
	},
	{
		// -r: two C++ objects (with COMDAT groups, exceptions, unique
		// symbols) combined into one, then linked into a program.
		name: "-r then link",
		sources: map[string]string{
			"a.cc": `
#include <stdexcept>
#include <string>
#include <vector>
std::vector<std::string> names;
void thrower(int n) {
	names.push_back("x" + std::to_string(n));
	if (n > 2) throw std::runtime_error("too big: " + std::to_string(n));
}`,
			"b.cc": `
#include <iostream>
#include <stdexcept>
#include <string>
void thrower(int n);
static int counter = 3;
int main() {
	for (int i = 0; i < 5; i++) {
		try { thrower(i); std::cout << "ok " << i << " " << std::to_string(counter++) << "\n"; }
		catch (const std::exception &e) { std::cout << "caught " << e.what() << "\n"; }
	}
}`,
		},
		steps: [][]string{
			{"g++", "-O1", "-c", "a.cc", "b.cc"},
			{"g++", "-r", "-o", "combined.o", "a.o", "b.o"},
			{"g++", "-o", "relinked", "combined.o"},
		},
		outputs: []string{"combined.o", "relinked"},
	},
	{
		// Hash styles: a library with only the SysV table, one with
		// both, and -Bsymbolic, which binds a library's references to
		// its own definitions even when the program defines them too.
		name: "hash styles and -Bsymbolic",
		sources: map[string]string{
			"sysv.c":     "int from_sysv(int v) { return v + 1; }\n",
			"both.c":     "int from_both(int v) { return v * 3; }\n",
			"symbolic.c": "int shadowed(void) { return 1; }\nint ask(void) { return shadowed(); }\n",
			"main.c": `
#include <stdio.h>
int from_sysv(int), from_both(int), ask(void);
int shadowed(void) { return 2; }
int main(void) { printf("%d %d %d %d\n", from_sysv(1), from_both(2), ask(), shadowed()); return 0; }`,
		},
		steps: [][]string{
			{"gcc", "-shared", "-fPIC", "-Wl,--hash-style=sysv", "-o", "libsysv.so", "sysv.c"},
			{"gcc", "-shared", "-fPIC", "-Wl,--hash-style=both", "-o", "libboth.so", "both.c"},
			{"gcc", "-shared", "-fPIC", "-Wl,-Bsymbolic", "-o", "libsymbolic.so", "symbolic.c"},
			{"gcc", "-Wl,--hash-style=sysv", "-o", "hashes", "main.c", "./libsysv.so", "./libboth.so", "./libsymbolic.so"},
		},
		outputs: []string{"libsysv.so", "libboth.so", "libsymbolic.so", "hashes"},
	},
	{
		name: "-z now",
		sources: map[string]string{
			"lib.c": `
#include <stdio.h>
int twice(int v) { return 2 * v; }
void show(int v) { printf("%d\n", twice(v)); }`,
			"main.c": `
void show(int);
int twice(int);
int main(void) { show(twice(10)); return 0; }`,
		},
		steps:   [][]string{{"gcc", "-shared", "-fPIC", "-Wl,-z,now", "-o", "libnow.so", "lib.c"}, {"gcc", "-Wl,-z,now", "-o", "now", "main.c", "./libnow.so"}},
		outputs: []string{"libnow.so", "now"},
	},
}

// TestLinkLikeGNULd builds each fixture with GNU ld and with ldgo: the
// programs must do the same, natively and under ldgo run, and the outputs
// define, import, need and version the same.
func TestLinkLikeGNULd(t *testing.T) {
	for _, c := range linkCases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			b := newLinkBuild(t, c.sources)
			for _, step := range c.steps {
				b.cc(step[0], step[1:]...)
			}
			for _, out := range c.outputs {
				b.check(out)
			}
			env := baseEnv(c.env...)
			t.Chdir(b.dir("ldgo"))
			for _, prog := range c.outputs {
				if strings.HasSuffix(prog, ".so") || strings.HasSuffix(prog, ".o") {
					continue
				}
				b.run(env, prog)
				if c.noHosted {
					continue
				}
				b.runHosted(env, prog)
				if out, status := ldgo(t, c.env, "verify", "./"+prog); status != 0 {
					t.Errorf("ldgo verify %s: status %d\n%s", prog, status, out)
				}
			}
		})
	}
}
