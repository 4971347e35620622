package main

import (
	"strings"
	"testing"
)

// The unwinder finds each frame's tables with _dl_find_object:
// an exception thrown in one ldgo-loaded library crosses another
// and is caught in the program. dladdr and dl_iterate_phdr see
// the objects ldgo loaded, in load order.
func TestRunCplusplusExceptions(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.write("throw.cc", `
#include <stdexcept>
#include <string>
extern "C" int thrower(int n) {
	if (n > 2) throw std::runtime_error("too big: " + std::to_string(n));
	return n;
}
`)
	f.gcc("-x", "c++", "-shared", "-fPIC", "-o", "libthrow.so", "throw.cc", "-x", "none", "-lstdc++")
	f.write("pass.cc", `
#include <cstdio>
extern "C" int thrower(int);
struct Guard { int n; ~Guard() { std::printf("unwound through pass(%d)\n", n); } };
extern "C" int pass(int n) { Guard g{n}; return thrower(n) * 10; }
`)
	f.gcc("-x", "c++", "-shared", "-fPIC", "-o", "libpass.so", "pass.cc", "-x", "none", "-L.", "-lthrow", "-lstdc++", "-Wl,-rpath,"+f.dir)
	f.write("main.cc", `
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <dlfcn.h>
#include <link.h>
extern "C" int pass(int);
extern "C" int thrower(int);
static const char *base(const char *p) { const char *s = std::strrchr(p, '/'); return s ? s + 1 : p; }
static int list(struct dl_phdr_info *info, size_t, void *) {
	std::printf("object %s%s\n", base(info->dlpi_name), info->dlpi_phnum > 0 ? "" : " (no headers)");
	return 0;
}
int main() {
	for (int i = 1; i <= 4; i++) {
		try {
			std::printf("pass(%d) = %d\n", i, pass(i));
		} catch (const std::exception &e) {
			std::printf("caught: %s\n", e.what());
		}
	}
	Dl_info info;
	if (dladdr((void *)&thrower, &info))
		std::printf("dladdr: %s in %s\n", info.dli_sname, base(info.dli_fname));
	if (dladdr((void *)&main, &info))
		std::printf("dladdr: %s in %s\n", info.dli_sname ? info.dli_sname : "(none)", base(info.dli_fname));
	dl_iterate_phdr(list, nullptr);
	return 0;
}
`)
	f.gcc("-x", "c++", "-o", "prog", "main.cc", "-x", "none", "-L.", "-lpass", "-lthrow", "-lstdc++", "-Wl,-rpath,"+f.dir)
	prog := f.path("prog")
	want := native(t, baseEnv(), "", prog)
	if !strings.Contains(want.stdout, "caught: too big: 3") {
		t.Fatalf("native run did not catch: %+v", want)
	}
	sameResult(t, "C++ exceptions across libraries", want, hosted(t, bin, baseEnv(), "", prog))
	sameResult(t, "C++ exceptions, bound at start-up", want, hosted(t, bin, baseEnv("LD_BIND_NOW=1"), "", prog))
}

// Static locals of inline functions and template members are
// STB_GNU_UNIQUE: one object for the whole process, whichever
// library asks. Static constructors run in load order;
// std::thread and thread_local work in ldgo-loaded libstdc++.
func TestRunCplusplusUniqueAndThreads(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.write("uniq.h", `
#include <string>
template <typename T> struct Registry { static int &count() { static int c = 0; return c; } };
inline std::string &shared_name() { static std::string s = "init"; return s; }
`)
	f.write("a.cc", `
#include "uniq.h"
#include <atomic>
#include <thread>
#include <vector>
extern "C" int a_bump() { return ++Registry<int>::count(); }
extern "C" void a_set(const char *s) { shared_name() = s; }
extern "C" int a_threads(int n) {
	std::atomic<int> sum{0};
	std::vector<std::thread> ts;
	for (int i = 0; i < n; i++) ts.emplace_back([&sum, i] { thread_local int tl = 10; tl += i; sum += tl; });
	for (auto &t : ts) t.join();
	return sum;
}
struct InitA { InitA() { shared_name() += "+a"; } } init_a;
`)
	f.write("b.cc", `
#include "uniq.h"
extern "C" int b_bump() { return ++Registry<int>::count(); }
extern "C" const char *b_name() { return shared_name().c_str(); }
struct InitB { InitB() { shared_name() += "+b"; } } init_b;
`)
	f.write("main.cc", `
#include <cstdio>
#include <thread>
extern "C" int a_bump();
extern "C" int b_bump();
extern "C" void a_set(const char *);
extern "C" const char *b_name();
extern "C" int a_threads(int);
int main() {
	std::printf("constructed: %s\n", b_name());
	a_bump(); b_bump(); a_bump();
	std::printf("one counter: %d\n", b_bump());
	a_set("changed");
	std::printf("one string: %s\n", b_name());
	std::printf("threads: %d\n", a_threads(8));
	std::thread t([] { std::printf("in std::thread: %d\n", a_bump()); });
	t.join();
	return 0;
}
`)
	f.gcc("-x", "c++", "-shared", "-fPIC", "-o", "liba.so", "a.cc", "-x", "none", "-lstdc++", "-pthread")
	f.gcc("-x", "c++", "-shared", "-fPIC", "-o", "libb.so", "b.cc", "-x", "none", "-lstdc++")
	f.gcc("-x", "c++", "-o", "prog", "main.cc", "-x", "none", "-L.", "-la", "-lb", "-lstdc++", "-pthread", "-Wl,-rpath,"+f.dir)
	prog := f.path("prog")
	want := native(t, baseEnv(), "", prog)
	if !strings.Contains(want.stdout, "one counter: 4") {
		t.Fatalf("native run: %+v", want)
	}
	sameResult(t, "C++ unique symbols and threads", want, hosted(t, bin, baseEnv(), "", prog))
}
