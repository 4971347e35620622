package main

import (
	"strings"
	"testing"
)

// dlclose counts references; at the last it runs the finalizers (and the
// handlers the library registered with atexit) of the object and of the
// dependencies nothing else needs, and unmaps them: dl_iterate_phdr no
// longer lists them, and a later dlopen loads and initializes them anew.
func TestRunDlclose(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libcdep.so", `
#include <stdio.h>
__attribute__((constructor)) static void init(void) { printf("cdep: init\n"); }
__attribute__((destructor)) static void fini(void) { printf("cdep: fini\n"); }
int cdep(void) { return 5; }
`)
	f.lib("libclose.so", `
#include <stdio.h>
#include <stdlib.h>
int cdep(void);
static int loads;
static void bye(void) { printf("close: atexit handler\n"); }
__attribute__((constructor)) static void init(void) { loads++; atexit(bye); printf("close: init\n"); }
__attribute__((destructor)) static void fini(void) { printf("close: fini\n"); }
int value(void) { return cdep() * 10 + loads; }
`, "-L.", "-lcdep", "-Wl,-rpath,"+f.dir)
	prog := f.prog("closer", `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
static int count(struct dl_phdr_info *info, size_t size, void *data) {
	(void)size;
	if (strstr(info->dlpi_name, "libclose.so") || strstr(info->dlpi_name, "libcdep.so")) (*(int *)data)++;
	return 0;
}
static int loaded(void) { int n = 0; dl_iterate_phdr(count, &n); return n; }
int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	char path[4096];
	snprintf(path, sizeof path, "%s/libclose.so", argv[1]);
	void *a = dlopen(path, RTLD_NOW);
	void *b = dlopen(path, RTLD_NOW);
	int (*value)(void) = (int (*)(void))dlsym(a, "value");
	printf("value %d, objects %d\n", value(), loaded());
	printf("first dlclose: %d, objects %d\n", dlclose(a), loaded());
	printf("second dlclose: %d, objects %d\n", dlclose(b), loaded());
	printf("noload: %s\n", dlopen(path, RTLD_NOW | RTLD_NOLOAD) ? "still loaded" : "gone");
	a = dlopen(path, RTLD_NOW);
	value = (int (*)(void))dlsym(a, "value");
	printf("again: value %d, objects %d\n", value(), loaded());
	return 0;
}
`, "-ldl")
	want := native(t, baseEnv(), "", prog, f.dir)
	if !strings.Contains(want.stdout, "close: fini") {
		t.Fatalf("native run: %+v", want)
	}
	sameResult(t, "dlclose", want, hosted(t, bin, baseEnv(), "", prog, f.dir))
}

// An object closed while another still binds into it stays (glibc's
// l_reldeps) until that one is closed too.
func TestRunDlcloseBoundDependency(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libprovider.so", `
#include <stdio.h>
__attribute__((destructor)) static void fini(void) { printf("provider: fini\n"); }
int provide(void) { return 7; }
`)
	f.lib("libuser.so", `
#include <stdio.h>
int provide(void);
__attribute__((destructor)) static void fini(void) { printf("user: fini\n"); }
int use(void) { return provide() * 6; }
`)
	prog := f.prog("bound", `
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	char path[4096];
	snprintf(path, sizeof path, "%s/libprovider.so", argv[1]);
	void *p = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	snprintf(path, sizeof path, "%s/libuser.so", argv[1]);
	void *u = dlopen(path, RTLD_NOW);
	if (!p || !u) { printf("dlopen: %s\n", dlerror()); return 1; }
	int (*use)(void) = (int (*)(void))dlsym(u, "use");
	printf("close provider: %d\n", dlclose(p));
	printf("use: %d\n", use());
	printf("close user: %d\n", dlclose(u));
	printf("done\n");
	return 0;
}
`, "-ldl")
	want := native(t, baseEnv(), "", prog, f.dir)
	if !strings.Contains(want.stdout, "use: 42") {
		t.Fatalf("native run: %+v", want)
	}
	sameResult(t, "dlclose of a bound dependency", want, hosted(t, bin, baseEnv(), "", prog, f.dir))
}
