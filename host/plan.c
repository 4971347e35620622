// The launch plan's executor: the words a plan says relocation writes,
// the lazy slots' targets, written into objects already mapped. It reads
// as the sequence of ldgo_plan_exec's steps; every value is computed
// from the plan's terms and the objects' places (struct ldgo_plan), so
// nothing here looks a symbol up.

#include <stdint.h>
#include <sys/mman.h>

#include "host.h"

// substitute is what replaces v: the address of a function ldgo provides
// itself (__libc_start_main, the dl* functions) is ldgo's (rtld's
// Process.subst).
static uint64_t substitute(const struct ldgo_plan *p, uint64_t v) {
	uint64_t lo = 0, hi = p->nsubst;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (p->subst[mid].from < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->nsubst && p->subst[lo].from == v ? p->subst[lo].to : v;
}

// resolve is the value t stands for, or 0 with *ok cleared for a target
// the executor cannot make.
static uint64_t resolve(const struct ldgo_plan *p, const struct ldgo_plan_target *t, int *ok) {
	const struct ldgo_plan_object *o = t->object < p->nobjects ? &p->objects[t->object] : 0;
	*ok = 1;
	switch (t->kind) {
	case LDGO_PLAN_ABSOLUTE:
		return t->off;
	case LDGO_PLAN_IN_OBJECT:
		if (o)
			return substitute(p, o->base + t->off);
		break;
	case LDGO_PLAN_IFUNC:
		if (o)
			return substitute(p, ldgo_call0(o->base + t->off));
		break;
	case LDGO_PLAN_EXECUTOR:
		switch (t->off) {
		case 0:
			return ldgo_addr_tlsdesc_static();
		case 1:
			return ldgo_addr_tlsdesc_dynamic();
		case 2:
			return ldgo_addr_tlsdesc_undefweak();
		}
		break;
	case LDGO_PLAN_TLS_INDEX:
		if (o)
			return ldgo_new_tls_index(o->tls_modid, t->off);
		break;
	case LDGO_PLAN_TLS_OFFSET:
		if (o)
			return t->off - o->tls_offset;
		break;
	case LDGO_PLAN_TLS_MODULE:
		if (o)
			return o->tls_modid + t->off;
		break;
	}
	*ok = 0;
	return 0;
}

// binds_to_plan reports whether a word of an adopted object is one to
// write: one that binds it to an object the plan maps (the program's
// copy of stdout, an interposed malloc), as glibc would have bound it.
// The rest the system's ld.so wrote already.
static int binds_to_plan(const struct ldgo_plan *p, const struct ldgo_plan_target *t) {
	return (t->kind == LDGO_PLAN_IN_OBJECT || t->kind == LDGO_PLAN_IFUNC) && t->object < p->nobjects &&
	       !p->objects[t->object].adopted;
}

// open_adopted makes the RELRO of the adopted objects writable, or
// read-only again (the system's ld.so protected it).
static int open_adopted(struct ldgo_plan *p, int prot) {
	for (uint64_t i = 0; i < p->nobjects; i++) {
		struct ldgo_plan_object *o = &p->objects[i];
		if (o->adopted && o->relro_hi > o->relro_lo &&
		    mprotect((void *)o->relro_lo, o->relro_hi - o->relro_lo, prot) != 0) {
			p->error = "cannot change the protection of an adopted object's RELRO";
			return -1;
		}
	}
	return 0;
}

// apply_writes makes every write (those of adopted objects that bind
// them to the plan's), the IFUNC values last, as they come.
static int apply_writes(struct ldgo_plan *p) {
	for (uint64_t i = 0; i < p->nwrites; i++) {
		const struct ldgo_plan_write *w = &p->writes[i];
		if (w->object >= p->nobjects) {
			p->error = "a write to an object the plan does not have";
			return -1;
		}
		const struct ldgo_plan_object *o = &p->objects[w->object];
		if (o->adopted && !binds_to_plan(p, &w->value)) {
			p->skipped++;
			continue;
		}
		int ok;
		uint64_t v = resolve(p, &w->value, &ok);
		if (!ok) {
			p->error = "a write of a value the executor cannot make";
			return -1;
		}
		*(volatile uint64_t *)(o->base + w->off) = v;
		p->written++;
	}
	return 0;
}

// set_lazy points each lazily bound object's GOT[1] at its table and
// GOT[2] at the resolver, and fills the table with the slots' targets;
// an adopted object's slot that binds to the plan's objects is bound at
// once (glibc's ld.so would bind it to them at its first call).
static int set_lazy(struct ldgo_plan *p) {
	for (uint64_t i = 0; i < p->nobjects; i++) {
		struct ldgo_plan_object *o = &p->objects[i];
		if (o->lazy && !o->adopted && o->pltgot) {
			uint64_t *got = (uint64_t *)(o->base + o->pltgot);
			got[1] = (uint64_t)(uintptr_t)o->lazy;
			got[2] = p->got2;
		}
	}
	for (uint64_t i = 0; i < p->nlazy; i++) {
		const struct ldgo_plan_lazy *l = &p->lazy[i];
		if (l->object >= p->nobjects) {
			p->error = "a lazy slot of an object the plan does not have";
			return -1;
		}
		struct ldgo_plan_object *o = &p->objects[l->object];
		if (l->target.kind == LDGO_PLAN_UNRESOLVED)
			continue; // its message is in the table already
		if (o->adopted && !binds_to_plan(p, &l->target))
			continue;
		if (!o->adopted && (!o->lazy || l->slot >= o->lazy->nslots)) {
			p->error = "a lazy slot without its table";
			return -1;
		}
		int ok;
		uint64_t v = resolve(p, &l->target, &ok);
		if (!ok) {
			p->error = "a lazy slot's target the executor cannot make";
			return -1;
		}
		if (o->adopted) {
			*(volatile uint64_t *)(o->base + l->off) = v;
			p->written++;
			continue;
		}
		o->lazy->slot[l->slot] = o->base + l->off;
		o->lazy->target[l->slot] = v;
	}
	return 0;
}

// ldgo_plan_exec carries out a plan over objects mapped at the places it
// gives. It returns 0, or -1 with p->error set.
int ldgo_plan_exec(struct ldgo_plan *p) {
	if (open_adopted(p, PROT_READ | PROT_WRITE) != 0)
		return -1;
	int err = apply_writes(p);
	if (err == 0)
		err = set_lazy(p);
	if (open_adopted(p, PROT_READ) != 0)
		return -1;
	return err;
}
