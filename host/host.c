// The C side of host mode: the glibc objects already in the process, the
// lazy-binding resolver, dynamic TLS for objects ldgo loads, the start
// routine bound to __libc_start_main, and the hand-off to the program.
//
// After the hand-off the Go runtime runs only for the dl* server (dl.c):
// its other threads are parked (see freeze_threads), so everything else
// the program may reach — the resolver, __tls_get_addr, the initializers
// and finalizers — is here.
//
// Once the program's objects are relocated, libc's own calls of malloc,
// free, calloc and realloc reach the program's if it has them (rtld's
// rebindAdopted), and those may call dlsym. ldgo's references to libc were
// bound by the system's ld.so and stay glibc's, so what runs here calls
// glibc directly and nothing that allocates from inside libc: no opendir,
// no strdup (see for_each_thread, ldgo_strdup).

#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <ucontext.h>
#include <unistd.h>
#include <cpuid.h>
#include <sys/platform/x86.h>

#include "host.h"

// ---- the process as it was before the Go runtime started ----

static struct rlimit orig_nofile;
static int orig_nofile_ok;
static sigset_t orig_mask;
static unsigned char orig_ignored[NSIG];

__attribute__((constructor)) static void ldgo_record_start_state(void) {
	orig_nofile_ok = getrlimit(RLIMIT_NOFILE, &orig_nofile) == 0;
	sigprocmask(SIG_SETMASK, NULL, &orig_mask);
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			orig_ignored[sig] = 1;
	}
}

// LD_AUDIT in ldgo's environment is read by the system's ld.so, which
// audits ldgo's own start-up with it: its audit library is called in
// ldgo's process. ldgo executes itself again at once, first thing, with
// the variable renamed (LDGO_AUDIT_VAR), which ldgo run gives back to the
// program.
__attribute__((constructor(101))) static void ldgo_leave_audit(int argc, char **argv, char **envp) {
	(void)argc;
	size_t n = 0, audit = 0;
	for (; envp && envp[n]; n++)
		audit += strncmp(envp[n], "LD_AUDIT=", 9) == 0;
	if (!audit)
		return;
	char **env = calloc(n + 1, sizeof *env);
	if (!env)
		return;
	for (size_t i = 0; i < n; i++) {
		env[i] = envp[i];
		if (strncmp(envp[i], "LD_AUDIT=", 9) == 0 && (env[i] = malloc(strlen(envp[i]) + sizeof LDGO_AUDIT_VAR)))
			strcat(strcpy(env[i], LDGO_AUDIT_VAR "="), envp[i] + 9);
	}
	execve("/proc/self/exe", argv, env);
}

// ---- host objects ----

struct iter_state {
	struct ldgo_hostobj *out;
	int max, n;
};

static int iter_cb(struct dl_phdr_info *info, size_t size, void *data) {
	struct iter_state *st = data;
	(void)size;
	if (st->n < st->max) {
		struct ldgo_hostobj *o = &st->out[st->n];
		o->name = info->dlpi_name;
		o->addr = info->dlpi_addr;
		o->phdr = info->dlpi_phdr;
		o->phnum = info->dlpi_phnum;
		o->tls_modid = info->dlpi_tls_modid;
		o->tls_data = (uintptr_t)info->dlpi_tls_data;
	}
	st->n++;
	return 0;
}

int ldgo_host_objects(struct ldgo_hostobj *out, int max) {
	struct iter_state st = {out, max, 0};
	dl_iterate_phdr(iter_cb, &st);
	return st.n;
}

uintptr_t ldgo_thread_pointer(void) {
	uintptr_t tp;
	__asm__("movq %%fs:0, %0" : "=r"(tp));
	return tp;
}

uintptr_t ldgo_call0(uintptr_t fn) { return ((uintptr_t(*)(void))fn)(); }

// ---- lazy binding ----

// Used by the trampoline (trampoline.S).
int ldgo_xsave_mode;             // 0 fxsave, 1 xsave, 2 xsavec
unsigned long ldgo_xsave_frame;  // bytes below the 64-aligned stack

// ---- CPUID, as ld.so read it ----

// A virtual machine traps every CPUID instruction (about 30,000 cycles
// each where ldgo is measured), and glibc's ld.so read the leaves ldgo
// needs when the process started (init_cpu_features): ldgo_cpuid answers
// from that record where glibc keeps the leaf, and from the instruction
// otherwise. Leaf 0, which glibc does not keep, is read once.
static unsigned cpuid0[4];

void ldgo_cpuid(unsigned leaf, unsigned sub, unsigned out[4]) {
	int index = -1;
	if (leaf == 0) {
		memcpy(out, cpuid0, sizeof cpuid0);
		return;
	}
	// glibc reads the basic leaves up to the highest there is.
	if (leaf <= cpuid0[0]) {
		if (leaf == 1)
			index = CPUID_INDEX_1;
		else if (leaf == 7 && sub == 0)
			index = CPUID_INDEX_7;
		else if (leaf == 7 && sub == 1)
			index = CPUID_INDEX_7_ECX_1;
		else if (leaf == 0xd && sub == 1)
			index = CPUID_INDEX_D_ECX_1;
	}
	// An extended leaf is read by those who asked for 0x80000000 first,
	// as glibc does.
	if (leaf == 0x80000001)
		index = CPUID_INDEX_80000001;
	if (index >= 0) {
		memcpy(out, __x86_get_cpuid_feature_leaf(index)->cpuid_array, 4 * sizeof(unsigned));
		return;
	}
	__cpuid_count(leaf, sub, out[0], out[1], out[2], out[3]);
}

__attribute__((constructor)) static void ldgo_init_xsave(void) {
	unsigned a, b, c, d, r[4];
	__cpuid(0, cpuid0[0], cpuid0[1], cpuid0[2], cpuid0[3]);
	ldgo_xsave_mode = 0;
	ldgo_xsave_frame = 64 + 512;
	if (cpuid0[0] < 0xd)
		return;
	ldgo_cpuid(1, 0, r);
	if (!(r[2] & (1u << 27))) // OSXSAVE
		return;
	__cpuid_count(0xd, 0, a, b, c, d);
	if (b < 576)
		return;
	ldgo_xsave_mode = 1;
	ldgo_xsave_frame = (64 + b + 63) & ~63UL;
	ldgo_cpuid(0xd, 1, r);
	if (r[0] & 2)
		ldgo_xsave_mode = 2;
}

// ---- debug output ----

static struct ldgo_debug debug = {.fd = 2};
static uint64_t start_tsc;

__attribute__((constructor)) static void ldgo_record_start_tsc(void) { start_tsc = __builtin_ia32_rdtsc(); }

uint64_t ldgo_cycles(void) { return __builtin_ia32_rdtsc(); }
uint64_t ldgo_start_cycles(void) { return start_tsc; }

void ldgo_set_debug(struct ldgo_debug *d) { debug = *d; }

static void write_all(int fd, const char *s);
static void write_n(int fd, const char *s, size_t n);

// ldgo_debug_line writes each line of text (each ending in a newline)
// with glibc's pid column: the pid right-aligned in ten places, a colon
// and a tab. Each line is one write, as glibc's are.
void ldgo_debug_line(const char *text) {
	char pid[16];
	size_t np = (size_t)snprintf(pid, sizeof pid, "%10d:\t", (int)getpid());
	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t n = nl ? (size_t)(nl - text) + 1 : strlen(text);
		char buf[1024];
		if (np + n <= sizeof buf) {
			memcpy(buf, pid, np);
			memcpy(buf + np, text, n);
			write_n(debug.fd, buf, np + n);
		} else {
			write_n(debug.fd, pid, np);
			write_n(debug.fd, text, n);
		}
		text += n;
	}
}

static pthread_mutex_t lazy_mu = PTHREAD_MUTEX_INITIALIZER;
static int lazy_debug, lazy_bind_not;
static uint64_t lazy_count;

void ldgo_set_lazy_flags(int debug, int bind_not) {
	lazy_debug = debug;
	lazy_bind_not = bind_not;
}

uint64_t ldgo_lazy_count(void) { return lazy_count; }

struct ldgo_lazy *ldgo_lazy_new(uint64_t n) {
	struct ldgo_lazy *l = calloc(1, sizeof *l);
	l->nslots = n;
	l->slot = calloc(n + 1, sizeof *l->slot);
	l->target = calloc(n + 1, sizeof *l->target);
	l->error = calloc(n + 1, sizeof *l->error);
	l->trace = calloc(n + 1, sizeof *l->trace);
	l->debug = calloc(n + 1, sizeof *l->debug);
	l->done = calloc(n + 1, 1);
	return l;
}

// ldgo_strdup is strdup with ldgo's own malloc: the functions ldgo calls
// are glibc's (its own references were bound by the system's ld.so and
// are never rebound), but those libc calls from inside, strdup's malloc
// among them, are the program's if it has its own (rtld's
// rebindAdopted), and what one allocator gives the other must not free.
char *ldgo_strdup(const char *s) {
	size_t n = strlen(s) + 1;
	char *c = malloc(n);
	if (c)
		memcpy(c, s, n);
	return c;
}

static void write_all(int fd, const char *s) { write_n(fd, s, strlen(s)); }

static void write_n(int fd, const char *s, size_t n) {
	while (n > 0) {
		ssize_t k = write(fd, s, n);
		if (k <= 0)
			return;
		s += k;
		n -= k;
	}
}

// lazy_story_end ends the lazy category's story of a first call (the
// rest was written before the program started): the GOT entry as the
// resolver found it and, read back, as it leaves it. On the stack, for a
// call that may come from any thread at any time.
static void lazy_story_end(uint64_t slot, uint64_t old, uint64_t target) {
	char line[320];
	uint64_t now = *(volatile uint64_t *)slot;
	int n;
	if (lazy_bind_not)
		n = snprintf(line, sizeof line,
		             "ldgo: lazy:   5. GOT %#lx left at %#lx (LD_BIND_NOT); the resolver jumps to %#lx, and the next call comes back to it\n",
		             (unsigned long)slot, (unsigned long)now, (unsigned long)target);
	else
		n = snprintf(line, sizeof line,
		             "ldgo: lazy:   5. GOT %#lx: %#lx -> %#lx; the resolver jumps there, and the next call goes straight through the GOT\n",
		             (unsigned long)slot, (unsigned long)old, (unsigned long)now);
	if (n > 0)
		write_n(debug.fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

// ldgo_lazy_fixup is called by the trampoline at the first call through
// PLT slot i of the object l stands for (GOT[1]).
static uint64_t lazy_bind(struct ldgo_lazy *l, uint64_t i, int write);

uint64_t ldgo_lazy_fixup(struct ldgo_lazy *l, uint64_t i) { return lazy_bind(l, i, !lazy_bind_not); }

uint64_t ldgo_lazy_resolve(struct ldgo_lazy *l, uint64_t i) { return lazy_bind(l, i, 0); }

static uint64_t lazy_bind(struct ldgo_lazy *l, uint64_t i, int write) {
	if (i >= l->nslots) {
		write_all(2, "ldgo: lazy binding: PLT slot out of range\n");
		_exit(127);
	}
	if (l->error[i]) {
		if (l->debug[i])
			ldgo_debug_line(l->debug[i]);
		write_all(2, l->error[i]);
		_exit(127);
	}
	uint64_t t = l->target[i];
	if (l->audit)
		t = ldgo_audit_lazy_symbind(l, i, t);
	int story = 0;
	uint64_t old = 0;
	pthread_mutex_lock(&lazy_mu);
	if (!l->done[i]) {
		l->done[i] = 1;
		lazy_count++;
		if (lazy_debug && l->trace[i]) {
			write_all(debug.fd, l->trace[i]);
			story = 1;
			old = *(volatile uint64_t *)l->slot[i];
		}
		if (l->debug[i])
			ldgo_debug_line(l->debug[i]);
	}
	if (write)
		__atomic_store_n((uint64_t *)l->slot[i], t, __ATOMIC_RELEASE);
	if (story)
		lazy_story_end(l->slot[i], old, t);
	pthread_mutex_unlock(&lazy_mu);
	return t;
}

// ---- dynamic TLS for objects ldgo loads ----

struct tls_module {
	uintptr_t image;
	uint64_t filesz, memsz, align;
	uint64_t tpoff; // a static block this far below the TP, or 0
};

static struct tls_module *tls_modules;
static uint64_t tls_nmodules;
static uintptr_t real_tls_get_addr;

uint64_t ldgo_tls_register(uintptr_t image, uint64_t filesz, uint64_t memsz, uint64_t align, uint64_t tpoff) {
	tls_modules = realloc(tls_modules, (tls_nmodules + 1) * sizeof *tls_modules);
	tls_modules[tls_nmodules] = (struct tls_module){image, filesz, memsz, align, tpoff};
	return LDGO_TLS_BASE + tls_nmodules++;
}

void ldgo_set_real_tls_get_addr(uintptr_t fn) { real_tls_get_addr = fn; }

typedef struct {
	uint64_t module, offset;
} tls_index;

// ldgo's static TLS block: ldgo's per-thread state, then the reserve for
// the static TLS blocks of the program and the libraries ldgo loads, the
// last thing in the block, right below the thread pointer.
static __thread struct {
	struct ldgo_thread own;
	unsigned char reserve[LDGO_STATIC_TLS_RESERVE] __attribute__((aligned(64)));
} ldgo_tls __attribute__((aligned(64)));
_Static_assert(sizeof(struct ldgo_thread) <= LDGO_THREAD_STATE_SIZE, "ldgo's thread state outgrew its slot");

// The state is found this far below the thread pointer: in ldgo_tls, or,
// when the program's own TLS block is larger than the reserve and covers
// it, in a slot of static TLS the program's blocks leave free.
static uintptr_t state_off;

__attribute__((constructor)) static void ldgo_find_state(void) {
	state_off = ldgo_thread_pointer() - (uintptr_t)&ldgo_tls.own;
}

struct ldgo_thread *ldgo_self(void) {
	uintptr_t tp;
	__asm__("movq %%fs:0, %0" : "=r"(tp));
	return (struct ldgo_thread *)(tp - state_off);
}

// A thread's dynamic TLS blocks are freed when it exits.
static pthread_key_t tls_key;
static pthread_once_t tls_key_once = PTHREAD_ONCE_INIT;

static void tls_free_blocks(void *unused) {
	(void)unused;
	struct ldgo_thread *t = ldgo_self();
	for (uint64_t i = 0; i < t->nblocks; i++)
		free(t->blocks[i]);
	free(t->blocks);
	t->blocks = NULL;
	t->nblocks = 0;
}

static void tls_key_init(void) { pthread_key_create(&tls_key, tls_free_blocks); }

void *ldgo_tls_get_addr_c(tls_index *ti) {
	if (ti->module < LDGO_TLS_BASE)
		return ((void *(*)(tls_index *))real_tls_get_addr)(ti);
	uint64_t m = ti->module - LDGO_TLS_BASE;
	if (m >= tls_nmodules) {
		write_all(2, "ldgo: __tls_get_addr: unknown TLS module\n");
		abort();
	}
	if (tls_modules[m].tpoff)
		return (char *)ldgo_thread_pointer() - tls_modules[m].tpoff + ti->offset;
	struct ldgo_thread *self = ldgo_self();
	if (m >= self->nblocks) {
		void **nb = realloc(self->blocks, tls_nmodules * sizeof *nb);
		if (!nb)
			abort();
		memset(nb + self->nblocks, 0, (tls_nmodules - self->nblocks) * sizeof *nb);
		self->blocks = nb;
		self->nblocks = tls_nmodules;
	}
	if (!self->blocks[m]) {
		pthread_once(&tls_key_once, tls_key_init);
		pthread_setspecific(tls_key, (void *)1);
		struct tls_module *t = &tls_modules[m];
		size_t align = t->align < 16 ? 16 : t->align;
		size_t size = (t->memsz + align - 1) & ~(align - 1);
		void *p = aligned_alloc(align, size ? size : align);
		if (!p)
			abort();
		memcpy(p, (void *)t->image, t->filesz);
		memset((char *)p + t->filesz, 0, t->memsz - t->filesz);
		self->blocks[m] = p;
	}
	return (char *)self->blocks[m] + ti->offset;
}

// ---- static TLS of the program and the libraries ldgo loads ----

// An executable's local-exec TLS offsets are fixed at link time: its block
// ends at the thread pointer. There the ldgo executable's own block lies,
// ending with ldgo_tls.reserve (checked below): a program's block that
// fits in the reserve lies there, and the libraries' below it, at glibc's
// offsets (their initial-exec accesses need a fixed offset too, as glibc
// gives every library loaded at start-up). When that is not enough room,
// or the thread pointer is not aligned enough, ldgo starts again with a
// static TLS module preloaded (ldgo_tls_module): an object of nothing but
// a TLS segment, which glibc places right below ldgo's block and whose
// alignment it gives every thread pointer. A program's block larger than
// the reserve then covers ldgo's own variables: ldgo's per-thread state
// moves to a slot of static TLS that no block uses, and the Go runtime's
// g pointer, which Go code reads where it was linked, is put back for the
// time Go runs on such a thread (ldgo_go_enter).
//
// Static TLS blocks of new threads are initialized by glibc from the link
// maps of the objects whose blocks hold them, ldgo's and the module's, so
// those link maps are given initialization images holding each block's
// data at its place: every thread glibc creates, the program's or libc's
// own, starts with the same TLS as in a native run.

// A region of every thread's static TLS that one of glibc's link maps
// describes: the bytes from top below the thread pointer, size of them.
struct tls_region {
	uint64_t *f;        // the link map's TLS fields (see link_map_tls)
	unsigned char *img; // the image new threads get, once made
	uint64_t top, size;
};
static struct tls_region regions[2]; // ldgo's block, then the module's
static int nregions;
static struct ldgo_tls_area area;
static int area_done;
static const char *area_err;

static int is_frozen(pid_t tid);
static struct ldgo_tls_block *static_blocks;
static uint64_t nstatic_blocks;

// The PT_TLS segment of the object named name ("" for the ldgo
// executable).
struct tls_segment {
	const char *name;
	const ElfW(Phdr) * ph;
	uintptr_t base;
};

static int tls_segment_cb(struct dl_phdr_info *info, size_t size, void *data) {
	(void)size;
	struct tls_segment *t = data;
	if (strcmp(info->dlpi_name, t->name) != 0)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_TLS) {
			t->ph = &info->dlpi_phdr[i];
			t->base = info->dlpi_addr;
		}
	return 1;
}

// link_map_tls finds the TLS fields of the glibc link map of the object
// named name. glibc's struct link_map is private, so they are found by
// value: the initialization image, its size, the block size and alignment
// in a row (f[0] to f[3]), then the first-byte offset and the offset
// below the thread pointer (f[4], f[5]).
static const char *link_map_tls(const char *name, uint64_t **fields, uintptr_t *base) {
	struct tls_segment seg = {name, NULL, 0};
	dl_iterate_phdr(tls_segment_cb, &seg);
	if (!seg.ph)
		return "has no PT_TLS";
	// glibc relocates the image's address unless it is 0.
	uint64_t image = seg.ph->p_vaddr ? seg.base + seg.ph->p_vaddr : 0;
	uint64_t want[4] = {image, seg.ph->p_filesz, seg.ph->p_memsz, seg.ph->p_align};
	struct link_map *l = _r_debug.r_map;
	while (l && (l->l_addr != seg.base || strcmp(l->l_name, name) != 0))
		l = l->l_next;
	if (!l)
		return "has no link map";
	uint64_t *lm = (uint64_t *)l, *f = NULL;
	for (int i = 0; i < 256; i++)
		if (memcmp(&lm[i], want, sizeof want) == 0) {
			if (f)
				return "has a link map whose TLS fields are ambiguous";
			f = &lm[i];
		}
	if (!f)
		return "has a link map whose TLS fields were not found";
	*fields = f;
	*base = seg.base;
	return NULL;
}

// The static TLS module's link map is found before the Go runtime starts
// its threads, and until ldgo_static_tls gives it an image glibc is told
// that its block is empty: glibc would clear all of it in each of those
// threads, which never run the program's code.
static uint64_t *module_f;
static uint64_t module_size;
static const char *module_err;
static uintptr_t module_base; // not the program's: dl_iterate_phdr leaves it out

__attribute__((constructor)) static void ldgo_find_tls_module(void) {
	const char *module = getenv(LDGO_TLS_MODULE_VAR);
	if (!module || !module[0])
		return;
	module_err = link_map_tls(module, &module_f, &module_base);
	if (module_err)
		return;
	module_size = module_f[2];
	module_f[2] = 0;
}

static const char *find_area(const char *module) {
	static char why[160];
	uint64_t *f;
	uintptr_t base;
	if ((uintptr_t)ldgo_tls.reserve + LDGO_STATIC_TLS_RESERVE != ldgo_thread_pointer())
		return "the TLS reserve of the ldgo executable does not end at the thread pointer";
	const char *e = link_map_tls("", &f, &base);
	if (e) {
		snprintf(why, sizeof why, "the ldgo executable %s", e);
		return why;
	}
	if (f[5] != f[2])
		return "the static TLS block of the ldgo executable does not end at the thread pointer";
	regions[0] = (struct tls_region){f, NULL, f[5], f[2]};
	nregions = 1;
	area.reserve = LDGO_STATIC_TLS_RESERVE;
	area.own = f[5];
	area.capacity = LDGO_STATIC_TLS_RESERVE;
	if (module[0]) {
		if (!module_f) {
			snprintf(why, sizeof why, "the static TLS module %s %s", module, module_err ? module_err : "was not named at start-up");
			return why;
		}
		if (module_f[5] != regions[0].top + module_size)
			return "the static TLS module does not lie right below the ldgo executable's block";
		regions[1] = (struct tls_region){module_f, NULL, module_f[5], module_size};
		nregions = 2;
		area.capacity = module_f[5];
	}
	void (*info)(size_t *, size_t *) = (void (*)(size_t *, size_t *))dlsym(RTLD_DEFAULT, "_dl_get_tls_static_info");
	if (!info)
		return "ld.so's _dl_get_tls_static_info was not found";
	size_t size, align;
	info(&size, &align);
	area.align = align;
	return NULL;
}

const char *ldgo_static_tls_area(const char *module, struct ldgo_tls_area *out) {
	if (!area_done) {
		area_err = find_area(module);
		area_done = 1;
	}
	*out = area;
	return area_err;
}

int ldgo_is_tls_module(uintptr_t base) { return module_base && base == module_base; }

// overlaps reports whether two ranges of static TLS meet: each the bytes
// from off below the thread pointer, size of them.
static int overlaps(uint64_t off1, uint64_t size1, uint64_t off2, uint64_t size2) {
	return off1 - size1 < off2 && off2 - size2 < off1;
}

// The Go runtime's g pointer: runtime.tlsg, first in ldgo's block.
#define GO_SLOT_SIZE 8
static int go_covered; // by the program's block

// put_block writes block b's initialization image into the images of the
// regions it lies in.
static void put_block(const struct ldgo_tls_block *b) {
	for (int i = 0; i < nregions; i++) {
		struct tls_region *r = &regions[i];
		int64_t at = (int64_t)(r->top - b->tpoff); // where b starts in r
		int64_t lo = at > 0 ? at : 0;
		int64_t hi = at + (int64_t)b->filesz < (int64_t)r->size ? at + (int64_t)b->filesz : (int64_t)r->size;
		if (lo < hi)
			memcpy(r->img + lo, (const unsigned char *)b->image + (lo - at), hi - lo);
	}
}

const char *ldgo_static_tls(struct ldgo_tls_block *blocks, uint64_t n, uint64_t new_state) {
	if (!area_done)
		return "the static TLS of the ldgo executable was not looked at";
	if (area_err)
		return area_err;
	uint64_t state = new_state ? new_state : state_off;
	if (new_state && (new_state > area.capacity || new_state < LDGO_THREAD_STATE_SIZE))
		return "ldgo's thread state does not fit in static TLS";
	for (uint64_t i = 0; i < n; i++) {
		struct ldgo_tls_block *b = &blocks[i];
		if (b->tpoff > area.capacity || b->memsz > b->tpoff)
			return "static TLS blocks do not fit in the static TLS of the ldgo executable";
		if (overlaps(b->tpoff, b->memsz, state, LDGO_THREAD_STATE_SIZE))
			return "a static TLS block covers ldgo's thread state";
		if (overlaps(b->tpoff, b->memsz, regions[0].top, GO_SLOT_SIZE))
			go_covered = 1;
	}
	for (int i = 0; i < nregions; i++) {
		struct tls_region *r = &regions[i];
		r->img = calloc(1, r->size);
		if (!r->img)
			return "cannot allocate memory for the TLS initialization image";
		if (r->f[1])
			memcpy(r->img, (void *)r->f[0], r->f[1]); // the object's own
	}
	for (uint64_t i = 0; i < n; i++)
		put_block(&blocks[i]);
	for (int i = 0; i < nregions; i++) {
		regions[i].f[0] = (uint64_t)regions[i].img;
		regions[i].f[1] = regions[i].size;
		regions[i].f[2] = regions[i].size;
	}
	static_blocks = malloc((n + 1) * sizeof *blocks);
	if (!static_blocks)
		return "cannot allocate memory for the TLS blocks";
	memcpy(static_blocks, blocks, n * sizeof *blocks);
	nstatic_blocks = n;
	if (new_state) {
		// The entering thread's is cleared as it enters; the threads
		// glibc makes get it cleared from the images.
		static_blocks[nstatic_blocks++] = (struct ldgo_tls_block){0, 0, LDGO_THREAD_STATE_SIZE, new_state};
		state_off = new_state;
	}
	return NULL;
}

// fill_block initializes block b of the thread whose pointer is tp.
static void fill_block(unsigned char *tp, struct ldgo_tls_block *b) {
	memcpy(tp - b->tpoff, (void *)b->image, b->filesz);
	memset(tp - b->tpoff + b->filesz, 0, b->memsz - b->filesz);
}

// The Go runtime's g pointer lies under the program's block when that
// covers it: in the program's threads those bytes are the program's, and
// Go's only while Go runs there, which is on the entering thread and
// others only in a child created by fork (see dl_call).
static uintptr_t main_tp, last_tp;
static uint64_t main_g, last_g; // Go's, on the entering thread and on the last it ran on

static uint64_t *go_slot(uintptr_t tp) { return (uint64_t *)(tp - regions[0].top); }

// static_tls_fill gives the entering thread its static TLS blocks.
static void static_tls_fill(void) {
	unsigned char *tp = (unsigned char *)ldgo_thread_pointer();
	if (go_covered) {
		main_tp = (uintptr_t)tp;
		main_g = *go_slot(main_tp);
	}
	for (uint64_t i = 0; i < nstatic_blocks; i++)
		fill_block(tp, &static_blocks[i]);
}

void ldgo_go_thread_start(void) {
	if (go_covered)
		*go_slot(ldgo_thread_pointer()) = 0;
}

void ldgo_go_enter(uint64_t *saved) {
	if (!go_covered)
		return;
	uintptr_t tp = ldgo_thread_pointer();
	uint64_t *slot = go_slot(tp);
	*saved = *slot;
	*slot = tp == last_tp ? last_g : tp == main_tp ? main_g : 0;
}

void ldgo_go_leave(const uint64_t *saved) {
	if (!go_covered)
		return;
	last_tp = ldgo_thread_pointer();
	uint64_t *slot = go_slot(last_tp);
	last_g = *slot;
	*slot = *saved;
}

// glibc takes a thread's static TLS out of the stack it gives it (glibc's
// bug 11787), and the Go runtime's threads take the default size for
// theirs: with a program's large blocks in static TLS they would be left
// with little. Until the hand-off, threads get the default size with the
// static TLS added; then the program gets glibc's default back.
static pthread_attr_t orig_default;
static int orig_default_ok;
static size_t own_stack_size;

__attribute__((constructor)) static void ldgo_own_thread_stacks(void) {
	void (*info)(size_t *, size_t *) = (void (*)(size_t *, size_t *))dlsym(RTLD_DEFAULT, "_dl_get_tls_static_info");
	size_t tls, align, size;
	pthread_attr_t a;
	if (!info || pthread_getattr_default_np(&orig_default) != 0)
		return;
	orig_default_ok = 1;
	info(&tls, &align);
	pthread_attr_getstacksize(&orig_default, &size);
	own_stack_size = size + tls;
	if (pthread_getattr_default_np(&a) != 0)
		return;
	pthread_attr_setstacksize(&a, own_stack_size);
	pthread_setattr_default_np(&a);
	pthread_attr_destroy(&a);
}

size_t ldgo_own_stack_size(void) { return own_stack_size; }

static void restore_default_stacks(void) {
	if (orig_default_ok)
		pthread_setattr_default_np(&orig_default);
}

// glibc's lists of threads, found as libthread_db finds them: libc
// exports for debuggers the offsets of _dl_stack_used and _dl_stack_user in
// ld.so's _rtld_global and of the list link in struct pthread, whose
// address is the thread pointer on x86-64. The lock guarding the lists has
// no such descriptor; in glibc 2.34 and later it follows them (the stack
// cache list, its size, the in-flight word, then the lock), and that
// layout is checked before the lock is used.
struct thread_lists {
	struct list_link { struct list_link *next, *prev; } *used, *user;
	int *lock;
	size_t link; // the list link's offset in struct pthread
};

static const char *find_thread_lists(struct thread_lists *t) {
	const uint32_t *used = dlsym(RTLD_DEFAULT, "_thread_db_rtld_global__dl_stack_used");
	const uint32_t *user = dlsym(RTLD_DEFAULT, "_thread_db_rtld_global__dl_stack_user");
	const uint32_t *link = dlsym(RTLD_DEFAULT, "_thread_db_pthread_list");
	char *global = dlsym(RTLD_DEFAULT, "_rtld_global");
	if (!used || !user || !link || !global)
		return "glibc's thread-list descriptors were not found";
	if (used[0] != 128 || user[0] != 128 || link[0] != 128 || user[2] != used[2] + 16)
		return "glibc's thread lists are not laid out as expected";
	t->used = (struct list_link *)(global + used[2]);
	t->user = (struct list_link *)(global + user[2]);
	t->link = link[2];
	struct list_link *cache = (struct list_link *)(global + user[2] + 16);
	t->lock = (int *)(global + user[2] + 16 + 16 + 8 + 8);
	// The stack cache must be a well-formed list, the lock a lock.
	struct list_link *p = cache->next;
	for (int n = 0; p != cache; p = p->next)
		if (!p || p->next->prev != p || ++n > 1 << 20)
			return "glibc's thread lists are not laid out as expected";
	int v = __atomic_load_n(t->lock, __ATOMIC_RELAXED);
	if (v < 0 || v > 2)
		return "glibc's thread lists are not laid out as expected";
	return NULL;
}

// The lock protocol of glibc's lll_lock and lll_unlock.
static void lll_lock(int *f) {
	int zero = 0;
	if (__atomic_compare_exchange_n(f, &zero, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return;
	while (__atomic_exchange_n(f, 2, __ATOMIC_ACQUIRE) != 0)
		syscall(SYS_futex, f, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
}

static void lll_unlock(int *f) {
	if (__atomic_exchange_n(f, 0, __ATOMIC_RELEASE) > 1)
		syscall(SYS_futex, f, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

// ldgo_static_tls_late puts the static TLS block of an object dlopen
// loads in the image new threads get, and in every running thread, as
// glibc's __pthread_init_static_tls does: under glibc's lock of the thread
// lists, which a thread joins once its TLS is set up.
const char *ldgo_static_tls_late(struct ldgo_tls_block *b) {
	if (!regions[0].img || b->tpoff > area.capacity || b->memsz > b->tpoff ||
	    overlaps(b->tpoff, b->memsz, regions[0].top, GO_SLOT_SIZE) ||
	    overlaps(b->tpoff, b->memsz, state_off, LDGO_THREAD_STATE_SIZE))
		return "static TLS cannot take the block";
	static struct thread_lists lists;
	static const char *lists_err;
	if (!lists.lock && !lists_err)
		lists_err = find_thread_lists(&lists);
	if (lists_err)
		return lists_err;
	lll_lock(lists.lock);
	put_block(b);
	for (struct list_link *head = lists.used;; head = lists.user) {
		for (struct list_link *p = head->next; p != head; p = p->next)
			fill_block((unsigned char *)p - lists.link, b);
		if (head == lists.user)
			break;
	}
	lll_unlock(lists.lock);
	return NULL;
}

// This thread's dlerror state.
char **ldgo_dlerror_slot(void) { return &ldgo_self()->dlerror; }
char **ldgo_dlerror_shown_slot(void) { return &ldgo_self()->dlerror_shown; }

// ldgo_tls_block is this thread's block of module modid, NULL when the
// thread has not used it yet.
void *ldgo_tls_block(uint64_t modid) {
	uint64_t m = modid - LDGO_TLS_BASE;
	struct ldgo_thread *self = ldgo_self();
	if (modid < LDGO_TLS_BASE || m >= self->nblocks)
		return NULL;
	return self->blocks[m];
}

// ---- start and exit ----

static struct ldgo_start *start;

typedef void (*init_fn)(int, char **, char **);
typedef void (*fini_fn)(void);

// announce prints glibc's LD_DEBUG=libs line for a call of an object's
// initializers or finalizers, with its blank lines.
static void announce(const char *what, const char *name, const char *suffix) {
	char line[4200];
	snprintf(line, sizeof line, "%s: %s%s\n", what, name, suffix);
	ldgo_debug_line("\n");
	ldgo_debug_line(line);
	ldgo_debug_line("\n");
}

static void run_inits(struct ldgo_fn *fns, uint64_t n, int argc, char **argv, char **env) {
	for (uint64_t i = 0; i < n; i++) {
		struct ldgo_fn *f = &fns[i];
		if (debug.libs && f->object)
			announce("calling init", f->object, "");
		if (f->kind == 0) {
			((init_fn)f->addr)(argc, argv, env);
			continue;
		}
		uint64_t *arr = (uint64_t *)f->addr;
		for (uint64_t j = 0; j < f->count; j++)
			if (arr[j] != 0 && arr[j] != (uint64_t)-1)
				((init_fn)arr[j])(argc, argv, env);
	}
}

static int saved_argc;
static char **saved_argv;

// ldgo_set_args gives the initializers that run before the program's
// start (the audit libraries') the program's arguments and environment.
void ldgo_set_args(int argc, char **argv, char **envp) {
	saved_argc = argc;
	saved_argv = argv;
	environ = envp;
}

// ldgo_run_inits runs the initializers of objects dlopen loaded, with the
// program's arguments as glibc passes them.
void ldgo_run_inits(struct ldgo_fn *fns, uint64_t n) {
	run_inits(fns, n, saved_argc, saved_argv, environ);
}

// At exit the finalizers run as glibc's _dl_fini runs them: each is taken
// from the list under the lock dlopen and dlclose hold and called with the
// lock released, so that what a finalizer waits for (another thread's
// dlsym) may use the dynamic linker. From then on nothing is unloaded
// (dlclose only returns, as glibc's _dl_fini raises every open count), so
// that each object stays until its finalizers' turn; objects dlopen loads
// then are not finalized, as in glibc.
static int finishing;
static uint64_t fini_next; // the next of start->finis to run

int ldgo_finishing(void) { return finishing; }

// ldgo_add_finis puts the finalizers of objects dlopen loaded before the
// others: at exit they run first, as later-loaded objects do in glibc's
// _dl_fini.
void ldgo_add_finis(struct ldgo_fn *fns, uint64_t n) {
	if (n == 0)
		return;
	struct ldgo_fn *all = malloc((n + start->nfinis) * sizeof *all);
	if (!all)
		return;
	// After la_activity(LA_ACT_DELETE), when the audit opens the list.
	uint64_t lead = start->nfinis > 0 && start->finis[0].kind == LDGO_FN_AUDIT_ACTIVITY && !finishing;
	memcpy(all, start->finis, lead * sizeof *all);
	memcpy(all + lead, fns, n * sizeof *all);
	memcpy(all + lead + n, start->finis + lead, (start->nfinis - lead) * sizeof *all);
	start->finis = all;
	start->nfinis += n;
	if (finishing)
		fini_next += n;
}

// stat_count and stat_cycles print a statistics line: label (padded as
// glibc pads it), then a count, or cycles with their share of total in
// tenths of a percent, truncated, as glibc prints it.
static void stat_count(const char *label, uint64_t n) {
	char line[160];
	snprintf(line, sizeof line, "%s: %llu\n", label, (unsigned long long)n);
	ldgo_debug_line(line);
}

static void stat_cycles(const char *label, uint64_t cycles, uint64_t total) {
	char line[160];
	uint64_t permille = total ? cycles * 1000 / total : 0;
	snprintf(line, sizeof line, "%s: %llu cycles (%llu.%llu%%)\n", label, (unsigned long long)cycles,
	         (unsigned long long)(permille / 10), (unsigned long long)(permille % 10));
	ldgo_debug_line(line);
}

// startup_statistics prints glibc's LD_DEBUG=statistics block for the
// start-up, with ldgo's own lines.
static void startup_statistics(void) {
	uint64_t total = __builtin_ia32_rdtsc() - start_tsc;
	char line[160];
	ldgo_debug_line("\n");
	ldgo_debug_line("runtime linker statistics:\n");
	snprintf(line, sizeof line, "  total startup time in dynamic loader: %llu cycles\n", (unsigned long long)total);
	ldgo_debug_line(line);
	stat_cycles("            time needed for relocation", debug.relocation, total);
	stat_count("                 number of relocations", debug.lookups);
	stat_count("      number of relocations from cache", debug.cache_hits);
	stat_count("        number of relative relocations", debug.relative);
	stat_cycles("           time needed to load objects", debug.load, total);
	stat_cycles("     ldgo: time needed to start itself", debug.own_start, total);
	stat_count("     ldgo: bindings from the bind cache", debug.from_bind_cache);
	stat_count("        ldgo: PLT slots looked up ahead", debug.looked_ahead);
}

static void final_statistics(void) {
	ldgo_debug_line("\n");
	ldgo_debug_line("runtime linker statistics:\n");
	stat_count("           final number of relocations", debug.lookups + lazy_count);
	stat_count("final number of relocations from cache", debug.cache_hits);
}

// ldgo_remove_finis takes the finalizers of objects dlclose unloads out
// of those run at exit.
void ldgo_remove_finis(uint64_t *owners, uint64_t n) {
	uint64_t k = 0;
	for (uint64_t i = 0; i < start->nfinis; i++) {
		int gone = 0;
		for (uint64_t j = 0; j < n; j++)
			gone |= start->finis[i].owner == owners[j];
		if (!gone)
			start->finis[k++] = start->finis[i];
	}
	start->nfinis = k;
}

static void run_finis(void *unused) {
	(void)unused;
	ldgo_dl_lock();
	finishing = 1;
	while (fini_next < start->nfinis) {
		struct ldgo_fn f = start->finis[fini_next++];
		ldgo_dl_unlock();
		ldgo_run_finis(&f, 1);
		ldgo_dl_lock();
	}
	ldgo_dl_unlock();
	if (debug.statistics)
		final_statistics();
}

// ldgo_run_finis runs finalizers in order, each array backwards.
void ldgo_run_finis(struct ldgo_fn *fns, uint64_t n) {
	for (uint64_t i = 0; i < n; i++) {
		struct ldgo_fn *f = &fns[i];
		if (f->kind == LDGO_FN_AUDIT_CLOSE) {
			ldgo_audit_objclose((struct ldgo_audit_obj *)f->addr);
			continue;
		}
		if (f->kind == LDGO_FN_AUDIT_ACTIVITY) {
			ldgo_audit_activity((unsigned)f->addr);
			continue;
		}
		if (debug.libs && f->object)
			announce("calling fini", f->object, " [0]");
		if (f->kind == 0) {
			((fini_fn)f->addr)();
			continue;
		}
		uint64_t *arr = (uint64_t *)f->addr;
		for (uint64_t j = f->count; j-- > 0;)
			if (arr[j] != 0 && arr[j] != (uint64_t)-1)
				((fini_fn)arr[j])();
	}
}

extern int __cxa_atexit(void (*fn)(void *), void *arg, void *dso);
extern char **environ;

// ldgo_start_main is what the program's __libc_start_main binds to.
static int ldgo_start_main(int (*main)(int, char **, char **), int argc, char **argv,
                           init_fn init, void (*fini)(void), void (*rtld_fini)(void), void *stack_end) {
	(void)fini;
	(void)rtld_fini;
	(void)stack_end;
	char **ev = &argv[argc + 1];
	environ = ev;
	saved_argc = argc;
	saved_argv = argv;
	for (uint64_t i = 0; i < start->nenviron_slots; i++)
		*(char ***)start->environ_slots[i] = ev;
	ldgo_calls_begin();
	// As with glibc: ld.so runs the preinitializers and the libraries'
	// initializers before __libc_start_main, which registers the
	// finalizers (rtld_fini) and then initializes the program. Handlers
	// a library's constructor registers with atexit thus run at that
	// library's __cxa_finalize, among the finalizers, not before them.
	run_inits(start->inits, start->ninits, argc, argv, ev);
	__cxa_atexit(run_finis, NULL, NULL);
	if (debug.libs)
		announce("initialize program", argv[0], "");
	if (init)
		init(argc, argv, ev);
	else
		run_inits(start->exe_inits, start->nexe_inits, argc, argv, ev);
	ldgo_audit_preinit();
	if (debug.libs)
		announce("transferring control", argv[0], "");
	exit(main(argc, argv, ev));
}

// ---- the Go runtime's threads are parked for good ----

#define FREEZE_SIG (SIGRTMAX - 1)
#define MAX_FROZEN 1024

static pid_t frozen[MAX_FROZEN];
static int nfrozen;

static int in_freeze_ranges(uintptr_t pc) {
	for (uint64_t i = 0; i < start->nfreeze; i++)
		if (pc >= start->freeze_lo[i] && pc < start->freeze_hi[i])
			return 1;
	return 0;
}

// at_rest reports whether the signal found the thread waiting in the
// kernel, as Go's idle threads wait: an M in a futex wait, sysmon in
// nanosleep. There a thread holds none of the runtime's locks (it takes
// them running), so parking it for good cannot leave the dl* server
// waiting for one. A wait interrupted for a handler with SA_RESTART is
// set back to its system call instruction, the call's number in rax; a
// wait that ends in EINTR stands just after it.
static int at_rest(ucontext_t *uc) {
	const unsigned char *pc = (const unsigned char *)uc->uc_mcontext.gregs[REG_RIP];
	long rax = uc->uc_mcontext.gregs[REG_RAX];
	if (pc[0] == 0x0f && pc[1] == 0x05) {
		switch (rax) {
		case SYS_futex: {
			long op = uc->uc_mcontext.gregs[REG_RSI] & ~(long)(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
			return op == FUTEX_WAIT || op == FUTEX_WAIT_BITSET;
		}
		case SYS_nanosleep:
		case SYS_clock_nanosleep:
		case SYS_epoll_wait:
		case SYS_epoll_pwait:
			return 1;
		}
		return 0;
	}
	return pc[-2] == 0x0f && pc[-1] == 0x05 && rax == -EINTR;
}

static void freeze_handler(int sig, siginfo_t *si, void *ucv) {
	(void)sig;
	(void)si;
	ucontext_t *uc = ucv;
	uintptr_t pc = uc->uc_mcontext.gregs[REG_RIP];
	// A thread inside libc may hold one of its locks, and one running
	// Go code one of the runtime's: let it run on and ask again.
	if (in_freeze_ranges(pc) || !at_rest(uc))
		return;
	pid_t tid = syscall(SYS_gettid);
	int k = __atomic_fetch_add(&nfrozen, 1, __ATOMIC_SEQ_CST);
	if (k < MAX_FROZEN)
		__atomic_store_n(&frozen[k], tid, __ATOMIC_SEQ_CST);
	// glibc's set*id broadcast must still reach every thread it knows.
	sigset_t wait;
	sigfillset(&wait);
	sigdelset(&wait, 33); // SIGSETXID
	for (;;)
		sigsuspend(&wait);
}

static int is_frozen(pid_t tid) {
	int n = __atomic_load_n(&nfrozen, __ATOMIC_SEQ_CST);
	for (int i = 0; i < n && i < MAX_FROZEN; i++)
		if (__atomic_load_n(&frozen[i], __ATOMIC_SEQ_CST) == tid)
			return 1;
	return 0;
}

// The dl* server's thread (ldgo_dl_wait_server): it waits for the program's
// calls, and is never parked.
static pid_t dl_server_tid;

// A directory entry as getdents64 writes it.
struct dirent64_raw {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

// for_each_thread calls fn with each thread of the process but the
// calling one (self), the dl* server and those parked, and returns 0, or
// errno when the threads cannot be listed. The directory is read with
// getdents64 itself: opendir allocates with libc's malloc, which by now
// is the program's if it has one (rtld's rebindAdopted), and an
// interposed malloc may call dlsym, which waits for the threads being
// parked.
static int for_each_thread(pid_t self, void (*fn)(pid_t tid, void *arg), void *arg) {
	int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	char buf[4096] __attribute__((aligned(8)));
	long n;
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0)
		for (long at = 0; at < n;) {
			struct dirent64_raw *e = (struct dirent64_raw *)(buf + at);
			at += e->reclen;
			pid_t tid = 0;
			for (const char *c = e->name; *c >= '0' && *c <= '9'; c++)
				tid = tid * 10 + (*c - '0');
			if (tid > 0 && tid != self && tid != dl_server_tid && !is_frozen(tid))
				fn(tid, arg);
		}
	int err = n < 0 ? errno : 0;
	close(fd);
	return err;
}

static void lowest_tid(pid_t tid, void *arg) {
	pid_t *first = arg;
	if (*first == 0 || tid < *first)
		*first = tid;
}

// park_monitor_first parks the Go runtime's system monitor, its first
// thread after the main one, before the others: until it is parked it
// wakes every 20 us or so and sets other threads running, which then
// are not at rest when asked, and the rounds of freeze_threads go on
// (in 25 runs of true, the slowest parking took 2.6M to 20M cycles
// without this, 1.3M to 3M with it; the median went from 0.65M to
// 0.55M). Whichever thread that is, it is parked only at rest.
static void park_monitor_first(pid_t self, pid_t pid) {
	pid_t first = 0;
	if (for_each_thread(self, lowest_tid, &first) != 0)
		return;
	for (int ask = 0; first && ask < 4 && !is_frozen(first); ask++) {
		int n = __atomic_load_n(&nfrozen, __ATOMIC_SEQ_CST);
		syscall(SYS_tgkill, pid, first, FREEZE_SIG);
		for (int i = 0; i < 50 && __atomic_load_n(&nfrozen, __ATOMIC_SEQ_CST) == n; i++)
			sched_yield();
	}
}

// A round of asking the threads to park.
struct park_round {
	pid_t pid;
	int pending;
};

// ask_to_park asks a thread to park, once a round (a signal already
// pending merges), and counts it as pending.
static void ask_to_park(pid_t tid, void *arg) {
	struct park_round *r = arg;
	r->pending++;
	syscall(SYS_tgkill, r->pid, tid, FREEZE_SIG);
}

static int freeze_threads(void) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = freeze_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sigaction(FREEZE_SIG, &sa, NULL) != 0)
		return errno;
	pid_t self = syscall(SYS_gettid), pid = getpid();
	park_monitor_first(self, pid);
	for (int round = 0; round < 20000; round++) {
		struct park_round r = {.pid = pid};
		int err = for_each_thread(self, ask_to_park, &r);
		if (err)
			return err;
		if (!r.pending)
			return 0;
		struct timespec ts = {0, 20000};
		nanosleep(&ts, NULL);
	}
	return EAGAIN;
}

// Signals as a freshly executed program has them: dispositions default
// (or ignored, as they were inherited), nothing blocked, no alternate
// stack.
static void reset_signals(void) {
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP || sig == 32 || sig == 33)
			continue;
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = orig_ignored[sig] ? SIG_IGN : SIG_DFL;
		sigemptyset(&sa.sa_mask);
		sigaction(sig, &sa, NULL);
	}
	stack_t ss;
	memset(&ss, 0, sizeof ss);
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
	sigset_t mask = orig_mask;
	sigdelset(&mask, 32);
	sigdelset(&mask, 33);
	sigprocmask(SIG_SETMASK, &mask, NULL);
}

extern void ldgo_jump(uint64_t entry, void *sp) __attribute__((noreturn));

extern void *__libc_stack_end;

// A shared object of nothing, which glibc's own loader loads: one
// read-only segment holding the headers and an empty dynamic section, the
// stack it asks for, and, when tls_size is not 0, a TLS segment of
// tls_size zero bytes aligned to tls_align.
struct tiny_object {
	Elf64_Ehdr ehdr;
	Elf64_Phdr phdr[4];
	Elf64_Dyn dyn[5];
	Elf64_Sym sym[1];
	char str[1];
};

static void tiny_object_init(struct tiny_object *o, uint32_t stack_flags, uint64_t tls_size, uint64_t tls_align) {
	memset(o, 0, sizeof *o);
	memcpy(o->ehdr.e_ident, ELFMAG, SELFMAG);
	o->ehdr.e_ident[EI_CLASS] = ELFCLASS64;
	o->ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
	o->ehdr.e_ident[EI_VERSION] = EV_CURRENT;
	o->ehdr.e_type = ET_DYN;
	o->ehdr.e_machine = EM_X86_64;
	o->ehdr.e_version = EV_CURRENT;
	o->ehdr.e_phoff = offsetof(struct tiny_object, phdr);
	o->ehdr.e_ehsize = sizeof o->ehdr;
	o->ehdr.e_phentsize = sizeof o->phdr[0];
	o->ehdr.e_phnum = tls_size ? 4 : 3;
	o->phdr[0] = (Elf64_Phdr){.p_type = PT_LOAD, .p_flags = PF_R, .p_filesz = sizeof *o, .p_memsz = sizeof *o, .p_align = 4096};
	o->phdr[1] = (Elf64_Phdr){.p_type = PT_DYNAMIC, .p_flags = PF_R, .p_offset = offsetof(struct tiny_object, dyn),
	                          .p_vaddr = offsetof(struct tiny_object, dyn), .p_filesz = sizeof o->dyn, .p_memsz = sizeof o->dyn, .p_align = 8};
	o->phdr[2] = (Elf64_Phdr){.p_type = PT_GNU_STACK, .p_flags = stack_flags, .p_align = 16};
	// At address 0, so that the block's first byte is aligned.
	o->phdr[3] = (Elf64_Phdr){.p_type = PT_TLS, .p_flags = PF_R, .p_memsz = tls_size, .p_align = tls_align};
	o->dyn[0] = (Elf64_Dyn){.d_tag = DT_STRTAB, .d_un.d_ptr = offsetof(struct tiny_object, str)};
	o->dyn[1] = (Elf64_Dyn){.d_tag = DT_STRSZ, .d_un.d_val = sizeof o->str};
	o->dyn[2] = (Elf64_Dyn){.d_tag = DT_SYMTAB, .d_un.d_ptr = offsetof(struct tiny_object, sym)};
	o->dyn[3] = (Elf64_Dyn){.d_tag = DT_SYMENT, .d_un.d_val = sizeof o->sym[0]};
	o->dyn[4] = (Elf64_Dyn){.d_tag = DT_NULL};
}

// tiny_object_fd writes o to a new memory file, whose descriptor it
// returns, or -errno.
static int tiny_object_fd(const struct tiny_object *o, const char *name, unsigned flags) {
	int fd = memfd_create(name, flags);
	if (fd < 0)
		return -errno;
	if (write(fd, o, sizeof *o) != (ssize_t)sizeof *o) {
		int e = errno ? errno : EIO;
		close(fd);
		return -e;
	}
	return fd;
}

// ldgo_tls_module makes the static TLS module (see "static TLS of the
// program") of size bytes aligned to align: a memory file left open
// across execve, for the next start of ldgo to preload.
int ldgo_tls_module(uint64_t size, uint64_t align) {
	struct tiny_object o;
	tiny_object_init(&o, PF_R | PF_W, size, align);
	return tiny_object_fd(&o, "ldgo-static-tls", 0);
}

// ldgo_make_stacks_executable does for ldgo's objects what glibc does for
// its own that ask for an executable stack (PT_GNU_STACK with PF_X): it
// has glibc's own dlopen load an object that asks for one, which makes
// the stacks executable as only glibc can, the main thread's
// (_dl_make_stack_executable) and every thread's, those running and those
// to come (its private GL(dl_stack_flags) gains PF_X). It returns NULL,
// or glibc's error text (malloc'ed).
char *ldgo_make_stacks_executable(void) {
	static int done;
	if (done)
		return NULL;
	struct tiny_object o;
	tiny_object_init(&o, PF_R | PF_W | PF_X, 0, 0);
	int fd = tiny_object_fd(&o, "ldgo-execstack", MFD_CLOEXEC);
	if (fd < 0)
		return ldgo_strdup(strerror(-fd));
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	close(fd);
	if (!h) {
		const char *e = dlerror();
		return ldgo_strdup(e ? e : "dlopen failed");
	}
	dlclose(h);
	done = 1;
	return NULL;
}

int ldgo_enter(struct ldgo_start *s) {
	start = s;
	dl_server_tid = ldgo_dl_wait_server();
	// freeze_threads sleeps 20 us between rounds; with the default timer
	// slack of 50 us each sleep lasted three times that. The thread's
	// slack goes back to its default, the program's, right after.
	prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
	int err = freeze_threads();
	prctl(PR_SET_TIMERSLACK, 0, 0, 0, 0);
	if (err)
		return err;
	reset_signals();
	if (debug.statistics)
		startup_statistics();
	restore_default_stacks();
	static_tls_fill();
	if (orig_nofile_ok)
		setrlimit(RLIMIT_NOFILE, &orig_nofile);

	// argc, argv, NULL, envp, NULL, auxv: below this frame, 16-aligned.
	uint64_t nenv = 0;
	while (s->envp[nenv])
		nenv++;
	uint64_t words = 1 + s->argc + 1 + nenv + 1 + s->nauxv;
	uint64_t *sp = __builtin_alloca((words + 2) * 8 + 4096);
	sp = (uint64_t *)(((uintptr_t)sp + 15) & ~(uintptr_t)15);
	uint64_t *w = sp;
	*w++ = s->argc;
	for (uint64_t i = 0; i < s->argc; i++)
		*w++ = (uint64_t)s->argv[i];
	*w++ = 0;
	for (uint64_t i = 0; i < nenv; i++)
		*w++ = (uint64_t)s->envp[i];
	*w++ = 0;
	for (uint64_t i = 0; i < s->nauxv; i++)
		*w++ = s->auxv[i];
	environ = (char **)(sp + 1 + s->argc + 1);
	ldgo_jump(s->entry, sp);
}

extern char ldgo_plt_trampoline[], ldgo_tls_get_addr[], ldgo_tlsdesc_static[], ldgo_tlsdesc_undefweak[],
    ldgo_tlsdesc_dynamic[];

uintptr_t ldgo_addr_tlsdesc_dynamic(void) { return (uintptr_t)ldgo_tlsdesc_dynamic; }

// ldgo_new_tls_index is the argument of a dynamic TLS descriptor.
uintptr_t ldgo_new_tls_index(uint64_t module, uint64_t offset) {
	uint64_t *ti = malloc(2 * sizeof *ti);
	if (!ti)
		return 0;
	ti[0] = module;
	ti[1] = offset;
	return (uintptr_t)ti;
}

uintptr_t ldgo_addr_trampoline(void) { return (uintptr_t)ldgo_plt_trampoline; }
uintptr_t ldgo_addr_tls_get_addr(void) { return (uintptr_t)ldgo_tls_get_addr; }
uintptr_t ldgo_addr_tlsdesc_static(void) { return (uintptr_t)ldgo_tlsdesc_static; }
uintptr_t ldgo_addr_tlsdesc_undefweak(void) { return (uintptr_t)ldgo_tlsdesc_undefweak; }
uintptr_t ldgo_addr_start_main(void) { return (uintptr_t)ldgo_start_main; }
