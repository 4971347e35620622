// LD_AUDIT under ldgo run: the audit libraries' functions (rtld-audit(7))
// called where glibc's ld.so calls them, with glibc 2.36's rules
// (elf/dl-audit.c): each object's state per audit library (its cookie
// and the LA_FLG_* flags la_objopen returned), la_symbind for a binding
// from an object with LA_FLG_BINDFROM to one with LA_FLG_BINDTO, and for
// la_pltenter and la_pltexit a PLT trampoline (audit_trampoline.S) that
// every call of a lazily bound slot goes through, as glibc's
// _dl_runtime_profile.
//
// The Go side (rtld's audit.go) loads the libraries, each in a namespace
// of its own, and calls in here as objects are searched for, loaded and
// bound before the program starts, and as dlopen, dlsym and dlclose run;
// the first calls of PLT slots, the preinit and the exit come here from
// the program.

#define _GNU_SOURCE
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

typedef unsigned (*la_version_fn)(unsigned);
typedef void (*la_activity_fn)(uintptr_t *, unsigned);
typedef char *(*la_objsearch_fn)(const char *, uintptr_t *, unsigned);
typedef unsigned (*la_objopen_fn)(struct link_map *, Lmid_t, uintptr_t *);
typedef void (*la_preinit_fn)(uintptr_t *);
typedef uintptr_t (*la_symbind_fn)(ElfW(Sym) *, unsigned, uintptr_t *, uintptr_t *, unsigned *, const char *);
typedef ElfW(Addr) (*la_pltenter_fn)(ElfW(Sym) *, unsigned, uintptr_t *, uintptr_t *, La_x86_64_regs *, unsigned *,
                                     const char *, long *);
typedef unsigned (*la_pltexit_fn)(ElfW(Sym) *, unsigned, uintptr_t *, uintptr_t *, const La_x86_64_regs *,
                                  La_x86_64_retval *, const char *);
typedef unsigned (*la_objclose_fn)(uintptr_t *);

// An audit library's functions, in the order of glibc's audit_ifaces
// (and of ldgo_audit_add's argument).
struct auditor {
	la_activity_fn activity;
	la_objsearch_fn objsearch;
	la_objopen_fn objopen;
	la_preinit_fn preinit;
	la_symbind_fn symbind;
	la_pltenter_fn pltenter;
	la_pltexit_fn pltexit;
	la_objclose_fn objclose;
};

static struct auditor auditors[LDGO_MAX_AUDIT];
static unsigned naudit;
static struct ldgo_audit_obj *main_obj; // the namespace's head: la_activity's cookie

unsigned ldgo_audit_version(uintptr_t la_version, unsigned v) { return ((la_version_fn)la_version)(v); }

int ldgo_audit_add(const uintptr_t fns[8]) {
	if (naudit == LDGO_MAX_AUDIT)
		return -1;
	memcpy(&auditors[naudit], fns, sizeof auditors[0]);
	return (int)naudit++;
}

unsigned ldgo_audit_count(void) { return naudit; }

// ldgo_audit_link_map is the struct link_map la_objopen is given and
// dlopen returns: for an object glibc's ld.so loaded, glibc's own; for
// the others one with the public fields, chained in the order they come.
uintptr_t ldgo_audit_link_map(const char *name, uintptr_t base, uintptr_t dynamic, int adopted) {
	static struct link_map *last;
	if (adopted) {
		for (struct link_map *l = _r_debug.r_map; l; l = l->l_next)
			if (l->l_addr == base && (l->l_name[0] != 0 || name[0] == 0))
				return (uintptr_t)l;
	}
	struct link_map *l = calloc(1, sizeof *l);
	l->l_addr = base;
	l->l_name = ldgo_strdup(name);
	l->l_ld = (ElfW(Dyn) *)dynamic;
	l->l_prev = last;
	if (last)
		last->l_next = l;
	last = l;
	return (uintptr_t)l;
}

// ldgo_audit_objopen makes an object's state, each cookie the link map's
// address, and calls la_objopen (_dl_audit_objopen).
struct ldgo_audit_obj *ldgo_audit_objopen(uintptr_t lm, long lmid) {
	struct ldgo_audit_obj *o = calloc(1, sizeof *o);
	o->lm = (struct link_map *)lm;
	for (unsigned i = 0; i < LDGO_MAX_AUDIT; i++)
		o->cookie[i] = lm;
	if (!main_obj && lmid == 0)
		main_obj = o;
	for (unsigned i = 0; i < naudit; i++)
		if (auditors[i].objopen) {
			o->bindflags[i] = auditors[i].objopen(o->lm, lmid, &o->cookie[i]);
			o->any |= o->bindflags[i] != 0;
		}
	return o;
}

// ldgo_audit_objsearch calls la_objsearch for a name the search is about
// to try on behalf of o; NULL means: skip it.
const char *ldgo_audit_objsearch(const char *name, struct ldgo_audit_obj *o, unsigned flag) {
	for (unsigned i = 0; i < naudit && name; i++)
		if (auditors[i].objsearch)
			name = auditors[i].objsearch(name, &o->cookie[i], flag);
	return name;
}

// ldgo_audit_activity calls la_activity with the program's namespace's
// head, ldgo_audit_activity_of with another's.
void ldgo_audit_activity_of(struct ldgo_audit_obj *head, unsigned flag) {
	for (unsigned i = 0; i < naudit; i++)
		if (auditors[i].activity)
			auditors[i].activity(&head->cookie[i], flag);
}

void ldgo_audit_activity(unsigned flag) {
	if (main_obj)
		ldgo_audit_activity_of(main_obj, flag);
}

void ldgo_audit_preinit(void) {
	if (!main_obj)
		return;
	for (unsigned i = 0; i < naudit; i++)
		if (auditors[i].preinit)
			auditors[i].preinit(&main_obj->cookie[i]);
}

void ldgo_audit_objclose(struct ldgo_audit_obj *o) {
	for (unsigned i = 0; i < naudit; i++)
		if (auditors[i].objclose)
			auditors[i].objclose(&o->cookie[i]);
}

// symbind is glibc's _dl_audit_symbind: la_symbind for each audit library
// for which ref is LA_FLG_BINDFROM and def LA_FLG_BINDTO, the symbol's
// st_value the address it binds to; what they return replaces it. A slot
// bound now (for_jmp_slot) is not entered or left through la_pltenter and
// la_pltexit. *enterexit gets glibc's summary of which audit library
// wants them: LA_SYMB_NOPLTENTER and LA_SYMB_NOPLTEXIT for all of them in
// the low two bits, then two bits for each.
static uint64_t symbind(struct ldgo_audit_obj *ref, struct ldgo_audit_obj *def, const ElfW(Sym) *defsym, unsigned ndx,
                        const char *name, uint64_t value, int for_jmp_slot, unsigned *flagsp, unsigned *enterexitp) {
	if (!ref->any && !def->any) {
		*enterexitp = 0xffff;
		*flagsp = 0;
		return value;
	}
	ElfW(Sym) sym = *defsym;
	sym.st_value = value;
	unsigned enterexit = LA_SYMB_NOPLTENTER | LA_SYMB_NOPLTEXIT, flags = 0;
	for (unsigned i = 0; i < naudit; i++) {
		if ((ref->bindflags[i] & LA_FLG_BINDFROM) && (def->bindflags[i] & LA_FLG_BINDTO)) {
			if (auditors[i].symbind) {
				flags |= for_jmp_slot ? LA_SYMB_NOPLTENTER | LA_SYMB_NOPLTEXIT : 0;
				uintptr_t v = auditors[i].symbind(&sym, ndx, &ref->cookie[i], &def->cookie[i], &flags, name);
				if (v != sym.st_value) {
					flags |= LA_SYMB_ALTVALUE;
					sym.st_value = v;
				}
			}
			enterexit &= flags & (LA_SYMB_NOPLTENTER | LA_SYMB_NOPLTEXIT);
			enterexit |= (flags & (LA_SYMB_NOPLTENTER | LA_SYMB_NOPLTEXIT)) << ((i + 1) * 2);
		} else
			enterexit |= (LA_SYMB_NOPLTENTER | LA_SYMB_NOPLTEXIT) << ((i + 1) * 2);
	}
	*flagsp = flags;
	*enterexitp = enterexit;
	return sym.st_value;
}

// ldgo_audit_symbind_now is la_symbind for a JUMP_SLOT bound before the
// program runs.
uint64_t ldgo_audit_symbind_now(struct ldgo_audit_obj *ref, struct ldgo_audit_obj *def, uintptr_t sym, unsigned ndx,
                                uintptr_t name, uint64_t value) {
	unsigned flags, enterexit;
	return symbind(ref, def, (const ElfW(Sym) *)sym, ndx, (const char *)name, value, 1, &flags, &enterexit);
}

// ldgo_audit_symbind_dlsym is glibc's _dl_audit_symbind_alt, for dlsym:
// la_symbind with LA_SYMB_DLSYM when the caller binds from or the
// definer binds to.
uint64_t ldgo_audit_symbind_dlsym(struct ldgo_audit_obj *ref, struct ldgo_audit_obj *def, uintptr_t defsym, unsigned ndx,
                                  uintptr_t name, uint64_t value) {
	if (!ref->any && !def->any)
		return value;
	ElfW(Sym) sym = *(const ElfW(Sym) *)defsym;
	sym.st_value = value;
	unsigned altvalue = 0;
	for (unsigned i = 0; i < naudit; i++)
		if (auditors[i].symbind &&
		    ((ref->bindflags[i] & LA_FLG_BINDFROM) || (def->bindflags[i] & LA_FLG_BINDTO))) {
			unsigned flags = altvalue | LA_SYMB_DLSYM;
			uintptr_t v = auditors[i].symbind(&sym, ndx, &ref->cookie[i], &def->cookie[i], &flags, (const char *)name);
			if (v != sym.st_value) {
				altvalue = LA_SYMB_ALTVALUE;
				sym.st_value = v;
			}
		}
	return sym.st_value;
}

// ldgo_audit_slots gives a lazily bound object's table its audit slots.
void ldgo_audit_slots(struct ldgo_lazy *l) {
	if (!l->audit)
		l->audit = calloc(l->nslots + 1, sizeof *l->audit);
}

void ldgo_audit_set_slot(struct ldgo_lazy *l, uint64_t i, struct ldgo_audit_obj *ref, struct ldgo_audit_obj *def,
                         uintptr_t sym, unsigned ndx, uintptr_t name) {
	l->audit[i] = (struct ldgo_audit_slot){.ref = ref, .def = def, .sym = (const void *)sym, .ndx = ndx, .name = (const char *)name};
}

// ldgo_audit_lazy_symbind is la_symbind at slot i's first call; later
// calls (the profiling trampoline's) get what it returned.
uint64_t ldgo_audit_lazy_symbind(struct ldgo_lazy *l, uint64_t i, uint64_t value) {
	struct ldgo_audit_slot *s = &l->audit[i];
	if (__atomic_load_n(&s->init, __ATOMIC_ACQUIRE))
		return s->value;
	if (!s->ref) {
		s->enterexit = 0xffff;
		s->value = value;
	} else
		s->value = symbind(s->ref, s->def, s->sym, s->ndx, s->name, value, 0, &s->flags, &s->enterexit);
	__atomic_store_n(&s->init, 1, __ATOMIC_RELEASE);
	return s->value;
}

// ldgo_audit_plt_enter is glibc's _dl_profile_fixup and
// _dl_audit_pltenter, for the trampoline: every call of slot i. It
// returns the address to jump to; *framesize not negative asks for
// la_pltexit, with that many bytes of the caller's stack arguments.
uint64_t ldgo_audit_plt_enter(struct ldgo_lazy *l, uint64_t i, La_x86_64_regs *regs, long *framesize) {
	uint64_t value = ldgo_lazy_resolve(l, i);
	struct ldgo_audit_slot *s = &l->audit[i];
	*framesize = -1;
	if (!s->ref || (s->enterexit & LA_SYMB_NOPLTENTER))
		return value;
	ElfW(Sym) sym = *(const ElfW(Sym) *)s->sym;
	sym.st_value = value;
	unsigned flags = s->flags;
	for (unsigned k = 0; k < naudit; k++) {
		if (!auditors[k].pltenter || (s->enterexit & (LA_SYMB_NOPLTENTER << (2 * (k + 1)))))
			continue;
		long fs = -1;
		uintptr_t v = auditors[k].pltenter(&sym, s->ndx, &s->ref->cookie[k], &s->def->cookie[k], regs, &flags, s->name, &fs);
		if (v != sym.st_value) {
			flags |= LA_SYMB_ALTVALUE;
			sym.st_value = v;
		}
		__atomic_or_fetch(&s->enterexit, (flags & (LA_SYMB_NOPLTENTER | LA_SYMB_NOPLTEXIT)) << (2 * (k + 1)), __ATOMIC_RELAXED);
		if (!(s->enterexit & (LA_SYMB_NOPLTEXIT << (2 * (k + 1)))) && fs != -1 && *framesize != -2) {
			if (*framesize == -1)
				*framesize = fs;
			else if (fs > *framesize)
				*framesize = fs;
		}
	}
	return sym.st_value;
}

// ldgo_audit_plt_exit is glibc's _dl_audit_pltexit, with its test of
// which audit library to call kept as it is.
void ldgo_audit_plt_exit(struct ldgo_lazy *l, uint64_t i, const La_x86_64_regs *inregs, La_x86_64_retval *outregs) {
	struct ldgo_audit_slot *s = &l->audit[i];
	ElfW(Sym) sym = *(const ElfW(Sym) *)s->sym;
	sym.st_value = s->value;
	for (unsigned k = 0; k < naudit; k++)
		if (auditors[k].pltexit && !(s->enterexit & (LA_SYMB_NOPLTEXIT >> (2 * k))))
			auditors[k].pltexit(&sym, s->ndx, &s->ref->cookie[k], &s->def->cookie[k], inregs, outregs, s->name);
}

extern char ldgo_audit_trampoline[];

uintptr_t ldgo_addr_audit_trampoline(void) { return (uintptr_t)ldgo_audit_trampoline; }
