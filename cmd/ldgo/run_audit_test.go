package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// LD_AUDIT under ldgo run is checked against glibc's ld.so running the
// same audit library over the same program: the audit library logs every
// call of every audit function with its arguments (names, flags, symbol
// names, registers), and the two logs must be the same, event for event,
// and the program's output too.

// auditLib logs each call to the file $AUDIT_LOG, one write per line. It
// sets each object's cookie to its name, so that the log names objects,
// never addresses. Built with -DNOPLT it has no la_pltenter and
// la_pltexit; with -DTAG=x it marks its lines with x.
const auditLib = `
#define _GNU_SOURCE
#include <fcntl.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifndef TAG
#define TAG ""
#endif

static int fd = -1;
static void out(const char *fmt, ...) {
	char b[1024];
	va_list a;
	va_start(a, fmt);
	int n = vsnprintf(b, sizeof b - 1, fmt, a);
	va_end(a);
	if (fd < 0)
		fd = open(getenv("AUDIT_LOG"), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	write(fd, b, n);
}
static const char *nm(uintptr_t *cookie) { return (const char *)*cookie; }

unsigned la_version(unsigned v) { out(TAG "version %u\n", v); return LAV_CURRENT; }

char *la_objsearch(const char *name, uintptr_t *cookie, unsigned flag) {
	out(TAG "objsearch %s flag=%#x from=%s\n", name, flag, nm(cookie));
	// A name no file has, which the audit library answers for.
	if (strcmp(name, "libalias.so") == 0) {
		static char real[4096];
		snprintf(real, sizeof real, "%s/libreal.so", getenv("AUDIT_DIR"));
		return real;
	}
	return (char *)name;
}

void la_activity(uintptr_t *cookie, unsigned flag) { out(TAG "activity %u head=%s\n", flag, nm(cookie)); }

unsigned la_objopen(struct link_map *map, Lmid_t lmid, uintptr_t *cookie) {
	const char *name = map->l_name[0] ? map->l_name : "<main>";
	out(TAG "objopen %s lmid=%ld\n", name, (long)lmid);
	*cookie = (uintptr_t)strdup(name);
	// The vDSO is only looked at, never bound from.
	if (strstr(name, "vdso"))
		return LA_FLG_BINDTO;
	return LA_FLG_BINDTO | LA_FLG_BINDFROM;
}

unsigned la_objclose(uintptr_t *cookie) { out(TAG "objclose %s\n", nm(cookie)); return 0; }

void la_preinit(uintptr_t *cookie) { out(TAG "preinit %s\n", nm(cookie)); }

static int replacement(void) { return 99; }

uintptr_t la_symbind64(Elf64_Sym *sym, unsigned ndx, uintptr_t *ref, uintptr_t *def, unsigned *flags, const char *name) {
	out(TAG "symbind %s flags=%#x %s -> %s\n", name, *flags, nm(ref), nm(def));
	if (strcmp(name, "redirected") == 0)
		return (uintptr_t)replacement;
	// la_pltenter is not wanted for this one.
	if (strcmp(name, "quiet") == 0)
		*flags |= LA_SYMB_NOPLTENTER;
	return sym->st_value;
}

#ifndef NOPLT
Elf64_Addr la_x86_64_gnu_pltenter(Elf64_Sym *sym, unsigned ndx, uintptr_t *ref, uintptr_t *def, La_x86_64_regs *regs,
                                  unsigned *flags, const char *name, long *framesize) {
	// Pointers differ from run to run: only small arguments are shown.
	long rdi = regs->lr_rdi < 1 << 20 ? (long)regs->lr_rdi : -1;
	out(TAG "pltenter %s flags=%#x %s -> %s rdi=%ld\n", name, *flags, nm(ref), nm(def), rdi);
	if (strcmp(name, "twice") == 0)
		regs->lr_rdi = 21;
	if (strcmp(name, "sum8") == 0 || strcmp(name, "twice") == 0 || strcmp(name, "half") == 0)
		*framesize = 64;
	return sym->st_value;
}

unsigned la_x86_64_gnu_pltexit(Elf64_Sym *sym, unsigned ndx, uintptr_t *ref, uintptr_t *def, const La_x86_64_regs *in,
                               La_x86_64_retval *rv, const char *name) {
	if (strcmp(name, "half") == 0) {
		out(TAG "pltexit %s xmm0=%g\n", name, (double)rv->lrv_xmm0[0]);
		return 0;
	}
	out(TAG "pltexit %s rax=%ld\n", name, (long)rv->lrv_rax);
	if (strcmp(name, "sum8") == 0)
		rv->lrv_rax += 1000;
	return 0;
}
#endif
`

// The program's libraries: libfar.so found through its RUNPATH, libnear.so
// through LD_LIBRARY_PATH, libalias.so only through the audit library.
const auditFar = `
int near(int);
int twice(int x) { return 2 * x; }
int sum8(int a, int b, int c, int d, int e, int f, int g, int h) { return a + b + c + d + e + f + g + h + near(0); }
float half(float x) { return x / 2; }
int quiet(void) { return 5; }
int redirected(void) { return 1; }
`

const auditProg = `
#include <dlfcn.h>
#include <stdio.h>
int twice(int);
int sum8(int, int, int, int, int, int, int, int);
float half(float);
int quiet(void);
int redirected(void);
int real(void);
int main(void) {
	printf("twice %d\n", twice(4));
	printf("sum8 %d\n", sum8(1, 2, 3, 4, 5, 6, 7, 8));
	printf("half %g\n", half(3));
	printf("quiet %d %d\n", quiet(), quiet());
	printf("redirected %d\n", redirected());
	printf("real %d\n", real());
	void *h = dlopen("libplugin.so", RTLD_NOW);
	if (!h) {
		printf("%s\n", dlerror());
		return 1;
	}
	int (*plugin)(void) = (int (*)(void))dlsym(h, "plugin");
	printf("plugin %d\n", plugin());
	dlclose(h);
	return 0;
}
`

// auditFixture builds the program, its libraries and the audit libraries.
type auditFixture struct {
	*fixture
	prog, progNow string
}

func newAuditFixture(t *testing.T) *auditFixture {
	f := newFixture(t)
	f.lib("near/libnear.so", `int near(int x) { return x + 100; }`)
	f.lib("lib/libfar.so", auditFar, "-Lnear", "-lnear")
	f.lib("libreal.so", `int real(void) { return 7; }`, "-Wl,-soname,libalias.so")
	f.lib("plugins/libplugin.so", `int twice(int); int plugin(void) { return twice(50); }`, "-Llib", "-lfar")
	f.lib("audit.so", auditLib)
	f.lib("audit-noplt.so", auditLib, "-DNOPLT")
	f.lib("audit-two.so", auditLib, `-DTAG="two: "`)
	flags := []string{"-Llib", "-lfar", "-L.", "-lreal", "-Wl,--enable-new-dtags,-rpath,$ORIGIN/lib:$ORIGIN/plugins", "-Wl,-rpath-link,near", "-ldl"}
	a := &auditFixture{fixture: f}
	a.prog = f.prog("prog", auditProg, flags...)
	a.progNow = f.prog("prognow", auditProg, append(flags, "-Wl,-z,now")...)
	return a
}

// auditRun runs prog (natively, or under ldgo run with args before the
// program) with the audit libraries and returns what it did and the log.
func (f *auditFixture) auditRun(t *testing.T, ldgoArgs []string, env []string, prog string) (result, []string) {
	t.Helper()
	log := filepath.Join(t.TempDir(), "audit.log")
	env = append(baseEnv("AUDIT_LOG="+log, "AUDIT_DIR="+f.dir, "LD_LIBRARY_PATH="+f.path("near")), env...)
	name, args := prog, []string(nil)
	if ldgoArgs != nil {
		name, args = ldgoArgs[0], append(append([]string{"run"}, ldgoArgs[1:]...), prog)
	}
	cmd := exec.Command(name, args...)
	cmd.Env = env
	r := runCommand(t, cmd)
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatalf("no audit log: %v\nstderr:\n%s", err, r.stderr)
	}
	return r, strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// glibcOwn matches the events of glibc's own objects binding to each
// other (libc's calls into ld.so and ld.so's into libc): under ldgo the
// system's ld.so bound them before ldgo started.
var glibcOwn = regexp.MustCompile(`^(\w+: )?(symbind|pltenter) \S+ flags=\S+ /lib\S*/(libc\.so\.6|ld-linux-x86-64\.so\.2) -> `)

// ldsoMalloc matches ld.so's lookups of libc's malloc family in the
// program's scope as it starts (__rtld_malloc_init_real), which glibc
// reports as dlsym bindings of the program: ldgo has no such step.
var ldsoMalloc = regexp.MustCompile(`^(\w+: )?symbind (calloc|free|malloc|realloc) flags=0x8 <main> -> `)

// programEvents drops from a log what only glibc's own start-up makes:
// the bindings among its objects and ld.so's own malloc lookups, each
// la_pltexit following a dropped la_pltenter with it.
func programEvents(log []string) []string {
	var out []string
	dropExit := map[string]bool{}
	consistent := false
	for _, l := range log {
		fields := strings.Fields(strings.TrimPrefix(l, "two: "))
		switch {
		case glibcOwn.MatchString(l):
			if fields[0] == "pltenter" {
				dropExit[fields[1]] = true
			}
			continue
		case !consistent && ldsoMalloc.MatchString(l):
			continue
		case fields[0] == "pltexit" && dropExit[fields[1]]:
			delete(dropExit, fields[1])
			continue
		case fields[0] == "activity" && fields[1] == "0" && fields[2] == "head=<main>":
			consistent = true
		}
		out = append(out, l)
	}
	return out
}

func sameEvents(t *testing.T, glibcLog, ldgoLog []string) {
	t.Helper()
	want, got := programEvents(glibcLog), programEvents(ldgoLog)
	if strings.Join(want, "\n") == strings.Join(got, "\n") {
		return
	}
	t.Errorf("the audit library's events differ\nglibc:\n%s\nldgo run:\n%s", strings.Join(want, "\n"), strings.Join(got, "\n"))
}

func TestRunAuditSameEventsAsGlibc(t *testing.T) {
	ldgoBin := buildLdgo(t)
	f := newAuditFixture(t)
	for _, c := range []struct {
		name  string
		prog  string
		audit string
		env   []string
	}{
		{"lazy", f.prog, "audit.so", nil},
		{"-z now, la_pltenter makes it lazy", f.progNow, "audit.so", nil},
		{"-z now, no la_pltenter", f.progNow, "audit-noplt.so", nil},
		{"LD_BIND_NOW", f.prog, "audit.so", []string{"LD_BIND_NOW=1"}},
		{"two audit libraries", f.prog, "audit.so:audit-two.so", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var list []string
			for _, a := range strings.Split(c.audit, ":") {
				list = append(list, f.path(a))
			}
			audit := strings.Join(list, ":")
			want, glibcLog := f.auditRun(t, nil, append([]string{"LD_AUDIT=" + audit}, c.env...), c.prog)
			got, ldgoLog := f.auditRun(t, []string{ldgoBin, "--audit", audit}, c.env, c.prog)
			sameResult(t, "ldgo run --audit", want, got)
			sameEvents(t, glibcLog, ldgoLog)
		})
	}
}

// With LD_AUDIT in ldgo's own environment the system's ld.so audits
// ldgo's start until ldgo executes itself again without it: from the
// audit library's last la_version on, the events are the program's.
func TestRunAuditFromEnvironment(t *testing.T) {
	ldgoBin := buildLdgo(t)
	f := newAuditFixture(t)
	env := []string{"LD_AUDIT=" + f.path("audit.so")}
	want, glibcLog := f.auditRun(t, nil, env, f.prog)
	got, ldgoLog := f.auditRun(t, []string{ldgoBin}, env, f.prog)
	sameResult(t, "LD_AUDIT=... ldgo run", want, got)
	last := 0
	for i, l := range ldgoLog {
		if strings.HasPrefix(l, "version ") {
			last = i
		}
	}
	if last == 0 {
		t.Fatalf("the system's ld.so did not audit ldgo's start, or ldgo did not load the audit library:\n%s", strings.Join(ldgoLog, "\n"))
	}
	sameEvents(t, glibcLog, ldgoLog[last:])
}

// An audit library that cannot be used is reported in glibc's words and
// ignored.
func TestRunAuditLibraryRefused(t *testing.T) {
	ldgoBin := buildLdgo(t)
	f := newFixture(t)
	f.lib("noversion.so", `int la_objopen(void) { return 0; }`)
	f.lib("future.so", `unsigned la_version(unsigned v) { return v + 1; }`)
	f.lib("zero.so", `unsigned la_version(unsigned v) { return 0; }`)
	prog := f.prog("hello", `#include <stdio.h>
int main(void) { puts("hello"); return 0; }`)
	pid := regexp.MustCompile(`(?m)^ *\d+:\t`)
	for _, lib := range []string{"missing.so", "noversion.so", "future.so", "zero.so"} {
		t.Run(lib, func(t *testing.T) {
			path := f.path(lib)
			want := native(t, baseEnv("LD_AUDIT="+path), "", prog)
			got := runCmd(t, baseEnv(), "", ldgoBin, "run", "--audit", path, prog)
			want.stderr, got.stderr = pid.ReplaceAllString(want.stderr, "PID:\t"), pid.ReplaceAllString(got.stderr, "PID:\t")
			sameResult(t, "ldgo run --audit "+lib, want, got)
		})
	}
}
