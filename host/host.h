// Interface between the host package's Go and C parts.
#ifndef LDGO_HOST_H
#define LDGO_HOST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct link_map;

// One object the system's ld.so has in this process.
struct ldgo_hostobj {
	const char *name;
	uintptr_t addr;
	const void *phdr;
	int phnum;
	uint64_t tls_modid;
	uintptr_t tls_data; // this thread's block, 0 if none
};

int ldgo_host_objects(struct ldgo_hostobj *out, int max);
int ldgo_leave_teardown(void);
uintptr_t ldgo_thread_pointer(void);
uintptr_t ldgo_call0(uintptr_t fn);

// A lazily bound object: what its PLT slots bind to, computed by the
// engine before the program starts; the resolver only installs it.
struct ldgo_lazy {
	uint64_t nslots;
	uint64_t *slot;     // GOT address of each slot
	uint64_t *target;   // what the slot binds to
	char **error;       // message for a slot that cannot be bound, or NULL
	char **trace;       // the lazy category's line, or NULL
	char **debug;       // LD_DEBUG's symbols and bindings lines (no pid), or NULL
	unsigned char *done;
	struct ldgo_audit_slot *audit; // with LD_AUDIT (audit.c), or NULL
};

struct ldgo_lazy *ldgo_lazy_new(uint64_t nslots);
// ldgo_lazy_resolve is what slot i binds to, its first call handled as
// the resolver handles it, the GOT left as it is.
uint64_t ldgo_lazy_resolve(struct ldgo_lazy *l, uint64_t i);
void ldgo_set_lazy_flags(int debug, int bind_not);
// Debug output (LD_DEBUG): where it goes, and what the C side prints.
struct ldgo_debug {
	int fd;
	int statistics, libs;
	uint64_t lookups, cache_hits; // at start-up, for the final statistics
	// The start-up statistics, printed at the hand-off to the program,
	// so that the total counts the parking of ldgo's threads too.
	uint64_t relocation, load, own_start; // cycles
	uint64_t relative, from_bind_cache, looked_ahead;
};
void ldgo_set_debug(struct ldgo_debug *d);
void ldgo_debug_line(const char *text); // each line with glibc's pid column
uint64_t ldgo_cycles(void);
void ldgo_cpuid(unsigned leaf, unsigned sub, unsigned out[4]);
uint64_t ldgo_start_cycles(void);
uint64_t ldgo_lazy_count(void);
char *ldgo_strdup(const char *s); // with ldgo's malloc, never the program's

// Dynamic TLS of objects ldgo loads: module ids from LDGO_TLS_BASE up.
#define LDGO_TLS_BASE 0x10000
uint64_t ldgo_tls_register(uintptr_t image, uint64_t filesz, uint64_t memsz, uint64_t align, uint64_t tpoff);
void ldgo_set_real_tls_get_addr(uintptr_t fn);

// ldgo's per-thread state, in static TLS.
#define LDGO_THREAD_STATE_SIZE 64
struct ldgo_thread {
	void **blocks; // the dynamic TLS blocks of ldgo's modules
	uint64_t nblocks;
	char *dlerror, *dlerror_shown; // dlerror's message, and the last returned
	int reading;                   // reads of the object table in progress
};
struct ldgo_thread *ldgo_self(void);

// Static TLS blocks (the program's own, and those of libraries ldgo
// loads): offsets up to capacity below the thread pointer, the first
// LDGO_STATIC_TLS_RESERVE bytes a reserve at the end of the ldgo
// executable's block, the rest (when ldgo was started with one) the block
// of a static TLS module preloaded right below it.
#define LDGO_STATIC_TLS_RESERVE 16384
struct ldgo_tls_area {
	uint64_t reserve;  // free below the thread pointer
	uint64_t own;      // the ldgo executable's block starts this far below it
	uint64_t capacity; // room for static TLS blocks: offsets up to this
	uint64_t align;    // the thread pointer's alignment
};
// ldgo_static_tls_area finds the area, module naming the static TLS
// module glibc preloaded ("" for none); NULL, or why it cannot.
const char *ldgo_static_tls_area(const char *module, struct ldgo_tls_area *out);
int ldgo_is_tls_module(uintptr_t base);
struct ldgo_tls_block {
	uintptr_t image;
	uint64_t filesz, memsz;
	uint64_t tpoff; // the block starts this far below the thread pointer
};
// ldgo_static_tls installs the blocks, and moves ldgo's thread state to
// state_off below the thread pointer unless that is 0; NULL, or why it
// cannot.
const char *ldgo_static_tls(struct ldgo_tls_block *blocks, uint64_t n, uint64_t state_off);
const char *ldgo_static_tls_late(struct ldgo_tls_block *b);
int ldgo_tls_module(uint64_t size, uint64_t align);
// The environment variable that names the module to the next start.
#define LDGO_TLS_MODULE_VAR "LDGO_TLS_MODULE"
// ldgo_own_stack_size is the stack size for a thread of ldgo's own.
size_t ldgo_own_stack_size(void);
// Around Go code on a thread whose static TLS blocks may cover the Go
// runtime's g pointer: a thread made for Go starts with none; on another,
// ldgo_go_enter puts Go's back and ldgo_go_leave the program's bytes.
void ldgo_go_thread_start(void);
void ldgo_go_enter(uint64_t *saved);
void ldgo_go_leave(const uint64_t *saved);

// Initializers and finalizers.
enum { LDGO_FN_ONE, LDGO_FN_ARRAY, LDGO_FN_AUDIT_CLOSE, LDGO_FN_AUDIT_ACTIVITY };
struct ldgo_fn {
	// LDGO_FN_ONE: one function; LDGO_FN_ARRAY: an array of count
	// functions; at exit and dlclose, LDGO_FN_AUDIT_CLOSE: la_objclose
	// for the object whose struct ldgo_audit_obj is addr, and
	// LDGO_FN_AUDIT_ACTIVITY: la_activity with flag addr.
	uint64_t kind;
	uint64_t addr;
	uint64_t count;
	const char *object; // the first of an object's: its name, for LD_DEBUG=libs
	uint64_t owner;     // the object's serial: dlclose removes its finalizers
};

struct ldgo_start {
	uint64_t entry;
	uint64_t argc;
	char **argv;
	char **envp;
	uint64_t *auxv; // pairs, AT_NULL-terminated
	uint64_t nauxv; // words, including the terminating pair
	struct ldgo_fn *inits; // preinit and libraries, in order
	uint64_t ninits;
	struct ldgo_fn *exe_inits; // the program's DT_INIT and DT_INIT_ARRAY
	uint64_t nexe_inits;
	struct ldgo_fn *finis; // in the order they run
	uint64_t nfinis;
	uint64_t *environ_slots;
	uint64_t nenviron_slots;
	uintptr_t freeze_lo[8], freeze_hi[8]; // libc and ld.so text: threads there are not frozen
	uint64_t nfreeze;
};

// The objects of the program's namespace, for dl_iterate_phdr,
// _dl_find_object and dladdr.
struct ldgo_object {
	const char *name; // as glibc's l_name: "" for the program
	uintptr_t base;
	uintptr_t phdr;
	int phnum;
	int adopted; // loaded by glibc's ld.so: glibc answers for it
	uintptr_t dynamic;
	uintptr_t map_start, map_end;
	uintptr_t eh_frame; // PT_GNU_EH_FRAME, or 0
	uint64_t tls_modid, tls_tpoff;
	uintptr_t symtab, strtab;
	uint64_t nsyms, strsz;
	uintptr_t lm; // its struct link_map: the dlopen handle
	const char *origin; // its directory, for dlinfo's RTLD_DI_ORIGIN
	const char *serpath; // RTLD_DI_SERINFO's directories, NUL-separated
	uint32_t nserpath;
};
void ldgo_wait_object_readers(void);
void ldgo_set_objects(struct ldgo_object *o, uint64_t n, const char *prog);
uintptr_t ldgo_object_lm(uint64_t i);
void ldgo_set_real_dl(uintptr_t iterate, uintptr_t find_object, uintptr_t dladdr1);
void *ldgo_tls_block(uint64_t modid);
uintptr_t ldgo_addr_dl_iterate_phdr(void);
uintptr_t ldgo_addr_dl_find_object(void);
uintptr_t ldgo_addr_dladdr(void);
uintptr_t ldgo_addr_dladdr1(void);

// dlopen and friends, served by the engine on a thread of its own,
// started at a process's first call.
enum { LDGO_DL_OPEN = 1, LDGO_DL_SYM, LDGO_DL_CLOSE, LDGO_DL_UNLOAD };
struct ldgo_dlreq {
	int op;
	const char *name; // the file (OPEN) or symbol (SYM)
	const char *version;
	int mode;
	int next; // RTLD_NEXT
	uintptr_t handle, caller;
	// Results.
	uintptr_t result;
	uint64_t tls_modid, tls_offset; // a TLS symbol: its module and offset
	char *error;                    // malloc'ed
	struct ldgo_fn *inits, *finis;
	uint64_t ninits, nfinis;
	uint64_t *owners; // objects dlclose unloads (CLOSE's result, UNLOAD's argument)
	uint64_t nowners;
};
void ldgo_dl_ready(void);
void ldgo_dl_server_started(void); // StartDLServer's goroutine is on its way
void ldgo_dl_serve(void);          // the server's loop, on a thread of Go's
pid_t ldgo_dl_wait_server(void);   // waits for the server; its thread id
void ldgo_dl_lock(void);
void ldgo_dl_unlock(void);
void ldgo_run_inits(struct ldgo_fn *fns, uint64_t n);
void ldgo_add_finis(struct ldgo_fn *fns, uint64_t n);
void ldgo_remove_finis(uint64_t *owners, uint64_t n);
void ldgo_run_finis(struct ldgo_fn *fns, uint64_t n);
int ldgo_finishing(void); // the finalizers run at exit: nothing is unloaded
char **ldgo_dlerror_slot(void);
char **ldgo_dlerror_shown_slot(void);
uintptr_t ldgo_addr_dl(int which);

// Addresses of the routines offered to programs.
uintptr_t ldgo_addr_trampoline(void);
uintptr_t ldgo_addr_tls_get_addr(void);
uintptr_t ldgo_addr_tlsdesc_static(void);
uintptr_t ldgo_addr_tlsdesc_undefweak(void);
uintptr_t ldgo_addr_tlsdesc_dynamic(void);
uintptr_t ldgo_new_tls_index(uint64_t module, uint64_t offset);
uintptr_t ldgo_addr_start_main(void);

// ldgo_enter hands the process to the program; it does not return
// unless it fails before the hand-off (then it returns an errno).
int ldgo_enter(struct ldgo_start *s);
char *ldgo_make_stacks_executable(void);

// ldgo run --calls (calls.c): counting stubs for PLT slots, and the
// report printed at exit.
#define LDGO_CALLS_STUB 24
struct ldgo_calls_config {
	int on, json;
	const char *path;    // the report's file, "" for standard error
	const char *program; // as the report names it
	uint64_t uncounted;  // GOT references to functions, not counted
};
void ldgo_calls_configure(const struct ldgo_calls_config *c);
uintptr_t ldgo_calls_stubs(uint64_t n, const uint64_t *targets, const char **names);
void ldgo_calls_begin(void);
void ldgo_calls_report(void);
uintptr_t ldgo_addr_calls_exit(void);

// LD_AUDIT (audit.c), renamed in ldgo's own environment (host.c).
#define LDGO_AUDIT_VAR "LDGO_LD_AUDIT"
#define LDGO_MAX_AUDIT 16
struct link_map;
// An object's state for each audit library: the cookie, and the flags
// la_objopen returned.
struct ldgo_audit_obj {
	struct link_map *lm;
	uintptr_t cookie[LDGO_MAX_AUDIT];
	unsigned bindflags[LDGO_MAX_AUDIT];
	int any; // some flags not 0: bindings of it are looked at
};
// A lazily bound PLT slot as the audit sees it (glibc's reloc_result).
struct ldgo_audit_slot {
	struct ldgo_audit_obj *ref, *def; // NULL ref: not audited
	const void *sym;                  // the definition's Elf64_Sym
	unsigned ndx;
	const char *name;
	uint64_t value; // what la_symbind returned
	unsigned flags, enterexit;
	int init;
};
unsigned ldgo_audit_version(uintptr_t la_version, unsigned v);
int ldgo_audit_add(const uintptr_t fns[8]);
unsigned ldgo_audit_count(void);
uintptr_t ldgo_audit_link_map(const char *name, uintptr_t base, uintptr_t dynamic, int adopted);
struct ldgo_audit_obj *ldgo_audit_objopen(uintptr_t lm, long lmid);
const char *ldgo_audit_objsearch(const char *name, struct ldgo_audit_obj *o, unsigned flag);
void ldgo_audit_activity(unsigned flag);
void ldgo_audit_activity_of(struct ldgo_audit_obj *head, unsigned flag);
void ldgo_audit_preinit(void);
void ldgo_audit_objclose(struct ldgo_audit_obj *o);
uint64_t ldgo_audit_symbind_now(struct ldgo_audit_obj *ref, struct ldgo_audit_obj *def, uintptr_t sym, unsigned ndx,
                                uintptr_t name, uint64_t value);
uint64_t ldgo_audit_symbind_dlsym(struct ldgo_audit_obj *ref, struct ldgo_audit_obj *def, uintptr_t sym, unsigned ndx,
                                  uintptr_t name, uint64_t value);
void ldgo_audit_slots(struct ldgo_lazy *l);
void ldgo_audit_set_slot(struct ldgo_lazy *l, uint64_t i, struct ldgo_audit_obj *ref, struct ldgo_audit_obj *def,
                         uintptr_t sym, unsigned ndx, uintptr_t name);
uint64_t ldgo_audit_lazy_symbind(struct ldgo_lazy *l, uint64_t i, uint64_t value);
uintptr_t ldgo_addr_audit_trampoline(void);
void ldgo_set_args(int argc, char **argv, char **envp);

// The launch plan as the executor carries it out (package plan's model),
// each object's place in this process filled in by the caller (plan.go).
enum {
	LDGO_PLAN_ABSOLUTE,
	LDGO_PLAN_IN_OBJECT,
	LDGO_PLAN_IFUNC,
	LDGO_PLAN_EXECUTOR,
	LDGO_PLAN_TLS_INDEX,
	LDGO_PLAN_TLS_OFFSET,
	LDGO_PLAN_TLS_MODULE,
	LDGO_PLAN_UNRESOLVED,
};
struct ldgo_plan_target {
	uint64_t kind, object, off;
};
struct ldgo_plan_object {
	uint64_t base, tls_offset, tls_modid;
	// adopted: in the process already (libc, ld.so, the vDSO), relocated
	// by the system's ld.so: only its words that bind it to an object
	// of the plan's are written, its RELRO [relro_lo, relro_hi) opened
	// for them.
	uint64_t adopted, relro_lo, relro_hi;
	struct ldgo_lazy *lazy; // its lazy table, or NULL
	uint64_t pltgot;        // DT_PLTGOT, with a lazy table
};
struct ldgo_plan_write {
	uint64_t object, off;
	struct ldgo_plan_target value;
};
struct ldgo_plan_lazy {
	uint64_t object, slot, off;
	struct ldgo_plan_target target;
};
struct ldgo_plan_subst {
	uint64_t from, to; // sorted by from
};
struct ldgo_plan {
	struct ldgo_plan_object *objects;
	uint64_t nobjects;
	struct ldgo_plan_write *writes; // the IFUNC ones last
	uint64_t nwrites;
	struct ldgo_plan_lazy *lazy;
	uint64_t nlazy;
	struct ldgo_plan_subst *subst;
	uint64_t nsubst;
	uint64_t got2; // GOT[2] of lazily bound objects: the resolver's trampoline
	// Out: what ldgo_plan_exec did.
	uint64_t written, skipped;
	const char *error;
};
int ldgo_plan_exec(struct ldgo_plan *p);

// An object of a launch plan to map from its file: the file's identity
// as the plan recorded it (the status, and the build-id, build_id_len
// bytes), and its PT_LOAD segments.
struct ldgo_plan_segment {
	uint64_t off, vaddr, filesz, memsz, prot; // prot: PF_R, PF_W, PF_X bits
};
struct ldgo_plan_file {
	const char *path;
	uint64_t dev, ino, size;
	int64_t mtime, ctime; // nanoseconds
	const unsigned char *build_id;
	uint64_t build_id_len;
	struct ldgo_plan_segment *segs;
	uint64_t nsegs;
	uint64_t fixed; // linked at fixed addresses (ET_EXEC): mapped there
};
// ldgo_plan_map maps f and returns its base in *base; -1 with *error
// set if the file is not the one the plan was made for or cannot be
// mapped.
int ldgo_plan_map(const struct ldgo_plan_file *f, uint64_t *base, const char **error);
enum { LDGO_MAP_RESERVE = 1, LDGO_MAP_SEGMENT, LDGO_MAP_ZERO };
int ldgo_map_segments(int fd, const struct ldgo_plan_segment *segs, uint64_t nsegs, int fixed, uint64_t *base);

#endif
