// The objects ldgo loaded, as the program's introspection sees them:
// dl_iterate_phdr, _dl_find_object, dladdr and dladdr1 bound in place of
// glibc's, which only know the objects glibc's ld.so loaded. The C++
// unwinder finds a frame's unwind tables through _dl_find_object (or
// dl_iterate_phdr), so without these an exception thrown in ldgo-loaded
// code ends the program.

#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

// The objects, in a table replaced whole at every dlopen and dlclose
// while other threads may be reading the one before: readers count
// themselves in, and tables replaced are freed only when none reads.
struct objtab {
	uint64_t n;
	struct ldgo_object *o;
	struct objtab *retired; // tables replaced, not yet freed
};
static struct objtab *table;
static int readers;
static int caller_reading;     // the reads of the thread whose dl* call runs
static const char *progname; // dladdr names the program by its argv[0]

static struct objtab *read_begin(void) {
	ldgo_self()->reading++;
	__atomic_add_fetch(&readers, 1, __ATOMIC_SEQ_CST);
	return __atomic_load_n(&table, __ATOMIC_SEQ_CST);
}

static void read_end(void) {
	__atomic_sub_fetch(&readers, 1, __ATOMIC_SEQ_CST);
	ldgo_self()->reading--;
}

// The functions ldgo stands in for, for everything it does not know.
static int (*real_iterate)(int (*)(struct dl_phdr_info *, size_t, void *), void *);
static int (*real_find_object)(void *, struct dl_find_object *);
static int (*real_dladdr1)(const void *, Dl_info *, void **, int);

void ldgo_set_real_dl(uintptr_t iterate, uintptr_t find_object, uintptr_t dladdr1) {
	real_iterate = (void *)iterate;
	real_find_object = (void *)find_object;
	real_dladdr1 = (void *)dladdr1;
}

// ldgo_set_objects records the loaded objects in load order, the adopted
// ones (libc, ld.so, the vDSO) included; objs[i].lm is filled here: the
// adopted objects' link maps are glibc's, the others get one of their own
// holding the public fields.
void ldgo_set_objects(struct ldgo_object *o, uint64_t n, const char *prog) {
	progname = prog;
	struct link_map *prev = NULL;
	for (uint64_t i = 0; i < n; i++) {
		if (o[i].lm) {
			if (!o[i].adopted)
				prev = (struct link_map *)o[i].lm;
			continue; // given again after a dlopen
		}
		if (o[i].adopted) {
			for (struct link_map *l = _r_debug.r_map; l; l = l->l_next)
				if (l->l_addr == o[i].base && l->l_name[0] != 0)
					o[i].lm = (uintptr_t)l;
			continue;
		}
		struct link_map *l = calloc(1, sizeof *l);
		l->l_addr = o[i].base;
		l->l_name = (char *)o[i].name;
		l->l_ld = (ElfW(Dyn) *)o[i].dynamic;
		l->l_prev = prev;
		if (prev)
			prev->l_next = l;
		prev = l;
		o[i].lm = (uintptr_t)l;
	}
	struct objtab *t = malloc(sizeof *t);
	t->n = n;
	t->o = o;
	t->retired = table; // with those it retired
	__atomic_store_n(&table, t, __ATOMIC_SEQ_CST);
	// A reader counted in now reads the new table.
	if (__atomic_load_n(&readers, __ATOMIC_SEQ_CST) == 0) {
		for (struct objtab *r = t->retired, *next; r; r = next) {
			next = r->retired;
			free(r->o);
			free(r);
		}
		t->retired = NULL;
	}
}

uintptr_t ldgo_object_lm(uint64_t i) { return table->o[i].lm; }

// ldgo_wait_object_readers returns once no thread reads a table older
// than the current one: what only those name can be unmapped. The thread
// whose call this serves is not waited for: a dl_iterate_phdr callback
// may call dlclose (and must not look at what it closed, as with glibc).
void ldgo_wait_object_readers(void) {
	while (__atomic_load_n(&readers, __ATOMIC_SEQ_CST) > __atomic_load_n(&caller_reading, __ATOMIC_SEQ_CST))
		sched_yield();
}

static void *tls_data(struct ldgo_object *o) {
	if (!o->tls_modid)
		return NULL;
	if (o->tls_tpoff)
		return (char *)ldgo_thread_pointer() - o->tls_tpoff;
	return ldgo_tls_block(o->tls_modid);
}

// glibc's view, copied: the adopted objects' entries carry glibc's
// bookkeeping and this thread's TLS block.
#define MAX_REAL 128
struct real_list {
	struct dl_phdr_info info[MAX_REAL];
	int n;
};

static int collect_cb(struct dl_phdr_info *info, size_t size, void *data) {
	struct real_list *l = data;
	(void)size;
	if (l->n < MAX_REAL)
		l->info[l->n++] = *info;
	return 0;
}

// ldgo_dl_iterate_phdr reports the namespace in load order, as glibc's
// would in a native run: the program and the libraries ldgo loaded, with
// glibc's own entries for the adopted ones in their places, then what
// glibc loaded for the program since (dlopen). The ldgo executable is not
// the program's and is left out.
int ldgo_dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *data) {
	struct real_list real;
	real.n = 0;
	real_iterate(collect_cb, &real);
	struct objtab *t = read_begin();
	unsigned long long adds = 0, subs = 0;
	if (real.n > 0)
		adds = real.info[0].dlpi_adds + t->n, subs = real.info[0].dlpi_subs;
	char used[MAX_REAL] = {0};
	int r = 0;
	for (uint64_t i = 0; i < t->n && !r; i++) {
		struct ldgo_object *o = &t->o[i];
		struct dl_phdr_info info;
		memset(&info, 0, sizeof info);
		if (o->adopted) {
			int k;
			for (k = 0; k < real.n; k++)
				if (!used[k] && real.info[k].dlpi_addr == o->base && real.info[k].dlpi_name[0] != 0)
					break;
			if (k == real.n)
				continue;
			used[k] = 1;
			info = real.info[k];
		} else {
			info.dlpi_addr = o->base;
			info.dlpi_name = o->name;
			info.dlpi_phdr = (const ElfW(Phdr) *)o->phdr;
			info.dlpi_phnum = o->phnum;
			info.dlpi_tls_modid = o->tls_modid;
			info.dlpi_tls_data = tls_data(o);
		}
		info.dlpi_adds = adds;
		info.dlpi_subs = subs;
		r = cb(&info, sizeof info, data);
	}
	read_end();
	if (r)
		return r;
	for (int k = 0; k < real.n; k++) {
		if (used[k] || real.info[k].dlpi_name[0] == 0 || ldgo_is_tls_module(real.info[k].dlpi_addr))
			continue;
		struct dl_phdr_info info = real.info[k];
		info.dlpi_adds = adds;
		info.dlpi_subs = subs;
		int r = cb(&info, sizeof info, data);
		if (r)
			return r;
	}
	return 0;
}

static struct ldgo_object *containing(struct objtab *t, uintptr_t addr) {
	for (uint64_t i = 0; i < t->n; i++) {
		struct ldgo_object *o = &t->o[i];
		if (!o->adopted && addr >= o->map_start && addr < o->map_end)
			return o;
	}
	return NULL;
}

int ldgo_dl_find_object(void *pc, struct dl_find_object *result) {
	struct objtab *t = read_begin();
	struct ldgo_object *o = containing(t, (uintptr_t)pc);
	if (o) {
		memset(result, 0, sizeof *result);
		result->dlfo_map_start = (void *)o->map_start;
		result->dlfo_map_end = (void *)o->map_end;
		result->dlfo_link_map = (struct link_map *)o->lm;
		result->dlfo_eh_frame = (void *)o->eh_frame;
	}
	read_end();
	return o ? 0 : real_find_object(pc, result);
}

// inside reports whether addr is in one of o's PT_LOAD segments, as
// glibc's _dl_addr_inside_object decides.
static int inside(struct ldgo_object *o, uintptr_t addr) {
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)o->phdr;
	for (int i = 0; i < o->phnum; i++)
		if (ph[i].p_type == PT_LOAD && addr - o->base - ph[i].p_vaddr < ph[i].p_memsz)
			return 1;
	return 0;
}

// ldgo_dladdr1 answers as glibc's _dl_addr does: the object holding
// addr, and of its exported symbols the one with the highest value that
// covers addr (or sits at it, for symbols without size).
int ldgo_dladdr1(const void *address, Dl_info *info, void **extra, int flags) {
	uintptr_t addr = (uintptr_t)address;
	struct objtab *t = read_begin();
	struct ldgo_object *o = NULL;
	for (uint64_t i = 0; i < t->n && !o; i++)
		if (!t->o[i].adopted && inside(&t->o[i], addr))
			o = &t->o[i];
	if (!o) {
		read_end();
		return real_dladdr1(address, info, extra, flags);
	}

	info->dli_fname = o->name[0] ? o->name : progname;
	info->dli_fbase = (void *)o->map_start;
	const ElfW(Sym) *symtab = (const ElfW(Sym) *)o->symtab;
	const ElfW(Sym) *match = NULL;
	for (uint64_t i = 1; i < o->nsyms; i++) {
		const ElfW(Sym) *s = &symtab[i];
		if (ELF64_ST_BIND(s->st_info) == STB_LOCAL)
			continue;
		if (s->st_shndx == SHN_UNDEF && s->st_value == 0)
			continue;
		if (s->st_shndx == SHN_ABS || ELF64_ST_TYPE(s->st_info) == STT_TLS || s->st_name >= o->strsz)
			continue;
		uintptr_t v = o->base + s->st_value;
		if (addr < v)
			continue;
		int covers = (s->st_shndx == SHN_UNDEF || s->st_size == 0) ? addr == v : addr < v + s->st_size;
		if (covers && (!match || match->st_value < s->st_value))
			match = s;
	}
	info->dli_sname = match ? (const char *)o->strtab + match->st_name : NULL;
	info->dli_saddr = match ? (void *)(o->base + match->st_value) : NULL;
	if (flags == RTLD_DL_SYMENT)
		*extra = (void *)match;
	else if (flags == RTLD_DL_LINKMAP)
		*extra = (void *)o->lm;
	read_end();
	return 1;
}

int ldgo_dladdr(const void *address, Dl_info *info) { return ldgo_dladdr1(address, info, NULL, 0); }

uintptr_t ldgo_addr_dl_iterate_phdr(void) { return (uintptr_t)ldgo_dl_iterate_phdr; }
uintptr_t ldgo_addr_dl_find_object(void) { return (uintptr_t)ldgo_dl_find_object; }
uintptr_t ldgo_addr_dladdr(void) { return (uintptr_t)ldgo_dladdr; }
uintptr_t ldgo_addr_dladdr1(void) { return (uintptr_t)ldgo_dladdr1; }

// ---- dlopen, dlsym, dlvsym, dlclose, dlerror ----
//
// The engine that loaded the program answers these too, so that objects
// a program opens are found, bound and scoped as glibc would. It is Go,
// and the Go runtime's own threads are parked for good once the program
// runs: a server thread waits here for requests and runs the engine for
// them. A caller's thread hands its request over and waits. Only the
// server enters Go, so it alone needs the runtime's resources: an M and a
// P of its own, kept between requests.
//
// The server is a thread of the Go runtime's, locked to a goroutine that
// StartDLServer starts before the program is loaded and that waits here
// in a cgo call; it is not parked. Its requests enter Go as callbacks on
// an M the runtime made, which call no C. A thread created by C would, at
// its first callback, ask libc for its stack bounds (pthread_getattr_np),
// and libc allocates with the program's malloc when the program has one:
// a malloc that calls dlsym, as interposers do, would wait for the server
// it runs on. A request made on the server itself (an IFUNC resolver the
// engine calls asking dlsym) is answered there, nested, as glibc's
// recursive lock lets a dlsym in during a dlopen.
//
// A child created by fork has only the thread that called fork: that
// thread runs the engine itself, as the server does, with signals blocked
// (it is most often the one that entered the program, whose M and P it
// takes back); the child's other threads, if any call, get a server of
// the child's own, created by C.
//
// One lock, held by a caller for the whole of a dlopen or dlclose
// (initializers and finalizers included) and recursive, as glibc holds
// its dl_load_lock, orders the calls.

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "_cgo_export.h"

static pthread_mutex_t dl_mu = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_mutex_t srv_mu = PTHREAD_MUTEX_INITIALIZER; // pending and served
static pthread_cond_t srv_cv = PTHREAD_COND_INITIALIZER;
static struct ldgo_dlreq *pending;
static int served;
static int dl_ready;
static pid_t ready_pid;  // the process ServeDL prepared
static int server_started;
static pthread_t forker;  // in a fork child, the thread that called fork
// The Go server: whether StartDLServer started it and, once it waits
// here, its thread and kernel thread id, and a futex word the hand-off
// waits on.
static int go_server_started;
static pthread_t go_server;
static pid_t go_server_tid;
static int go_server_up;

static void *serve(void *unused) {
	(void)unused;
	ldgo_go_thread_start();
	for (;;) {
		pthread_mutex_lock(&srv_mu);
		while (!pending || served)
			pthread_cond_wait(&srv_cv, &srv_mu);
		struct ldgo_dlreq *r = pending;
		pthread_mutex_unlock(&srv_mu);
		ldgoServe(r);
		pthread_mutex_lock(&srv_mu);
		served = 1;
		pthread_cond_broadcast(&srv_cv);
		pthread_mutex_unlock(&srv_mu);
	}
	return NULL;
}

// ldgo_dl_serve is the Go server's loop; it does not return. Signals are
// the program's, for its threads: the server blocks them all.
void ldgo_dl_serve(void) {
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	go_server = pthread_self();
	go_server_tid = syscall(SYS_gettid);
	__atomic_store_n(&go_server_up, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &go_server_up, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
	serve(NULL);
}

void ldgo_dl_server_started(void) { __atomic_store_n(&go_server_started, 1, __ATOMIC_RELEASE); }

// ldgo_dl_wait_server waits until the Go server waits for requests, and
// returns its thread id; 0 if none was started.
pid_t ldgo_dl_wait_server(void) {
	if (!__atomic_load_n(&go_server_started, __ATOMIC_ACQUIRE))
		return 0;
	while (!__atomic_load_n(&go_server_up, __ATOMIC_ACQUIRE))
		syscall(SYS_futex, &go_server_up, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	return go_server_tid;
}

// A fork waits for a dl* call in progress, so that the child's locks are
// free: the threads that held them are not in the child.
static void fork_prepare(void) { pthread_mutex_lock(&dl_mu); }
static void fork_parent(void) { pthread_mutex_unlock(&dl_mu); }
static void fork_child(void) {
	pthread_mutex_t recursive = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP, plain = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	dl_mu = recursive;
	srv_mu = plain;
	srv_cv = cv;
	pending = NULL;
	server_started = 0;
	forker = pthread_self();
}

// The fork handlers are registered while ldgo starts, before the program
// can have a malloc of its own: registering may allocate.
__attribute__((constructor)) static void ldgo_dl_atfork(void) { pthread_atfork(fork_prepare, fork_parent, fork_child); }

void ldgo_dl_ready(void) {
	ready_pid = getpid();
	__atomic_store_n(&dl_ready, 1, __ATOMIC_RELEASE);
}

// start_server starts a fork child's server, with dl_mu held. Signals
// are blocked in it from the start.
static const char *start_server(void) {
	if (server_started)
		return NULL;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (ldgo_own_stack_size())
		pthread_attr_setstacksize(&attr, ldgo_own_stack_size());
	pthread_t t;
	int err = pthread_create(&t, &attr, serve, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return "ldgo: cannot start the thread that serves dlopen";
	server_started = 1;
	return NULL;
}

// on_server reports whether this is the Go server's thread: then a
// request is being served, for a caller that holds dl_mu, and the engine
// has called code that calls dl* again (an IFUNC resolver asking dlsym).
// A lookup is answered there, nested, as glibc's recursive lock lets a
// dlsym in during a dlopen; a change of the namespace in the middle of
// another is refused.
static int on_server(void) { return getpid() == ready_pid && pthread_equal(pthread_self(), go_server); }

static const char nested_change[] = "ldgo: dlopen and dlclose cannot be called while ldgo loads or unloads (from an IFUNC resolver)";

void ldgo_dl_lock(void) { pthread_mutex_lock(&dl_mu); }
void ldgo_dl_unlock(void) { pthread_mutex_unlock(&dl_mu); }

// dl_call has the server run r; dl_mu is held.
static void dl_call(struct ldgo_dlreq *r) {
	if (!__atomic_load_n(&dl_ready, __ATOMIC_ACQUIRE)) {
		r->error = ldgo_strdup("ldgo: dlopen and dlsym are not available before the program starts");
		return;
	}
	int forked = getpid() != ready_pid;
	__atomic_store_n(&caller_reading, ldgo_self()->reading, __ATOMIC_SEQ_CST);
	if (forked && pthread_equal(pthread_self(), forker)) {
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		uint64_t saved;
		ldgo_go_enter(&saved);
		ldgoServe(r);
		ldgo_go_leave(&saved);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return;
	}
	if (forked) {
		const char *err = start_server();
		if (err) {
			r->error = ldgo_strdup(err);
			return;
		}
	}
	pthread_mutex_lock(&srv_mu);
	pending = r;
	served = 0;
	pthread_cond_broadcast(&srv_cv);
	while (!served)
		pthread_cond_wait(&srv_cv, &srv_mu);
	pending = NULL;
	pthread_mutex_unlock(&srv_mu);
}

static void set_dlerror(char *msg) {
	char **slot = ldgo_dlerror_slot();
	free(*slot);
	*slot = msg;
}

char *ldgo_dlerror(void) {
	char **slot = ldgo_dlerror_slot(), **shown = ldgo_dlerror_shown_slot();
	free(*shown);
	*shown = *slot;
	*slot = NULL;
	return *shown;
}

void *ldgo_dlopen(const char *file, int mode) {
	struct ldgo_dlreq r = {.op = LDGO_DL_OPEN, .name = file, .mode = mode,
	                       .caller = (uintptr_t)__builtin_return_address(0)};
	if (on_server()) {
		set_dlerror(ldgo_strdup(nested_change));
		return NULL;
	}
	ldgo_dl_lock();
	dl_call(&r);
	if (r.error) {
		ldgo_dl_unlock();
		set_dlerror(r.error);
		return NULL;
	}
	ldgo_add_finis(r.finis, r.nfinis);
	ldgo_run_inits(r.inits, r.ninits);
	ldgo_dl_unlock();
	free(r.inits);
	return (void *)r.result;
}

typedef struct {
	uint64_t module, offset;
} dl_tls_index;
extern void *ldgo_tls_get_addr_c(dl_tls_index *ti);

static void *dl_sym(void *handle, const char *name, const char *version, uintptr_t caller) {
	struct ldgo_dlreq r = {.op = LDGO_DL_SYM, .name = name, .version = version,
	                       .handle = (uintptr_t)handle, .caller = caller};
	if (handle == RTLD_NEXT) {
		r.next = 1;
		r.handle = 0;
	}
	if (on_server()) {
		ldgoServe(&r);
	} else {
		ldgo_dl_lock();
		dl_call(&r);
		ldgo_dl_unlock();
	}
	if (r.error) {
		set_dlerror(r.error);
		return NULL;
	}
	if (r.tls_modid) {
		dl_tls_index ti = {r.tls_modid, r.tls_offset};
		return ldgo_tls_get_addr_c(&ti);
	}
	return (void *)r.result;
}

void *ldgo_dlsym(void *handle, const char *name) {
	return dl_sym(handle, name, NULL, (uintptr_t)__builtin_return_address(0));
}

void *ldgo_dlvsym(void *handle, const char *name, const char *version) {
	return dl_sym(handle, name, version, (uintptr_t)__builtin_return_address(0));
}

// ldgo_dlclose: the engine decides what goes; its finalizers run here,
// then the engine unmaps it.
int ldgo_dlclose(void *handle) {
	struct ldgo_dlreq r = {.op = LDGO_DL_CLOSE, .handle = (uintptr_t)handle};
	if (on_server()) {
		set_dlerror(ldgo_strdup(nested_change));
		return -1;
	}
	ldgo_dl_lock();
	if (ldgo_finishing()) {
		ldgo_dl_unlock();
		return 0;
	}
	dl_call(&r);
	if (r.error) {
		ldgo_dl_unlock();
		set_dlerror(r.error);
		return -1;
	}
	if (r.nowners == 0) {
		ldgo_dl_unlock();
		return 0;
	}
	ldgo_remove_finis(r.owners, r.nowners);
	ldgo_run_finis(r.finis, r.nfinis);
	struct ldgo_dlreq u = {.op = LDGO_DL_UNLOAD, .owners = r.owners, .nowners = r.nowners};
	dl_call(&u);
	ldgo_dl_unlock();
	free(r.owners);
	free(r.finis);
	if (u.error) {
		set_dlerror(u.error);
		return -1;
	}
	return 0;
}

// serinfo fills glibc's Dl_serinfo: counting, the number of directories
// and the bytes needed (the header, one Dl_serpath each, then the names);
// otherwise the entries, with the names stored after dls_cnt entries, as
// the caller sized the buffer from the count.
static void serinfo(struct ldgo_object *o, Dl_serinfo *si, int counting) {
	if (counting) {
		si->dls_cnt = 0;
		si->dls_size = 0;
	}
	char *names = (char *)&si->dls_serpath[si->dls_cnt];
	const char *dir = o->serpath;
	for (uint32_t i = 0; i < o->nserpath; i++) {
		size_t len = strlen(dir) + 1;
		if (counting) {
			si->dls_cnt++;
			si->dls_size += len;
		} else {
			memcpy(names, dir, len);
			si->dls_serpath[i].dls_name = names;
			si->dls_serpath[i].dls_flags = 0;
			names += len;
		}
		dir += len;
	}
	if (counting)
		si->dls_size += (char *)&si->dls_serpath[si->dls_cnt] - (char *)si;
}

// ldgo_dlinfo answers for every object of the namespace, adopted or not.
int ldgo_dlinfo(void *handle, int request, void *arg) {
	struct objtab *t = read_begin();
	struct ldgo_object *o = NULL;
	for (uint64_t i = 0; i < t->n && !o; i++)
		if (t->o[i].lm == (uintptr_t)handle)
			o = &t->o[i];
	int r = 0;
	const char *err = NULL;
	if (!o)
		err = "dlinfo: invalid handle";
	else
		switch (request) {
		case RTLD_DI_LMID:
			*(Lmid_t *)arg = LM_ID_BASE;
			break;
		case RTLD_DI_LINKMAP:
			*(struct link_map **)arg = (struct link_map *)o->lm;
			break;
		case RTLD_DI_ORIGIN:
			strcpy(arg, o->origin);
			break;
		case RTLD_DI_TLS_MODID:
			*(size_t *)arg = o->tls_modid;
			break;
		case RTLD_DI_TLS_DATA:
			*(void **)arg = tls_data(o);
			break;
		case RTLD_DI_PHDR:
			*(const ElfW(Phdr) **)arg = (const ElfW(Phdr) *)o->phdr;
			r = o->phnum;
			break;
		case RTLD_DI_SERINFOSIZE:
		case RTLD_DI_SERINFO:
			serinfo(o, arg, request == RTLD_DI_SERINFOSIZE);
			break;
		default:
			err = "unsupported dlinfo request";
		}
	read_end();
	if (err) {
		set_dlerror(ldgo_strdup(err));
		return -1;
	}
	return r;
}

uintptr_t ldgo_addr_dl(int which) {
	switch (which) {
	case 0:
		return (uintptr_t)ldgo_dlopen;
	case 1:
		return (uintptr_t)ldgo_dlsym;
	case 2:
		return (uintptr_t)ldgo_dlvsym;
	case 3:
		return (uintptr_t)ldgo_dlclose;
	case 4:
		return (uintptr_t)ldgo_dlerror;
	case 5:
		return (uintptr_t)ldgo_dlinfo;
	}
	return 0;
}
