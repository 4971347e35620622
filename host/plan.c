// The launch plan's executor: the words a plan says relocation writes,
// the lazy slots' targets, written into objects already mapped. It reads
// as the sequence of ldgo_plan_exec's steps; every value is computed
// from the plan's terms and the objects' places (struct ldgo_plan), so
// nothing here looks a symbol up.

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

// Mapping an object from its file, for a start that carries out a plan
// without the engine (not yet used by ldgo run, whose engine maps): the file checked to be the one the plan was made
// for (its status, then its build-id in the mapped bytes), then its
// segments mapped as rtld's Process.Map maps them.

#define PAGE 4096UL
#define PAGE_DOWN(x) ((x) & ~(PAGE - 1))
#define PAGE_UP(x) (((x) + PAGE - 1) & ~(PAGE - 1))

static int prot_of(uint64_t flags) {
	return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) | (flags & PF_X ? PROT_EXEC : 0);
}

// same_status reports whether the open file is the version the plan
// names: device, inode, size, modification and change times.
static int same_status(int fd, const struct ldgo_plan_file *f) {
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	int64_t ctime = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
	return (uint64_t)st.st_dev == f->dev && (uint64_t)st.st_ino == f->ino && (uint64_t)st.st_size == f->size &&
	       mtime == f->mtime && ctime == f->ctime;
}

// build_id_in finds the GNU build-id in the notes of the object mapped at
// base whose headers lie in [lo, hi) (its first segment), as
// object.BuildID reads it, and reports whether it is want.
static int build_id_in(uint64_t base, uint64_t lo, uint64_t hi, const unsigned char *want, uint64_t n) {
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)(base + lo);
	if (hi - lo < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    eh->e_phoff > hi - lo || (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > hi - lo - eh->e_phoff)
		return 0;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + lo + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_NOTE || ph[i].p_vaddr < lo || ph[i].p_filesz > hi - ph[i].p_vaddr ||
		    ph[i].p_vaddr > hi)
			continue;
		const unsigned char *b = (const unsigned char *)(base + ph[i].p_vaddr);
		uint64_t left = ph[i].p_filesz, mask = ph[i].p_align == 8 ? 7 : 3;
		while (left >= 12) {
			uint32_t namesz, descsz, type;
			memcpy(&namesz, b, 4);
			memcpy(&descsz, b + 4, 4);
			memcpy(&type, b + 8, 4);
			b += 12, left -= 12;
			uint64_t name = (namesz + mask) & ~mask, desc = (descsz + mask) & ~mask;
			if (name > left || desc > left - name)
				break;
			if (type == NT_GNU_BUILD_ID && namesz == 4 && memcmp(b, "GNU", 4) == 0)
				return descsz == n && memcmp(b + name, want, n) == 0;
			b += name + desc, left -= name + desc;
		}
	}
	return 0;
}

// ldgo_map_segments maps the segments of the object open as fd over a
// range reserved for the whole object (at its own addresses if fixed),
// bss zero-filled, and returns its base in *base, or the step that
// failed: LDGO_MAP_RESERVE, LDGO_MAP_SEGMENT or LDGO_MAP_ZERO.
int ldgo_map_segments(int fd, const struct ldgo_plan_segment *segs, uint64_t nsegs, int fixed, uint64_t *base) {
	uint64_t lo = PAGE_DOWN(segs[0].vaddr), hi = 0;
	for (uint64_t i = 0; i < nsegs; i++) {
		uint64_t end = segs[i].vaddr + segs[i].memsz;
		lo = PAGE_DOWN(segs[i].vaddr) < lo ? PAGE_DOWN(segs[i].vaddr) : lo;
		hi = end > hi ? end : hi;
	}
	void *want = fixed ? (void *)lo : 0;
	char *r = mmap(want, PAGE_UP(hi) - lo, PROT_NONE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (fixed ? MAP_FIXED_NOREPLACE : 0), -1, 0);
	if (r == MAP_FAILED)
		return LDGO_MAP_RESERVE;
	if (fixed && (uint64_t)r != lo) {
		munmap(r, PAGE_UP(hi) - lo);
		return LDGO_MAP_RESERVE;
	}
	uint64_t b = (uint64_t)r - lo;
	for (uint64_t i = 0; i < nsegs; i++) {
		const struct ldgo_plan_segment *s = &segs[i];
		if (s->memsz == 0)
			continue;
		int prot = prot_of(s->prot);
		uint64_t start = PAGE_DOWN(b + s->vaddr), file_end = b + s->vaddr + s->filesz, mem_end = b + s->vaddr + s->memsz;
		uint64_t zero_from = start;
		if (s->filesz > 0) {
			if (mmap((void *)start, PAGE_UP(file_end) - start, prot, MAP_PRIVATE | MAP_FIXED, fd,
			         (off_t)PAGE_DOWN(s->off)) == MAP_FAILED)
				return LDGO_MAP_SEGMENT;
			zero_from = PAGE_UP(file_end);
			if (mem_end > file_end && zero_from > file_end) {
				// The last file page: what follows the file's part
				// is bss and must read as zero.
				if (!(prot & PROT_WRITE))
					mprotect((void *)start, zero_from - start, prot | PROT_WRITE);
				memset((void *)file_end, 0, (mem_end < zero_from ? mem_end : zero_from) - file_end);
				if (!(prot & PROT_WRITE))
					mprotect((void *)start, zero_from - start, prot);
			}
		}
		if (PAGE_UP(mem_end) > zero_from &&
		    mmap((void *)zero_from, PAGE_UP(mem_end) - zero_from, prot, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1,
		         0) == MAP_FAILED)
			return LDGO_MAP_ZERO;
	}
	*base = b;
	return 0;
}

int ldgo_plan_map(const struct ldgo_plan_file *f, uint64_t *base, const char **error) {
	if (f->nsegs == 0) {
		*error = "no segments";
		return -1;
	}
	for (uint64_t i = 0; i < f->nsegs; i++) {
		if (f->segs[i].vaddr + f->segs[i].memsz < f->segs[i].vaddr || f->segs[i].off % PAGE != f->segs[i].vaddr % PAGE) {
			*error = "a segment the plan cannot map";
			return -1;
		}
	}
	int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		*error = "cannot open the file";
		return -1;
	}
	if (!same_status(fd, f)) {
		close(fd);
		*error = "the file is not the one the plan was made for (its status changed)";
		return -1;
	}
	uint64_t b;
	int err = ldgo_map_segments(fd, f->segs, f->nsegs, f->fixed != 0, &b);
	close(fd);
	if (err != 0) {
		*error = "failed to map segment from shared object";
		return -1;
	}
	if (f->build_id_len > 0 && !build_id_in(b, f->segs[0].vaddr, f->segs[0].vaddr + f->segs[0].filesz, f->build_id,
	                                        f->build_id_len)) {
		uint64_t lo = PAGE_DOWN(f->segs[0].vaddr), hi = 0;
		for (uint64_t i = 0; i < f->nsegs; i++)
			hi = f->segs[i].vaddr + f->segs[i].memsz > hi ? f->segs[i].vaddr + f->segs[i].memsz : hi;
		munmap((void *)(b + lo), PAGE_UP(hi) - lo);
		*error = "the file is not the one the plan was made for (its build-id differs)";
		return -1;
	}
	*base = b;
	return 0;
}
