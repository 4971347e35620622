package main

import (
	"debug/elf"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/namespace"
	"github.com/ldgo/ldgo/object"
)

// Static TLS of any size and alignment glibc takes: each case prints,
// in the main thread and in new ones, where its variables lie modulo
// their alignment and what they hold from .tdata, and is compared with
// the native run.

// tlsShow is C that prints a TLS variable: its address modulo its
// alignment and its text, then marks it, so that a thread that shows it
// after another proves its block its own.
const tlsShow = `
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
static void tls_show(const char *what, char *v, uintptr_t align) {
	printf("  %s: at %lu mod %lu: %s\n", what, (unsigned long)((uintptr_t)v % align), (unsigned long)align, v);
	v[0] ^= 0x20;
}
`

// A __thread variable aligned to more than the 64 bytes ldgo's own TLS
// is aligned to, in the program, in a library loaded at start-up (reached
// through __tls_get_addr, and with initial-exec accesses) and in libraries
// dlopen'ed (a per-thread block, and a static one), seen by the main
// thread and by a thread started later. dl_iterate_phdr shows that a
// thread has the blocks of the libraries loaded at start-up before it
// touches them: glibc gives them static TLS.
func TestRunTLSAligned(t *testing.T) {
	bin := buildLdgo(t)
	for _, c := range []struct {
		name, align, aligned string
		// progAligned says whether the program's variable is aligned
		// too, or only the libraries'.
		progAligned bool
	}{
		{"256", "256", "__attribute__((aligned(256)))", true},
		{"4096", "4096", "_Alignas(4096)", true},
		{"libraries 256", "256", "__attribute__((aligned(256)))", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			// libID.so defines ID_var, holding text, and ID_addr.
			lib := func(id, text string, flags ...string) {
				f.lib("lib"+id+".so", fmt.Sprintf("%s __thread char %s_var[24] = %q;\nchar *%s_addr(void) { return %s_var; }\n",
					c.aligned, id, text, id, id), flags...)
			}
			lib("algd", "library, dynamic model")
			lib("alie", "library, initial-exec", "-ftls-model=initial-exec")
			lib("aldl", "opened later")
			lib("aldlie", "opened later, static", "-ftls-model=initial-exec")
			progAligned, progAlign := "", "16"
			if c.progAligned {
				progAligned, progAlign = c.aligned, c.align
			}
			prog := f.prog("aligned", tlsShow+`
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#define ALIGN `+c.align+`
`+progAligned+` __thread char prog_var[24] = "the program's";
__thread int prog_count = 3;
char *algd_addr(void);
char *alie_addr(void);
static char *(*aldl_addr)(void), *(*aldlie_addr)(void);
static int block(struct dl_phdr_info *info, size_t size, void *data) {
	(void)size;
	(void)data;
	const char *name = strrchr(info->dlpi_name, '/');
	// Which blocks a library opened later has in a thread follows
	// glibc's DTV generations; those loaded at start-up have theirs.
	if (name && (strcmp(name, "/libalgd.so") == 0 || strcmp(name, "/libalie.so") == 0))
		printf("  %s: %s\n", name + 1, info->dlpi_tls_data ? ((uintptr_t)info->dlpi_tls_data % ALIGN ? "misaligned block" : "aligned block") : "no block yet");
	return 0;
}
static void show(const char *who) {
	printf("%s:\n", who);
	dl_iterate_phdr(block, 0);
	tls_show("program", prog_var, PROG_ALIGN);
	printf("  program count %d\n", prog_count++);
	tls_show("start-up library", algd_addr(), ALIGN);
	tls_show("start-up library, initial-exec", alie_addr(), ALIGN);
	if (aldl_addr)
		tls_show("opened library", aldl_addr(), ALIGN);
	if (aldlie_addr)
		tls_show("opened library, initial-exec", aldlie_addr(), ALIGN);
}
static void *thread(void *arg) {
	show(arg);
	return 0;
}
static void *open_lib(const char *dir, const char *name, const char *fn) {
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	void *h = dlopen(path, RTLD_NOW);
	if (!h) {
		printf("dlopen %s: %s\n", name, strrchr(dlerror(), '/'));
		return 0;
	}
	return dlsym(h, fn);
}
int main(int argc, char **argv) {
	(void)argc;
	setvbuf(stdout, 0, _IONBF, 0);
	show("main");
	aldl_addr = (char *(*)(void))open_lib(argv[1], "libaldl.so", "aldl_addr");
	aldlie_addr = (char *(*)(void))open_lib(argv[1], "libaldlie.so", "aldlie_addr");
	show("main, after dlopen");
	pthread_t t;
	pthread_create(&t, 0, thread, "a thread");
	pthread_join(t, 0);
	show("main again");
	return 0;
}
`, "-L.", "-lalgd", "-lalie", "-Wl,-rpath,"+f.dir, "-pthread", "-ldl", "-DPROG_ALIGN="+progAlign)
			want := native(t, baseEnv(), "", prog, f.dir)
			if strings.Contains(want.stdout, "misaligned") || !strings.Contains(want.stdout, "opened library, initial-exec: at 0 mod") {
				t.Fatalf("native run: %+v", want)
			}
			sameResult(t, "aligned TLS", want, hosted(t, bin, baseEnv(), "", prog, f.dir))
		})
	}
}

// TLS blocks larger than ldgo's static TLS reserve: the program's own
// (glibc runs a program with a 1 MiB __thread array), and a library's
// with initial-exec accesses, loaded at start-up. Threads see their own
// blocks with the initial data, and so do children made by fork, where
// the calling thread serves dlopen itself, from the main thread or
// another; each opens a library with initial-exec TLS too.
func TestRunTLSLarge(t *testing.T) {
	bin := buildLdgo(t)
	const prog = `
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef IN_LIBRARY
extern __thread char big[SIZE];
#else
__thread char big[SIZE] = "the start of a large block";
#endif
__thread long after = 77;
static const char *dir;
static void show(const char *who) {
	printf("%s:\n", who);
	tls_show("block", big, 16);
	printf("  end %d, after %ld\n", big[SIZE - 1], after++);
	big[SIZE - 1] += 1;
	char path[4096];
	snprintf(path, sizeof path, "%s/libplain.so", dir);
	void *h = dlopen(path, RTLD_NOW);
	int (*plain)(void) = h ? (int (*)(void))dlsym(h, "plain") : 0;
	printf("  dlopen: %s\n", plain ? (plain() ? "fine" : "wrong") : dlerror());
}
static void *thread(void *arg) {
	show(arg);
	return 0;
}
static void *forker(void *arg) {
	pid_t pid = fork();
	if (pid == 0) {
		show(arg);
		_exit(0);
	}
	waitpid(pid, 0, 0);
	return 0;
}
int main(int argc, char **argv) {
	(void)argc;
	setvbuf(stdout, 0, _IONBF, 0);
	dir = argv[1];
	show("main");
	pthread_t t;
	pthread_create(&t, 0, thread, "a thread");
	pthread_join(t, 0);
	forker("a child of the main thread");
	pthread_create(&t, 0, forker, "a child of another thread");
	pthread_join(t, 0);
	show("main again");
	return 0;
}
`
	for _, c := range []struct {
		name string
		size int
		lib  bool
	}{
		{"program 40004 bytes", 40004, false},
		{"program 1 MiB", 1 << 20, false},
		{"library 65536 bytes", 65536, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.lib("libplain.so", "__thread int plain_v = 1;\nint plain(void) { return plain_v; }\n", "-ftls-model=initial-exec")
			size := fmt.Sprintf("-DSIZE=%d", c.size)
			flags := []string{size, "-pthread", "-ldl"}
			if c.lib {
				f.lib("libbig.so", "__thread char big[SIZE] = \"the start of a large block\";\n", size, "-ftls-model=initial-exec")
				flags = append(flags, "-DIN_LIBRARY", "-L.", "-lbig", "-Wl,-rpath,"+f.dir)
			}
			p := f.prog("large", tlsShow+prog, flags...)
			want := native(t, baseEnv(), "", p, f.dir)
			if strings.Count(want.stdout, "dlopen: fine") != 5 {
				t.Fatalf("native run: %+v", want)
			}
			sameResult(t, c.name, want, hosted(t, bin, baseEnv(), "", p, f.dir))
		})
	}
}

// A library dlopen'ed with initial-exec TLS takes room in glibc's surplus
// of static TLS, and is refused, in glibc's words, when the surplus is
// too small for it (glibc.rtld.optional_static_tls makes it larger) or
// its alignment greater than the thread pointer's.
func TestRunDlopenStaticTLSSurplus(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libsmall.so", "__thread char small_v[64] = \"small\";\nchar *small(void) { return small_v; }\n", "-ftls-model=initial-exec")
	f.lib("libwide.so", "__thread char wide_v[4000] = \"wide\";\nchar *wide(void) { return wide_v; }\n", "-ftls-model=initial-exec")
	f.lib("libaligned.so", "__thread char aligned_v[64] __attribute__((aligned(128))) = \"aligned\";\nchar *aligned(void) { return aligned_v; }\n", "-ftls-model=initial-exec")
	prog := f.prog("surplus", tlsShow+`
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>
static char *(*fns[3])(void);
static const char *names[3] = {"small", "wide", "aligned"};
static void *thread(void *arg) {
	(void)arg;
	printf("a thread:\n");
	for (int i = 0; i < 3; i++)
		if (fns[i])
			tls_show(names[i], fns[i](), 64);
	return 0;
}
int main(int argc, char **argv) {
	(void)argc;
	setvbuf(stdout, 0, _IONBF, 0);
	for (int i = 0; i < 3; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/lib%s.so", argv[1], names[i]);
		void *h = dlopen(path, RTLD_NOW);
		if (!h) {
			printf("dlopen %s: %s\n", names[i], strrchr(dlerror(), '/'));
			continue;
		}
		fns[i] = (char *(*)(void))dlsym(h, names[i]);
		tls_show(names[i], fns[i](), 64);
	}
	pthread_t t;
	pthread_create(&t, 0, thread, 0);
	pthread_join(t, 0);
	return 0;
}
`, "-pthread", "-ldl")
	want := native(t, baseEnv(), "", prog, f.dir)
	if !strings.Contains(want.stdout, "dlopen wide: /libwide.so: cannot allocate memory in static TLS block") ||
		!strings.Contains(want.stdout, "dlopen aligned: /libaligned.so: cannot allocate memory in static TLS block") {
		t.Fatalf("native run: %+v", want)
	}
	sameResult(t, "static TLS of dlopen'ed libraries", want, hosted(t, bin, baseEnv(), "", prog, f.dir))

	env := baseEnv("GLIBC_TUNABLES=glibc.rtld.optional_static_tls=16384")
	want = native(t, env, "", prog, f.dir)
	if !strings.Contains(want.stdout, "  wide: at") {
		t.Fatalf("native run with a larger surplus: %+v", want)
	}
	sameResult(t, "static TLS of dlopen'ed libraries, larger surplus", want, hosted(t, bin, env, "", prog, f.dir))
}

// When the program's TLS block covers the Go runtime's g pointer, ldgo
// puts the pointer back for the time Go runs on a thread of the program
// (package host), where Go code reads it: first in the ldgo executable's
// TLS segment, as the linker puts runtime.tlsg.
func TestRunGoPointerFirstInTLS(t *testing.T) {
	f, err := elf.Open(buildLdgo(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == "runtime.tlsg" {
			if elf.ST_TYPE(s.Info) != elf.STT_TLS || s.Value != 0 {
				t.Errorf("runtime.tlsg: type %v, offset %d in the TLS segment; ldgo expects a TLS symbol at 0", elf.ST_TYPE(s.Info), s.Value)
			}
			return
		}
	}
	t.Fatal("runtime.tlsg not found in the ldgo executable")
}

// The static TLS layout, glibc's rules over the objects' files: each
// block's offset below the thread pointer (libc's included), the
// alignment, and the surplus as the tunables size it, against what glibc
// did in a native run of the same program; and under ldgo run, the
// blocks at the same offsets (but libc's, which the ld.so that started
// ldgo placed).
func TestStaticTLSLayoutAsGlibc(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	// The alignments leave a gap that glibc fills with a later block.
	f.lib("libtlsa.so", "__thread char a_v[24] = \"a\";\nchar *a(void) { return a_v; }\n")
	f.lib("libtlsb.so", "__thread char b_v[8] __attribute__((aligned(256))) = \"b\";\nchar *b(void) { return b_v; }\n")
	f.lib("libtlsc.so", "__thread char c_v[16] __attribute__((aligned(16))) = \"c\";\nchar *c(void) { return c_v; }\n")
	prog := f.prog("layout", `
#define _GNU_SOURCE
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
__thread char p_v[40] __attribute__((aligned(32))) = "p";
char *a(void), *b(void), *c(void);
extern void _dl_get_tls_static_info(size_t *, size_t *);
static int block(struct dl_phdr_info *info, size_t size, void *data) {
	(void)size;
	(void)data;
	uintptr_t tp;
	__asm__("movq %%fs:0, %0" : "=r"(tp));
	const char *name = strrchr(info->dlpi_name, '/');
	if (info->dlpi_tls_data)
		printf("%s %lu\n", name ? name + 1 : "program", (unsigned long)(tp - (uintptr_t)info->dlpi_tls_data));
	return 0;
}
int main(void) {
	a(), b(), c(), p_v[0]++;
	dl_iterate_phdr(block, 0);
	size_t size, align;
	_dl_get_tls_static_info(&size, &align);
	printf("static %zu %zu\n", size, align);
	return 0;
}
`, "-L.", "-ltlsa", "-ltlsb", "-ltlsc", "-Wl,-rpath,"+f.dir)
	an, err := analyze.Load(prog, analyze.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer an.Close()
	offsets := map[string]uint64{}
	var segs []*object.TLS
	for _, m := range an.NS.Chain {
		if m.HasStaticTLS {
			name := filepath.Base(m.Name)
			if m == an.NS.Main {
				name = "program"
			}
			offsets[name] = m.TLSOffset
			segs = append(segs, m.Obj.TLS)
		}
	}
	// The static size less where the surplus ends is the TCB's size,
	// whatever the tunables (glibc shows the end only rounded up to the
	// alignment).
	var tcb []uint64
	for _, tunables := range []string{"", "glibc.rtld.nns=7:glibc.rtld.optional_static_tls=0x1000"} {
		out := native(t, baseEnv("GLIBC_TUNABLES="+tunables), "", prog)
		var size, align uint64
		blocks := 0
		for _, l := range strings.Split(strings.TrimSpace(out.stdout), "\n") {
			var name string
			var off uint64
			if _, err := fmt.Sscanf(l, "static %d %d", &size, &align); err == nil {
				continue
			}
			if _, err := fmt.Sscanf(l, "%s %d", &name, &off); err != nil {
				t.Fatalf("native run: %q: %v", l, err)
			}
			blocks++
			if offsets[name] != off {
				t.Errorf("%s: glibc put the block %d below the thread pointer, ldgo %d", name, off, offsets[name])
			}
		}
		if blocks != 5 || blocks != len(offsets) {
			t.Fatalf("native run shows %d blocks, ldgo has %d: %+v", blocks, len(offsets), out)
		}
		_, st := namespace.StaticTLSLayout(segs, namespace.StaticTLSSurplus(tunables))
		if st.Align != align {
			t.Errorf("tunables %q: glibc aligns the thread pointer to %d, ldgo to %d", tunables, align, st.Align)
		}
		tcb = append(tcb, size-st.End)
	}
	if tcb[0] != tcb[1] {
		t.Errorf("the surplus differs from glibc's: static TLS size less ldgo's end %d by default, %d with the tunables", tcb[0], tcb[1])
	}

	ours := func(r result) result {
		var lines []string
		for _, l := range strings.Split(r.stdout, "\n") {
			if !strings.HasPrefix(l, "libc.so.6 ") && !strings.HasPrefix(l, "static ") {
				lines = append(lines, l)
			}
		}
		r.stdout = strings.Join(lines, "\n")
		return r
	}
	sameResult(t, "static TLS offsets", ours(native(t, baseEnv(), "", prog)), ours(hosted(t, bin, baseEnv(), "", prog)))
}

func TestRunLibraryTLS(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libtls.so", `
__thread int counter = 40;
__thread char buf[64];
int bump(void) { buf[0]++; return ++counter + buf[0]; }
`)
	prog := f.prog("tls", `
#include <stdio.h>
#include <pthread.h>
int bump(void);
static void *w(void *a) { bump(); return (void *)(long)bump(); }
int main(void) {
	int x = bump();
	x = bump();
	pthread_t t; void *r;
	pthread_create(&t, 0, w, 0);
	pthread_join(t, &r);
	printf("main %d thread %ld\n", x, (long)r);
	return 0;
}
`, "-L.", "-ltls", "-pthread", "-Wl,-rpath,"+f.dir)
	sameResult(t, "library TLS", native(t, baseEnv(), "", prog), hosted(t, bin, baseEnv(), "", prog))
}

// The program's own TLS block (local-exec offsets fixed at link
// time), a library's initial-exec and TLS-descriptor accesses,
// and a library reaching the program's variable: in the main
// thread and in threads started later, each seeing the
// initial values.
func TestRunExecutableTLS(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libie.so", `
__thread int ie_count = 100;
__thread char ie_tag[8] = "ie";
int ie_bump(void) { return ++ie_count; }
const char *ie_name(void) { return ie_tag; }
`, "-ftls-model=initial-exec")
	f.lib("libdesc.so", `
__thread long desc_val = 7;
extern __thread int prog_tls;
long desc_bump(void) { desc_val *= 3; return desc_val + prog_tls; }
`, "-mtls-dialect=gnu2")
	prog := f.prog("exetls", `
#include <stdio.h>
#include <pthread.h>
__thread int prog_tls = 5;
__thread char prog_buf[256];
static __thread double prog_d = 2.5;
int ie_bump(void); const char *ie_name(void); long desc_bump(void);
static void *worker(void *arg) {
	prog_tls += (int)(long)arg;
	prog_buf[10] += 1;
	prog_d *= 2;
	long r = ie_bump() + desc_bump() + prog_buf[10] + (long)prog_d + prog_tls;
	return (void *)r;
}
int main(void) {
	prog_tls = 9;
	printf("main: %d %s %ld %g\n", ie_bump(), ie_name(), desc_bump(), prog_d);
	pthread_t t[6];
	for (long i = 0; i < 6; i++) pthread_create(&t[i], 0, worker, (void *)i);
	for (int i = 0; i < 6; i++) { void *r; pthread_join(t[i], &r); printf("thread %d: %ld\n", i, (long)r); }
	printf("main again: %d %ld %d\n", ie_bump(), desc_bump(), prog_tls);
	return 0;
}
`, "-L.", "-lie", "-ldesc", "-pthread", "-Wl,-rpath,"+f.dir)
	want := native(t, baseEnv(), "", prog)
	sameResult(t, "TLS of the program and its libraries", want, hosted(t, bin, baseEnv(), "", prog))
	sameResult(t, "TLS with LD_BIND_NOW", want, hosted(t, bin, baseEnv("LD_BIND_NOW=1"), "", prog))
}
