// ldgo run --calls: every PLT slot of the objects ldgo loads jumps
// through a stub of its own that counts the call and jumps on, and the
// counts are printed when the program exits.
//
// A stub is generated machine code:
//
//	endbr64
//	lock incq count(%rip)
//	jmp *target(%rip)
//
// the slot's GOT entry (or, for a slot bound at its first call, what the
// resolver writes there) is the stub's address. A call costs one atomic
// increment more than it would; no trampoline, no signal, no system call.
//
// The counts and targets live in shared anonymous memory: a child made by
// fork that does not execute another program counts into its parent's
// table. The table is printed by the process ldgo started, from an exit
// handler registered before any of the program's (the last to run), or
// from _exit and _Exit, which the program's references reach through
// ldgo (calls_exit). What runs after it, or a process killed by a signal,
// is not counted.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "host.h"

// What a stub's RIP-relative operands point at, in the shared pages.
struct calls_word {
	uint64_t count;
	uint64_t target;
};

// The names a slot is reported by.
struct calls_name {
	const char *caller, *function, *version, *callee;
};

// A batch of stubs, one mapping: the code pages, then the words.
struct calls_batch {
	struct calls_word *words;
	struct calls_name *names;
	uint64_t n;
	struct calls_batch *next;
};

static struct calls_batch *batches;
static struct ldgo_calls_config calls;
static pid_t calls_pid;
static int calls_reported;

// The report's descriptor, opened (or standard error duplicated) before
// the program starts: coreutils' close_stdout, an exit handler that runs
// before the report, closes standard error. The program may close this
// one too, or have its number reused: the file it was is checked at exit.
static int report_fd = -1;
static struct stat report_st;

void ldgo_calls_configure(const struct ldgo_calls_config *c) {
	calls = *c;
	calls_pid = getpid();
	if (report_fd >= 0)
		return;
	if (calls.path && calls.path[0])
		report_fd = open(calls.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	else
		report_fd = fcntl(2, F_DUPFD_CLOEXEC, 100);
	if (report_fd >= 0 && fstat(report_fd, &report_st) != 0) {
		close(report_fd);
		report_fd = -1;
	}
}

// open_report returns the descriptor to write the report to, and whether
// it is to be closed after.
static int open_report(int *close_after) {
	struct stat st;
	*close_after = 0;
	if (report_fd >= 0 && fstat(report_fd, &st) == 0 && st.st_dev == report_st.st_dev && st.st_ino == report_st.st_ino)
		return report_fd;
	if (calls.path && calls.path[0]) {
		*close_after = 1;
		return open(calls.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	}
	return 2;
}

static uint64_t round_page(uint64_t n) { return (n + 4095) & ~(uint64_t)4095; }

// write_stub writes stub i of a batch whose words start at words.
static void write_stub(unsigned char *code, uint64_t i, unsigned char *words) {
	unsigned char *s = code + i * LDGO_CALLS_STUB;
	unsigned char *w = words + i * sizeof(struct calls_word);
	static const unsigned char endbr[4] = {0xf3, 0x0f, 0x1e, 0xfa};
	memcpy(s, endbr, 4);
	// lock incq disp32(%rip): the displacement counts from the next
	// instruction, 12 bytes into the stub.
	int32_t count = (int32_t)(w - (s + 12));
	s[4] = 0xf0, s[5] = 0x48, s[6] = 0xff, s[7] = 0x05;
	memcpy(s + 8, &count, 4);
	// jmp *disp32(%rip), from 18 bytes in.
	int32_t target = (int32_t)(w + 8 - (s + 18));
	s[12] = 0xff, s[13] = 0x25;
	memcpy(s + 14, &target, 4);
	memset(s + 18, 0xcc, LDGO_CALLS_STUB - 18);
}

// ldgo_calls_stubs makes n stubs, stub i jumping to targets[i] and
// reported by names[4i..4i+3] (caller, function, version, callee; kept).
// It returns the first stub's address (the others follow every
// LDGO_CALLS_STUB bytes), or 0 with errno set.
uintptr_t ldgo_calls_stubs(uint64_t n, const uint64_t *targets, const char **names) {
	if (n == 0)
		return 0;
	uint64_t code_size = round_page(n * LDGO_CALLS_STUB);
	uint64_t word_size = round_page(n * sizeof(struct calls_word));
	// The words, shared with children made by fork, right after the
	// code, so that every displacement fits in 32 bits.
	unsigned char *code = mmap(NULL, code_size + word_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED)
		return 0;
	unsigned char *words = mmap(code + code_size, word_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	struct calls_batch *b = mmap(NULL, round_page(sizeof *b + n * sizeof(struct calls_name)), PROT_READ | PROT_WRITE,
	                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (words == MAP_FAILED || b == MAP_FAILED) {
		int e = errno;
		munmap(code, code_size + word_size);
		errno = e;
		return 0;
	}
	b->words = (struct calls_word *)words;
	b->names = (struct calls_name *)(b + 1);
	b->n = n;
	for (uint64_t i = 0; i < n; i++) {
		b->words[i].target = targets[i];
		b->names[i] = (struct calls_name){names[4 * i], names[4 * i + 1], names[4 * i + 2], names[4 * i + 3]};
		write_stub(code, i, words);
	}
	if (mprotect(code, code_size, PROT_READ | PROT_EXEC) != 0) {
		int e = errno;
		munmap(code, code_size + word_size);
		errno = e;
		return 0;
	}
	b->next = batches;
	batches = b;
	return (uintptr_t)code;
}

// ---- the report ----

// A row: one function called from one object, its slots' counts added.
struct calls_row {
	uint64_t count;
	const struct calls_name *name;
};

static int name_cmp(const struct calls_name *a, const struct calls_name *b) {
	int c = strcmp(a->caller, b->caller);
	if (!c)
		c = strcmp(a->function, b->function);
	if (!c)
		c = strcmp(a->version, b->version);
	if (!c)
		c = strcmp(a->callee, b->callee);
	return c;
}

// by_name orders rows by their names; by_count by count, most first, then
// by name.
static int by_name(const struct calls_row *a, const struct calls_row *b) { return name_cmp(a->name, b->name); }

static int by_count(const struct calls_row *a, const struct calls_row *b) {
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return name_cmp(a->name, b->name);
}

// sort_rows is a shell sort: qsort may allocate, and by now libc's malloc
// may be the program's.
static void sort_rows(struct calls_row *r, uint64_t n, int (*cmp)(const struct calls_row *, const struct calls_row *)) {
	static const uint64_t gaps[] = {1750, 701, 301, 132, 57, 23, 10, 4, 1};
	for (size_t g = 0; g < sizeof gaps / sizeof gaps[0]; g++) {
		uint64_t gap = gaps[g];
		for (uint64_t i = gap; i < n; i++) {
			struct calls_row t = r[i];
			uint64_t j = i;
			for (; j >= gap && cmp(&r[j - gap], &t) > 0; j -= gap)
				r[j] = r[j - gap];
			r[j] = t;
		}
	}
}

// A buffered writer over a descriptor.
struct out {
	int fd;
	size_t n;
	char buf[8192];
};

static void out_flush(struct out *o) {
	const char *p = o->buf;
	while (o->n > 0) {
		ssize_t k = write(o->fd, p, o->n);
		if (k <= 0)
			break;
		p += k;
		o->n -= (size_t)k;
	}
	o->n = 0;
}

static void out_put(struct out *o, const char *s, size_t n) {
	while (n > 0) {
		if (o->n == sizeof o->buf)
			out_flush(o);
		size_t k = sizeof o->buf - o->n < n ? sizeof o->buf - o->n : n;
		memcpy(o->buf + o->n, s, k);
		o->n += k, s += k, n -= k;
	}
}

static void out_str(struct out *o, const char *s) { out_put(o, s, strlen(s)); }

static void out_fmt(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#include <stdarg.h>
static void out_fmt(struct out *o, const char *fmt, ...) {
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n > 0)
		out_put(o, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

// out_pad writes s left-aligned in width columns and a space.
static void out_pad(struct out *o, const char *s, size_t width) {
	size_t n = strlen(s);
	out_put(o, s, n);
	for (; n < width + 2; n++)
		out_put(o, " ", 1);
}

// out_json writes s as a JSON string.
static void out_json(struct out *o, const char *s) {
	out_put(o, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			out_put(o, e, 2);
		} else if (c < 0x20)
			out_fmt(o, "\\u%04x", c);
		else
			out_put(o, (const char *)&c, 1);
	}
	out_put(o, "\"", 1);
}

static void report_text(struct out *o, struct calls_row *rows, uint64_t nrows, uint64_t total, uint64_t slots) {
	size_t wf = strlen("function"), wc = strlen("caller");
	for (uint64_t i = 0; i < nrows; i++) {
		size_t f = strlen(rows[i].name->function), c = strlen(rows[i].name->caller);
		wf = f > wf ? f : wf;
		wc = c > wc ? c : wc;
	}
	out_fmt(o, "ldgo: calls: %llu calls of %llu imported functions through %llu PLT slots",
	        (unsigned long long)total, (unsigned long long)nrows, (unsigned long long)slots);
	if (calls.uncounted)
		out_fmt(o, "; %llu GOT references to functions not counted", (unsigned long long)calls.uncounted);
	out_str(o, "\n");
	out_fmt(o, "%12s  ", "calls");
	out_pad(o, "function", wf);
	out_pad(o, "caller", wc);
	out_str(o, "callee\n");
	for (uint64_t i = 0; i < nrows; i++) {
		out_fmt(o, "%12llu  ", (unsigned long long)rows[i].count);
		out_pad(o, rows[i].name->function, wf);
		out_pad(o, rows[i].name->caller, wc);
		out_str(o, rows[i].name->callee);
		out_str(o, "\n");
	}
}

static void report_json(struct out *o, struct calls_row *rows, uint64_t nrows, uint64_t total, uint64_t slots) {
	out_str(o, "{\"schema\":1,\"command\":\"run --calls\",\"program\":");
	out_json(o, calls.program);
	out_fmt(o, ",\"total\":%llu,\"slots\":%llu,\"uncounted_got_functions\":%llu,\"calls\":[",
	        (unsigned long long)total, (unsigned long long)slots, (unsigned long long)calls.uncounted);
	for (uint64_t i = 0; i < nrows; i++) {
		const struct calls_name *n = rows[i].name;
		out_str(o, i ? ",\n{\"function\":" : "\n{\"function\":");
		out_json(o, n->function);
		if (n->version[0]) {
			out_str(o, ",\"version\":");
			out_json(o, n->version);
		}
		out_str(o, ",\"caller\":");
		out_json(o, n->caller);
		out_str(o, ",\"callee\":");
		out_json(o, n->callee);
		out_fmt(o, ",\"count\":%llu}", (unsigned long long)rows[i].count);
	}
	out_str(o, "]}\n");
}

// ldgo_calls_report prints the table, once, in the process ldgo started.
void ldgo_calls_report(void) {
	if (!calls.on || getpid() != calls_pid || __atomic_exchange_n(&calls_reported, 1, __ATOMIC_SEQ_CST))
		return;
	uint64_t slots = 0;
	for (struct calls_batch *b = batches; b; b = b->next)
		slots += b->n;
	struct calls_row *rows = NULL;
	size_t size = round_page((slots + 1) * sizeof *rows);
	rows = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rows == MAP_FAILED)
		return;
	uint64_t n = 0, total = 0;
	for (struct calls_batch *b = batches; b; b = b->next)
		for (uint64_t i = 0; i < b->n; i++) {
			uint64_t c = __atomic_load_n(&b->words[i].count, __ATOMIC_RELAXED);
			if (c) {
				rows[n++] = (struct calls_row){c, &b->names[i]};
				total += c;
			}
		}
	// The same function of the same object may have had several slots
	// (an object opened again after dlclose): one row.
	sort_rows(rows, n, by_name);
	uint64_t k = 0;
	for (uint64_t i = 0; i < n; i++) {
		if (k > 0 && name_cmp(rows[k - 1].name, rows[i].name) == 0)
			rows[k - 1].count += rows[i].count;
		else
			rows[k++] = rows[i];
	}
	sort_rows(rows, k, by_count);
	struct out *o = mmap(NULL, round_page(sizeof *o), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (o != MAP_FAILED) {
		int close_after;
		o->n = 0;
		o->fd = open_report(&close_after);
		if (o->fd >= 0) {
			if (calls.json)
				report_json(o, rows, k, total, slots);
			else
				report_text(o, rows, k, total, slots);
			out_flush(o);
			if (close_after)
				close(o->fd);
		}
		munmap(o, round_page(sizeof *o));
	}
	munmap(rows, size);
}

static void report_at_exit(void *unused) {
	(void)unused;
	ldgo_calls_report();
}

extern int __cxa_atexit(void (*fn)(void *), void *arg, void *dso);

// ldgo_calls_begin is called as the program starts, before any of its
// code runs: the report is the exit handler registered first, and runs
// last.
void ldgo_calls_begin(void) {
	if (calls.on)
		__cxa_atexit(report_at_exit, NULL, NULL);
}

// What the program's _exit and _Exit bind to with --calls.
static void calls_exit(int status) {
	ldgo_calls_report();
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}

uintptr_t ldgo_addr_calls_exit(void) { return (uintptr_t)calls_exit; }
