package main

import (
	"strings"
	"testing"
)

// A library opened late has per-thread TLS blocks, reached through TLS
// descriptors (-mtls-dialect=gnu2) and __tls_get_addr, in threads that
// existed before the dlopen and in threads started after; each starts
// from the library's initial values.
func TestRunDlopenTLS(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libdesc.so", `
__thread long counter = 1000;
__thread char tag[16] = "fresh";
long step(long by) { counter += by; tag[0] = 'F'; return counter; }
const char *tag_of(void) { return tag; }
`, "-mtls-dialect=gnu2")
	f.lib("libgd.so", `
__thread int gd = 7;
int gd_next(void) { return ++gd; }
`)
	prog := f.prog("late", `
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
static long (*step)(long);
static const char *(*tag_of)(void);
static int (*gd_next)(void);
static pthread_barrier_t loaded, done;
static void *early(void *arg) {
	pthread_barrier_wait(&loaded);
	long r = step((long)arg) + step(1) + gd_next();
	printf("early thread %ld: %ld %s\n", (long)arg, r, tag_of());
	pthread_barrier_wait(&done);
	return 0;
}
static void *late(void *arg) {
	long r = step((long)arg) + gd_next();
	printf("late thread %ld: %ld %s\n", (long)arg, r, tag_of());
	return 0;
}
int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	pthread_barrier_init(&loaded, 0, 2);
	pthread_barrier_init(&done, 0, 2);
	pthread_t e, l;
	pthread_create(&e, 0, early, (void *)5);
	char path[4096];
	snprintf(path, sizeof path, "%s/libdesc.so", argv[1]);
	void *h = dlopen(path, RTLD_NOW);
	snprintf(path, sizeof path, "%s/libgd.so", argv[1]);
	void *g = dlopen(path, RTLD_LAZY);
	if (!h || !g) { printf("dlopen: %s\n", dlerror()); return 1; }
	step = (long (*)(long))dlsym(h, "step");
	tag_of = (const char *(*)(void))dlsym(h, "tag_of");
	gd_next = (int (*)(void))dlsym(g, "gd_next");
	long *counter = (long *)dlsym(h, "counter");
	printf("main: %ld %s counter %ld\n", step(2), tag_of(), *counter);
	pthread_barrier_wait(&loaded);
	pthread_barrier_wait(&done);
	pthread_join(e, 0);
	pthread_create(&l, 0, late, (void *)9);
	pthread_join(l, 0);
	printf("main again: %ld %d\n", step(0), gd_next());
	return 0;
}
`, "-pthread", "-ldl")
	want := native(t, baseEnv(), "", prog, f.dir)
	if !strings.Contains(want.stdout, "late thread 9") {
		t.Fatalf("native run: %+v", want)
	}
	sameResult(t, "TLS of dlopen'ed libraries", want, hosted(t, bin, baseEnv(), "", prog, f.dir))
}

// A library with initial-exec TLS opened after start-up takes room in
// glibc's surplus of static TLS: the opening thread, threads started
// later and threads already running see its initial data.
func TestRunDlopenStaticTLS(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libiedata.so", `
__thread int ie_value = 41;
__thread char ie_name[8] = "static";
int ie_next(void) { return ++ie_value; }
const char *ie_tag(void) { return ie_name; }
`, "-ftls-model=initial-exec")
	f.lib("libiezero.so", `
__thread long ie_zero[4];
long ie_bump(long by) { ie_zero[1] += by; return ie_zero[1]; }
`, "-ftls-model=initial-exec")
	f.lib("libielate.so", `
__thread int ie_late[2] = {7, 8};
int ie_sum(void) { return ie_late[0] + ie_late[1]++; }
`, "-ftls-model=initial-exec")
	prog := f.prog("latestatic", `
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
static int (*next)(void);
static const char *(*tag)(void);
static long (*bump)(long);
static pthread_barrier_t opened;
static void *later(void *arg) { (void)arg; printf("later thread: %d %s %ld\n", next(), tag(), bump(2)); return 0; }
static int (*sum)(void);
static void *early(void *arg) {
	(void)arg;
	pthread_barrier_wait(&opened);
	int first = sum(), second = sum();
	printf("early thread: %ld %d %d\n", bump(5), first, second);
	return 0;
}
int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	char path[4096];
	snprintf(path, sizeof path, "%s/libiedata.so", argv[1]);
	void *h = dlopen(path, RTLD_NOW);
	if (!h) { printf("dlopen: %s\n", dlerror()); return 1; }
	next = (int (*)(void))dlsym(h, "ie_next");
	tag = (const char *(*)(void))dlsym(h, "ie_tag");
	printf("main: %d %s\n", next(), tag());
	pthread_barrier_init(&opened, 0, 2);
	pthread_t e, l;
	pthread_create(&e, 0, early, 0);
	snprintf(path, sizeof path, "%s/libiezero.so", argv[1]);
	void *z = dlopen(path, RTLD_NOW);
	if (!z) { printf("dlopen: %s\n", dlerror()); return 1; }
	bump = (long (*)(long))dlsym(z, "ie_bump");
	printf("main: %ld\n", bump(1));
	snprintf(path, sizeof path, "%s/libielate.so", argv[1]);
	void *l8 = dlopen(path, RTLD_NOW);
	if (!l8) { printf("dlopen: %s\n", dlerror()); return 1; }
	sum = (int (*)(void))dlsym(l8, "ie_sum");
	printf("main: %d\n", sum());
	pthread_barrier_wait(&opened);
	pthread_join(e, 0);
	pthread_create(&l, 0, later, 0);
	pthread_join(l, 0);
	int last = sum();
	printf("main again: %d %ld %d\n", next(), bump(1), last);
	return 0;
}
`, "-pthread", "-ldl")
	want := native(t, baseEnv(), "", prog, f.dir)
	if !strings.Contains(want.stdout, "later thread: 42 static 2") || !strings.Contains(want.stdout, "early thread: 5 15 16") {
		t.Fatalf("native run: %+v", want)
	}
	sameResult(t, "initial-exec TLS of a late library", want, hosted(t, bin, baseEnv(), "", prog, f.dir))
}

// Thread-local variables initialized with addresses: the initial images
// of the program's block, of a start-up library's and of a library
// opened later hold pointers that relocation fills in, and every thread
// starts from the relocated image.
func TestRunTLSImagesRelocated(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libtlsptr.so", `
static const char word[] = "library";
__thread const char *lib_word = word;
const char *lib_get(void) { return lib_word; }
`)
	f.lib("libtlslate.so", `
static const char word[] = "late";
__thread const char *late_word = word;
const char *late_get(void) { return late_word; }
`, "-ftls-model=initial-exec")
	prog := f.prog("tlsptr", `
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
static const char hello[] = "program";
__thread const char *msg = hello;
const char *lib_get(void);
static const char *(*late_get)(void);
static void *thread(void *arg) {
	(void)arg;
	printf("thread: %s %s %s\n", msg, lib_get(), late_get());
	return 0;
}
int main(int argc, char **argv) {
	char path[4096];
	snprintf(path, sizeof path, "%s/libtlslate.so", argv[1]);
	void *h = dlopen(path, RTLD_NOW);
	if (!h) { printf("%s\n", dlerror()); return 1; }
	late_get = (const char *(*)(void))dlsym(h, "late_get");
	printf("main: %s %s %s\n", msg, lib_get(), late_get());
	pthread_t t;
	pthread_create(&t, 0, thread, 0);
	pthread_join(t, 0);
	return 0;
}
`, "-L.", "-ltlsptr", "-Wl,-rpath,"+f.dir, "-ldl", "-pthread")
	want := native(t, baseEnv(), "", prog, f.dir)
	if want.stdout != "main: program library late\nthread: program library late\n" {
		t.Fatalf("native run: %+v", want)
	}
	sameResult(t, "TLS images with pointers", want, hosted(t, bin, baseEnv(), "", prog, f.dir))
}
