package main

import (
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// ldgo run --calls is checked against the callees' own counts (each
// library function counts its calls), against ltrace -c, and against the
// program's output run natively: the table must not change what the
// program prints.

// callsLib counts its own calls; the program prints the counts to
// standard error at exit.
const callsLib = `
int calls_add, calls_mul;
int add(int a, int b) { __atomic_fetch_add(&calls_add, 1, __ATOMIC_RELAXED); return a + b; }
int mul(int a, int b) { __atomic_fetch_add(&calls_mul, 1, __ATOMIC_RELAXED); return a * b; }
`

const callsProg = `
#include <pthread.h>
#include <stdio.h>
int add(int, int);
int mul(int, int);
extern int calls_add, calls_mul;
static void *work(void *arg) {
	int s = 0;
	for (int i = 0; i < 5000; i++)
		s = add(s, i);
	return (void *)(long)s;
}
int main(int argc, char **argv) {
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], 0, work, 0);
	int s = 0;
	for (int i = 0; i < 1000 + argc; i++)
		s = mul(add(s, i), 1);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], 0);
	printf("%d\n", s);
	fprintf(stderr, "counted add %d mul %d\n", calls_add, calls_mul);
	return 0;
}
`

// callsTable is the JSON form of the table (doc/json.md, "run --calls").
type callsTable struct {
	Schema    int    `json:"schema"`
	Command   string `json:"command"`
	Program   string `json:"program"`
	Total     uint64 `json:"total"`
	Slots     uint64 `json:"slots"`
	Uncounted uint64 `json:"uncounted_got_functions"`
	Calls     []struct {
		Function string `json:"function"`
		Version  string `json:"version"`
		Caller   string `json:"caller"`
		Callee   string `json:"callee"`
		Count    uint64 `json:"count"`
	} `json:"calls"`
}

// count is the table's count of function called from caller (a suffix of
// its name), 0 without a row.
func (c *callsTable) count(caller, function string) uint64 {
	var n uint64
	for _, r := range c.Calls {
		if r.Function == function && strings.HasSuffix(r.Caller, caller) {
			n += r.Count
		}
	}
	return n
}

// runCalls runs prog under ldgo run --calls --json, the table written to
// a file, and returns what the program did and the table.
func runCalls(t *testing.T, ldgoBin string, env []string, prog string, args ...string) (result, *callsTable) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "calls.json")
	r := runCmd(t, env, "", ldgoBin, append([]string{"run", "--calls", "--json", "--calls-output", out, prog}, args...)...)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("%s: no table: %v\nstderr:\n%s", prog, err, r.stderr)
	}
	var c callsTable
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("%s: the table is not JSON: %v\n%s", prog, err, data)
	}
	return r, &c
}

var countedLine = regexp.MustCompile(`counted add (\d+) mul (\d+)`)

// calleeCounts reads the counts the library kept, as the program printed
// them.
func calleeCounts(t *testing.T, stderr string) (add, mul uint64) {
	t.Helper()
	m := countedLine.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("the program printed no counts:\n%s", stderr)
	}
	a, _ := strconv.ParseUint(m[1], 10, 64)
	b, _ := strconv.ParseUint(m[2], 10, 64)
	return a, b
}

func TestRunCallsCountsWhatTheCalleesCount(t *testing.T) {
	ldgoBin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libcnt.so", callsLib)
	lazy := f.prog("lazy", callsProg, "-L.", "-lcnt", "-Wl,-rpath,$ORIGIN", "-pthread")
	now := f.prog("now", callsProg, "-L.", "-lcnt", "-Wl,-rpath,$ORIGIN", "-pthread", "-Wl,-z,now")
	for _, c := range []struct {
		name string
		prog string
		env  []string
	}{
		{"lazy", lazy, nil},
		{"-z now", now, nil},
		{"LD_BIND_NOW", lazy, []string{"LD_BIND_NOW=1"}},
		{"LD_BIND_NOT", lazy, []string{"LD_BIND_NOT=1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := baseEnv(c.env...)
			want := native(t, env, "", c.prog)
			got, table := runCalls(t, ldgoBin, env, c.prog)
			sameResult(t, "ldgo run --calls", want, got)
			add, mul := calleeCounts(t, got.stderr)
			if n := table.count(c.prog, "add"); n != add {
				t.Errorf("add: the table counts %d calls, the library %d", n, add)
			}
			if n := table.count(c.prog, "mul"); n != mul {
				t.Errorf("mul: the table counts %d calls, the library %d", n, mul)
			}
			if n := table.count(c.prog, "pthread_create"); n != 4 {
				t.Errorf("pthread_create: the table counts %d calls, the program makes 4", n)
			}
			for _, r := range table.Calls {
				if r.Function == "add" && !strings.HasSuffix(r.Callee, "/libcnt.so") {
					t.Errorf("add is reported as defined in %s", r.Callee)
				}
			}
			for i := 1; i < len(table.Calls); i++ {
				if table.Calls[i-1].Count < table.Calls[i].Count {
					t.Errorf("the table is not sorted by count: %+v", table.Calls)
					break
				}
			}
		})
	}
}

// ltraceCounts runs ltrace -c over prog and returns its count per
// function: the calls the program makes through its own PLT.
func ltraceCounts(t *testing.T, env []string, prog string, args ...string) map[string]uint64 {
	t.Helper()
	if _, err := exec.LookPath("ltrace"); err != nil {
		t.Skip("ltrace not installed")
	}
	out := filepath.Join(t.TempDir(), "ltrace.txt")
	cmd := exec.Command("ltrace", append([]string{"-c", "-o", out, prog}, args...)...)
	cmd.Env = env
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ltrace: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) != 5 {
			continue
		}
		if n, err := strconv.ParseUint(fields[3], 10, 64); err == nil {
			counts[fields[4]] = n
		}
	}
	if len(counts) == 0 {
		t.Fatalf("ltrace counted nothing:\n%s", data)
	}
	return counts
}

// The program's own PLT calls, counted by ltrace, are the table's rows
// for the program.
func TestRunCallsAgainstLtrace(t *testing.T) {
	ldgoBin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libcnt.so", callsLib)
	prog := f.prog("prog", strings.ReplaceAll(callsProg, "for (int i = 0; i < 4; i++)", "for (int i = 0; i < 0; i++)"),
		"-L.", "-lcnt", "-Wl,-rpath,$ORIGIN", "-pthread")
	env := baseEnv()
	want := ltraceCounts(t, env, prog)
	_, table := runCalls(t, ldgoBin, env, prog)
	got := map[string]uint64{}
	for _, r := range table.Calls {
		if r.Caller == prog {
			got[r.Function] += r.Count
		}
	}
	for name, n := range want {
		if got[name] != n {
			t.Errorf("%s: ltrace counts %d calls, ldgo run --calls %d", name, n, got[name])
		}
	}
	for name, n := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: ldgo run --calls counts %d calls, ltrace none", name, n)
		}
	}
}

// A library dlopen loads is counted from its load on; calls through a
// dlsym pointer are not PLT calls; a program that ends with _exit still
// gets its table.
func TestRunCallsDlopenAndExit(t *testing.T) {
	ldgoBin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libcnt.so", callsLib)
	f.lib("libtwice.so", `
int add(int, int);
int twice(int n) { int s = 0; for (int i = 0; i < n; i++) s = add(add(s, i), 0); return s; }
`, "-L.", "-lcnt", "-Wl,-rpath,$ORIGIN")
	prog := f.prog("prog", `
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>
int main(void) {
	void *h = dlopen("./libtwice.so", RTLD_NOW);
	if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
	int (*twice)(int) = (int (*)(int))dlsym(h, "twice");
	int *calls_add = dlsym(h, "calls_add");
	printf("%d\n", twice(300));
	fflush(stdout);
	fprintf(stderr, "counted add %d mul 0\n", *calls_add);
	_exit(0);
}
`, "-ldl")
	env := baseEnv()
	cmd := exec.Command(prog)
	cmd.Dir, cmd.Env = f.dir, env
	want := runCommand(t, cmd)
	out := filepath.Join(t.TempDir(), "calls.json")
	cmd = exec.Command(ldgoBin, "run", "--calls", "--json", "--calls-output", out, prog)
	cmd.Dir, cmd.Env = f.dir, env
	got := runCommand(t, cmd)
	sameResult(t, "ldgo run --calls", want, got)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("no table after _exit: %v", err)
	}
	var table callsTable
	if err := json.Unmarshal(data, &table); err != nil {
		t.Fatal(err)
	}
	add, _ := calleeCounts(t, got.stderr)
	if n := table.count("libtwice.so", "add"); n != add || n != 600 {
		t.Errorf("add from libtwice.so: the table counts %d, the library %d", n, add)
	}
	if n := table.count(prog, "twice"); n != 0 {
		t.Errorf("twice was called through a dlsym pointer, not a PLT slot, yet counted %d times", n)
	}
	for _, fn := range []string{"dlopen", "dlsym", "_exit"} {
		if n := table.count(prog, fn); n == 0 {
			t.Errorf("%s: not counted", fn)
		}
	}
	for _, r := range table.Calls {
		if r.Function == "dlopen" && !strings.HasSuffix(r.Callee, "libc.so.6") {
			t.Errorf("dlopen is reported as defined in %s, not libc", r.Callee)
		}
	}
}

// Code built with -fno-plt calls through GLOB_DAT GOT entries, which are
// also the functions' addresses: not counted, and the table says how many
// such references there are, as the file has them.
func TestRunCallsLeavesGOTReferences(t *testing.T) {
	ldgoBin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libcnt.so", callsLib)
	prog := f.prog("prog", callsProg, "-fno-plt", "-L.", "-lcnt", "-Wl,-rpath,$ORIGIN", "-pthread")
	env := baseEnv()
	want := native(t, env, "", prog)
	got, table := runCalls(t, ldgoBin, env, prog)
	sameResult(t, "ldgo run --calls", want, got)
	if n := table.count(prog, "add"); n != 0 {
		t.Errorf("add, called through the GOT, counted %d times", n)
	}
	if n := globDatFunctions(t, prog) + globDatFunctions(t, f.path("libcnt.so")); table.Uncounted != n {
		t.Errorf("the table says %d GOT references to functions are not counted; the files have %d", table.Uncounted, n)
	}
}

// globDatFunctions counts the GLOB_DAT relocations of a file against
// function symbols, read with debug/elf.
func globDatFunctions(t *testing.T, path string) uint64 {
	t.Helper()
	ef, syms := openDynamicSymbols(t, path)
	defer ef.Close()
	var n uint64
	for _, s := range ef.Sections {
		if s.Type != elf.SHT_RELA || s.Name == ".rela.plt" {
			continue
		}
		data, err := s.Data()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+24 <= len(data); i += 24 {
			info := ef.ByteOrder.Uint64(data[i+8:])
			sym, typ := info>>32, elf.R_X86_64(info&0xffffffff)
			if typ != elf.R_X86_64_GLOB_DAT || sym == 0 || int(sym) > len(syms) {
				continue
			}
			if st := elf.ST_TYPE(syms[sym-1].Info); st == elf.STT_FUNC || st == elf.STT_GNU_IFUNC {
				n++
			}
		}
	}
	return n
}

// The text table goes to standard error, after the program's own output,
// even when the program closes standard error at exit (as coreutils do).
func TestRunCallsTextOnStandardError(t *testing.T) {
	ldgoBin := buildLdgo(t)
	env := baseEnv()
	dir := t.TempDir()
	for _, name := range []string{"a", "b", "c"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := native(t, env, "", "/bin/ls", "-l", dir)
	got := runCmd(t, env, "", ldgoBin, "run", "--calls", "/bin/ls", "-l", dir)
	if got.stdout != want.stdout || got.status != want.status {
		t.Errorf("ls -l under --calls: status %d, stdout\n%s\nnative: status %d, stdout\n%s", got.status, got.stdout, want.status, want.stdout)
	}
	lines := strings.Split(strings.TrimSpace(got.stderr), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "ldgo: calls: ") || !strings.Contains(lines[1], "function") {
		t.Fatalf("no table on standard error:\n%s", got.stderr)
	}
	last := ^uint64(0)
	for _, l := range lines[2:] {
		fields := strings.Fields(l)
		n, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil || len(fields) != 4 || n > last {
			t.Fatalf("bad or unsorted row %q", l)
		}
		last = n
	}
}
