package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The program's dlopen, dlsym, dlvsym, dlclose and dlerror are served by
// ldgo's engine: plugins found through the caller's RUNPATH and
// $ORIGIN, their dependencies, scopes (RTLD_LOCAL and RTLD_GLOBAL),
// RTLD_NEXT, versioned lookups, TLS of a late library, initializer and
// finalizer order, and glibc's error messages, all compared with the
// native run.
func TestRunDlopen(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	if err := os.MkdirAll(f.path("plugins/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.lib("plugins/lib/libhelper.so", `
#include <stdio.h>
__attribute__((constructor)) static void init(void) { printf("helper: init\n"); }
__attribute__((destructor)) static void fini(void) { printf("helper: fini\n"); }
int helper_value(void) { return 40; }
`)
	f.write("plug.map", "V1 { global: versioned; };\nV2 { global: versioned; } V1;\n")
	f.lib("plugins/libplug.so", `
#include <stdio.h>
#include <pthread.h>
int helper_value(void);
int program_callback(int);
__thread int per_thread = 5;
int plug_data = 11;
int versioned_v1(void) { return 1; }
int versioned_v2(void) { return 2; }
__asm__(".symver versioned_v1, versioned@V1");
__asm__(".symver versioned_v2, versioned@@V2");
static void *bump(void *arg) { per_thread += (int)(long)arg; return (void *)(long)per_thread; }
__attribute__((constructor)) static void init(void) { printf("plug: init\n"); }
__attribute__((destructor)) static void fini(void) { printf("plug: fini\n"); }
int plug_run(int x) {
	pthread_t t; void *r;
	pthread_create(&t, 0, bump, (void *)3L);
	pthread_join(t, &r);
	return helper_value() + program_callback(x) + (int)(long)r + per_thread;
}
const char *who(void) { return "plug"; }
`, "-L"+f.path("plugins/lib"), "-lhelper", "-Wl,-rpath,$ORIGIN/lib", "-Wl,--version-script="+f.path("plug.map"), "-pthread")
	f.lib("plugins/libnext.so", `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
const char *who(void) {
	const char *(*next)(void) = (const char *(*)(void))dlsym(RTLD_NEXT, "who");
	static char buf[64];
	snprintf(buf, sizeof buf, "next, then %s", next ? next() : "(none)");
	return buf;
}
`)
	f.lib("plugins/libuser.so", `
const char *who(void);
const char *user_who(void) { return who(); }
`)
	prog := f.prog("host", `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
int program_callback(int x) { return x * 100; }
static const char *base(const char *p) { const char *s = strrchr(p, '/'); return s ? s + 1 : p; }
static void show_error(const char *what) {
	const char *e = dlerror();
	if (!e) { printf("%s: no error\n", what); return; }
	const char *dir = strstr(e, "plugins/");
	printf("%s: %s\n", what, dir ? dir : e);
}
int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	char path[4096];
	snprintf(path, sizeof path, "%s/plugins/libplug.so", argv[1]);
	printf("before: %p\n", dlopen(path, RTLD_LAZY | RTLD_NOLOAD));
	void *h = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
	if (!h) { show_error("dlopen"); return 1; }
	int (*run)(int) = (int (*)(int))dlsym(h, "plug_run");
	int *data = (int *)dlsym(h, "plug_data");
	int *tls = (int *)dlsym(h, "per_thread");
	printf("plug_run(2) = %d, plug_data = %d, per_thread here = %d\n", run(2), *data, *tls);
	int (*v1)(void) = (int (*)(void))dlvsym(h, "versioned", "V1");
	int (*vd)(void) = (int (*)(void))dlsym(h, "versioned");
	printf("versioned: V1 %d, default %d\n", v1(), vd());
	dlvsym(h, "versioned", "V9"); show_error("dlvsym V9");
	dlsym(h, "no_such_symbol"); show_error("dlsym missing");
	printf("RTLD_DEFAULT sees local plug_run: %s\n", dlsym(RTLD_DEFAULT, "plug_run") ? "yes" : "no");
	void *self = dlopen(NULL, RTLD_NOW);
	printf("program_callback through dlopen(NULL): %d\n", ((int (*)(int))dlsym(self, "program_callback"))(3));
	Dl_info info;
	if (dladdr((void *)run, &info)) printf("dladdr: %s in %s\n", info.dli_sname, base(info.dli_fname));
	printf("again: %s\n", dlopen(path, RTLD_NOW | RTLD_NOLOAD) == h ? "same handle" : "different");
	dlopen("libnosuch.so.7", RTLD_NOW); show_error("dlopen missing");
	snprintf(path, sizeof path, "%s/plugins/libuser.so", argv[1]);
	void *u = dlopen(path, RTLD_NOW);
	show_error("libuser while who is local");
	snprintf(path, sizeof path, "%s/plugins/libnext.so", argv[1]);
	void *n = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	snprintf(path, sizeof path, "%s/plugins/libplug.so", argv[1]);
	dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	const char *(*who)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "who");
	printf("who: %s\n", who());
	snprintf(path, sizeof path, "%s/plugins/libuser.so", argv[1]);
	u = dlopen(path, RTLD_NOW);
	if (u) printf("user_who: %s\n", ((const char *(*)(void))dlsym(u, "user_who"))());
	else show_error("libuser");
	printf("dlclose: %d %d\n", dlclose(n), dlclose(h));
	return 0;
}
`, "-rdynamic", "-ldl")
	want := native(t, baseEnv(), "", prog, f.dir)
	if !strings.Contains(want.stdout, "who: next, then") {
		t.Fatalf("native run failed: %+v", want)
	}
	sameResult(t, "dlopen", want, hosted(t, bin, baseEnv(), "", prog, f.dir))
	sameResult(t, "dlopen with LD_BIND_NOW", want, hosted(t, bin, baseEnv("LD_BIND_NOW=1"), "", prog, f.dir))
}

// The classic interposer: a preloaded wrapper finds the function it
// wraps with dlsym(RTLD_NEXT).
func TestRunDlsymNextFromPreload(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libwrap.so", `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
int puts(const char *s) {
	int (*real)(const char *) = (int (*)(const char *))dlsym(RTLD_NEXT, "puts");
	fputs("[wrapped] ", stdout);
	return real(s);
}
`)
	prog := f.prog("greet", `
#include <stdio.h>
int main(void) { puts("hello"); return 0; }
`)
	env := baseEnv("LD_PRELOAD=" + f.path("libwrap.so"))
	want := native(t, env, "", prog)
	if want.stdout != "[wrapped] hello\n" {
		t.Fatalf("native run: %+v", want)
	}
	sameResult(t, "RTLD_NEXT from a preloaded library", want, hosted(t, bin, env, "", prog))
}

// RTLD_DEEPBIND puts the opened object's own searchlist before the global
// scope; dlinfo answers for ldgo's handles.
func TestRunDlopenDeepBindAndDlinfo(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	for _, name := range []string{"deep", "shallow"} {
		f.lib("lib"+name+".so", `
__thread int tls_counter = 3;
const char *who(void) { return "the library"; }
const char *call_who(void) { tls_counter++; return who(); }
`)
	}
	prog := f.prog("binder", `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
const char *who(void) { return "the program"; }
static void info(void *h, const char *name) {
	struct link_map *lm = 0;
	char origin[4096];
	size_t modid = 0;
	void *data = (void *)1;
	Lmid_t lmid = -1;
	dlinfo(h, RTLD_DI_LINKMAP, &lm);
	dlinfo(h, RTLD_DI_ORIGIN, origin);
	dlinfo(h, RTLD_DI_LMID, &lmid);
	dlinfo(h, RTLD_DI_TLS_MODID, &modid);
	dlinfo(h, RTLD_DI_TLS_DATA, &data);
	const char *slash = strrchr(lm->l_name, '/');
	printf("%s: l_name %s, origin %s, lmid %ld, TLS module %s, TLS data before use %s\n", name,
	       slash ? slash + 1 : lm->l_name, strcmp(origin, "`+f.dir+`") == 0 ? "right" : origin,
	       (long)lmid, modid ? "yes" : "no", data ? "allocated" : "none");
	printf("%s: bad request: %d %s\n", name, dlinfo(h, 12345, 0), dlerror());
}
int main(void) {
	void *d = dlopen("`+f.path("libdeep.so")+`", RTLD_NOW | RTLD_DEEPBIND);
	void *s = dlopen("`+f.path("libshallow.so")+`", RTLD_NOW);
	if (!d || !s) { printf("dlopen: %s\n", dlerror()); return 1; }
	info(d, "deep");
	printf("deep calls %s\n", ((const char *(*)(void))dlsym(d, "call_who"))());
	printf("shallow calls %s\n", ((const char *(*)(void))dlsym(s, "call_who"))());
	return 0;
}
`, "-rdynamic", "-ldl")
	want := native(t, baseEnv(), "", prog)
	if !strings.Contains(want.stdout, "deep calls the library") || !strings.Contains(want.stdout, "shallow calls the program") {
		t.Fatalf("native run: %+v", want)
	}
	sameResult(t, "RTLD_DEEPBIND and dlinfo", want, hosted(t, bin, baseEnv(), "", prog))
}

// dlinfo's RTLD_DI_SERINFOSIZE and RTLD_DI_SERINFO list the directories a
// search from an object would try, in glibc's order: RPATHs up the loader
// chain and the program's, LD_LIBRARY_PATH (an empty element is "."), the
// object's RUNPATH, the system directories; sizes as glibc counts them.
func TestRunDlinfoSearchPaths(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	for _, d := range []string{"rpath", "runpath", "env"} {
		if err := os.MkdirAll(f.path(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f.lib("rpath/librp.so", `int rp(void) { return 1; }`, "-Wl,--disable-new-dtags,-rpath,$ORIGIN/../env:/")
	f.lib("runpath/librun.so", `int run(void) { return 2; }`, "-Wl,--enable-new-dtags,-rpath,"+f.path("runpath")+"/")
	prog := f.prog("serinfo", `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
int rp(void);
static void show(const char *what, void *h) {
	Dl_serinfo size;
	if (dlinfo(h, RTLD_DI_SERINFOSIZE, &size) != 0) { printf("%s: %s\n", what, dlerror()); return; }
	Dl_serinfo *si = malloc(size.dls_size);
	si->dls_size = size.dls_size;
	si->dls_cnt = size.dls_cnt;
	if (dlinfo(h, RTLD_DI_SERINFO, si) != 0) { printf("%s: %s\n", what, dlerror()); return; }
	printf("%s: %u directories, %zu bytes\n", what, si->dls_cnt, si->dls_size);
	for (unsigned i = 0; i < si->dls_cnt; i++)
		printf("  %s (flags %u, at +%ld)\n", si->dls_serpath[i].dls_name, si->dls_serpath[i].dls_flags,
		       (long)(si->dls_serpath[i].dls_name - (char *)si));
	free(si);
}
int main(void) {
	void *run = dlopen("`+f.path("runpath/librun.so")+`", RTLD_NOW);
	void *rpl = dlopen("librp.so", RTLD_NOW | RTLD_NOLOAD);
	if (!run || !rpl) { printf("dlopen: %s\n", dlerror()); return 1; }
	show("program", dlopen(NULL, RTLD_NOW));
	show("librp.so", rpl);
	show("librun.so", run);
	return rp() - 1;
}
`, "-L"+f.path("rpath"), "-lrp", "-ldl", "-Wl,--disable-new-dtags,-rpath,"+f.path("rpath"))
	env := baseEnv("LD_LIBRARY_PATH=" + f.path("env") + "::/usr/lib")
	want := native(t, env, "", prog)
	if !strings.Contains(want.stdout, "librun.so: ") || !strings.Contains(want.stdout, "  . (flags 0") {
		t.Fatalf("native run: %+v", want)
	}
	sameResult(t, "dlinfo RTLD_DI_SERINFO", want, hosted(t, bin, env, "", prog))
}

// A child created by fork has none of ldgo's threads, yet its dlopen,
// dlsym and dlclose work as in the parent: the engine runs on the calling
// thread. Python's multiprocessing children import modules this way.
func TestRunDlopenInForkChild(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libparent.so", `int parent_value(void) { return 1; }`)
	f.lib("libchild.so", `
#include <stdio.h>
static int loaded;
__attribute__((constructor)) static void init(void) { loaded = 1; }
int child_value(void) { return 40 + loaded; }
`)
	prog := f.prog("forker", `
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
static int call(void *h, const char *name) { return ((int (*)(void))dlsym(h, name))(); }
static void *in_child_thread(void *arg) {
	void *h = dlopen(arg, RTLD_NOW);
	long v = h ? call(h, "child_value") : -1;
	if (h)
		dlclose(h);
	return (void *)v;
}
int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	void *p = dlopen("`+f.path("libparent.so")+`", RTLD_NOW);
	if (!p) { printf("parent: %s\n", dlerror()); return 1; }
	pid_t pid = fork();
	if (pid == 0) {
		void *c = dlopen("`+f.path("libchild.so")+`", RTLD_LAZY);
		if (!c) { printf("child: %s\n", dlerror()); _exit(1); }
		printf("child: %d %d, puts %s\n", call(p, "parent_value"), call(c, "child_value"),
		       dlsym(RTLD_DEFAULT, "puts") == (void *)puts ? "same" : "differs");
		printf("child: dlclose %d\n", dlclose(c));
		printf("child: missing: %s\n", dlopen("libmissing.so", RTLD_NOW) ? "found" : dlerror());
		if (fork() == 0) {
			void *again = dlopen("`+f.path("libchild.so")+`", RTLD_NOW);
			printf("grandchild: %d\n", again ? call(again, "child_value") : -1);
			_exit(0);
		}
		wait(NULL);
		// Threads the child starts call too.
		pthread_t t[4];
		for (int i = 0; i < 4; i++)
			pthread_create(&t[i], 0, in_child_thread, "`+f.path("libchild.so")+`");
		for (int i = 0; i < 4; i++) {
			void *r;
			pthread_join(t[i], &r);
			printf("child thread %d: %ld\n", i, (long)r);
		}
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("parent: child exited %d, libchild %s\n", WEXITSTATUS(status),
	       dlopen("`+f.path("libchild.so")+`", RTLD_NOLOAD) ? "loaded" : "not loaded");
	return 0;
}
`, "-ldl", "-pthread")
	want := native(t, baseEnv(), "", prog)
	if !strings.Contains(want.stdout, "child: 1 41, puts same") || !strings.Contains(want.stdout, "grandchild: 41") || !strings.Contains(want.stdout, "child thread 3: 41") {
		t.Fatalf("native run: %+v", want)
	}
	sameResult(t, "dlopen in a fork child", want, hosted(t, bin, baseEnv(), "", prog))
}

// Threads opening, using and closing libraries at once, while others walk
// the objects (dl_iterate_phdr, dladdr): every call sees a consistent
// namespace, and finalizers run once, in the closing thread.
func TestRunDlopenThreads(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	const threads = 6
	for i := 0; i < threads; i++ {
		f.lib(fmt.Sprintf("libt%d.so", i), fmt.Sprintf(`
static int opened;
__attribute__((constructor)) static void init(void) { opened++; }
__attribute__((destructor)) static void fini(void) { opened--; }
int value%d(int x) { return x * %d + opened; }
`, i, i+1))
	}
	prog := f.prog("threads", `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#define THREADS `+strconv.Itoa(threads)+`
static const char *dir;
static int count(struct dl_phdr_info *info, size_t size, void *data) { (void)info; (void)size; ++*(int *)data; return 0; }
static void *opener(void *arg) {
	long i = (long)arg, sum = 0;
	char path[4096], sym[32];
	snprintf(path, sizeof path, "%s/libt%ld.so", dir, i);
	snprintf(sym, sizeof sym, "value%ld", i);
	for (int k = 0; k < 150; k++) {
		void *h = dlopen(path, RTLD_NOW | (k & 1 ? RTLD_GLOBAL : RTLD_LOCAL));
		if (!h) { printf("%s\n", dlerror()); return (void *)-1; }
		int (*v)(int) = (int (*)(int))dlsym(h, sym);
		Dl_info info;
		if (!v || !dladdr((void *)v, &info) || !info.dli_sname) return (void *)-2;
		sum += v(k);
		if (dlclose(h) != 0) return (void *)-3;
	}
	return (void *)sum;
}
static void *walker(void *arg) {
	(void)arg;
	for (int k = 0; k < 2000; k++) {
		int n = 0;
		dl_iterate_phdr(count, &n);
		if (n < 3) return (void *)-1;
	}
	return 0;
}
// A callback may open and close libraries itself.
static int reenter(struct dl_phdr_info *info, size_t size, void *data) {
	(void)info; (void)size;
	if (++*(int *)data > 1)
		return 0;
	char path[4096];
	snprintf(path, sizeof path, "%s/libt0.so", dir);
	void *h = dlopen(path, RTLD_NOW);
	printf("from a dl_iterate_phdr callback: %s, dlclose %d\n", h ? "opened" : dlerror(), h ? dlclose(h) : -1);
	return 0;
}
int main(int argc, char **argv) {
	dir = argv[1];
	int calls = 0;
	dl_iterate_phdr(reenter, &calls);
	pthread_t t[THREADS + 1];
	for (long i = 0; i < THREADS; i++) pthread_create(&t[i], 0, opener, (void *)i);
	pthread_create(&t[THREADS], 0, walker, 0);
	for (int i = 0; i <= THREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		printf("thread %d: %ld\n", i, (long)r);
	}
	return 0;
}
`, "-ldl", "-pthread")
	want := native(t, baseEnv(), "", prog, f.dir)
	if !strings.Contains(want.stdout, "thread 0: 11325") || !strings.Contains(want.stdout, "thread 6: 0") || !strings.Contains(want.stdout, "callback: opened, dlclose 0") {
		t.Fatalf("native run: %+v", want)
	}
	for i := 0; i < 3; i++ {
		sameResult(t, "threads opening and closing libraries", want, hosted(t, bin, baseEnv(), "", prog, f.dir))
	}
}
