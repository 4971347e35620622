package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// ldgo plt decodes PLT code itself; objdump's disassembly and readelf's
// relocations of the same files say where each entry, GOT entry and lazy
// stub is, and glibc's bindings what each slot binds to.

type pltDoc struct {
	Objects []struct {
		Object  string `json:"object"`
		Base    uint64 `json:"base"`
		Layout  string `json:"layout"`
		Lazy    bool   `json:"lazy"`
		BindNow string `json:"bind_now"`
		GOT     uint64 `json:"got"`
		PLT0    uint64 `json:"plt0"`
		PLT0OK  bool   `json:"plt0_ok"`
		Slots   []struct {
			Slot    int    `json:"slot"`
			Type    string `json:"type"`
			Symbol  string `json:"symbol"`
			Version string `json:"version"`
			Entry   uint64 `json:"entry"`
			GOT     uint64 `json:"got"`
			Before  uint64 `json:"before"`
			Stub    bool   `json:"stub"`
			Problem string `json:"problem"`
			Error   string `json:"error"`
			After   *struct {
				Object string `json:"object"`
				Symbol string `json:"symbol"`
			} `json:"after"`
		} `json:"slots"`
	} `json:"objects"`
}

func pltJSON(t *testing.T, args ...string) pltDoc {
	t.Helper()
	r := ldgoStreams(t, nil, append([]string{"plt", "--json"}, args...)...)
	if r.status != 0 {
		t.Fatalf("ldgo plt %s: status %d\n%s%s", strings.Join(args, " "), r.status, r.stdout, r.stderr)
	}
	var doc pltDoc
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("ldgo plt --json: %v\n%s", err, r.stdout)
	}
	return doc
}

// objdumpPLT is what objdump -d says of a file's PLT: the address of
// each symbol's entry (its <sym@plt> label) and the GOT entry that entry
// jumps through, and the address of each lazy stub by the index it
// pushes (for an IBT stub, of the endbr64 before the push).
type objdumpPLT struct {
	entry, got map[string]uint64
	stub       map[int]uint64
	plt0       uint64 // where the stubs jump
}

var (
	odLabel = regexp.MustCompile(`^([0-9a-f]+) <(.+)@plt>:$`)
	odInsn  = regexp.MustCompile(`^\s*([0-9a-f]+):\t[0-9a-f ]+\t(\S+)\s*(.*)$`)
	odGOT   = regexp.MustCompile(`^\*0x[0-9a-f]+\(%rip\)\s+# ([0-9a-f]+)`)
	odPush  = regexp.MustCompile(`^\$0x([0-9a-f]+)$`)
	odJump  = regexp.MustCompile(`^([0-9a-f]+) <`)
)

func objdumpOf(t *testing.T, path string) objdumpPLT {
	t.Helper()
	args := []string{"-d", "-j", ".plt"}
	if strings.Contains(glibc(t, nil, "readelf", "-SW", path), ".plt.sec") {
		args = append(args, "-j", ".plt.sec")
	}
	out, err := exec.Command("objdump", append(args, path)...).Output()
	if err != nil {
		t.Fatalf("objdump %s: %v", path, err)
	}
	od := objdumpPLT{entry: map[string]uint64{}, got: map[string]uint64{}, stub: map[int]uint64{}}
	label := ""
	var prev uint64
	var prevOp string
	for _, l := range strings.Split(string(out), "\n") {
		if m := odLabel.FindStringSubmatch(l); m != nil {
			label = m[2]
			od.entry[label], _ = strconv.ParseUint(m[1], 16, 64)
			continue
		}
		m := odInsn.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		addr, _ := strconv.ParseUint(m[1], 16, 64)
		op, arg := m[2], m[3]
		if g := odGOT.FindStringSubmatch(arg); g != nil && op == "jmp" && label != "" && od.got[label] == 0 {
			od.got[label], _ = strconv.ParseUint(g[1], 16, 64)
		}
		if j := odJump.FindStringSubmatch(arg); j != nil && op == "jmp" && prevOp == "push" {
			od.plt0, _ = strconv.ParseUint(j[1], 16, 64)
		}
		if p := odPush.FindStringSubmatch(arg); p != nil && op == "push" {
			i, _ := strconv.ParseInt(p[1], 16, 32)
			od.stub[int(i)] = addr
			if prevOp == "endbr64" {
				od.stub[int(i)] = prev
			}
		}
		prev, prevOp = addr, op
	}
	return od
}

// readelfSlots is readelf -r's JUMP_SLOT relocations: symbol to GOT entry.
func readelfSlots(t *testing.T, path string) map[string]uint64 {
	t.Helper()
	slots := map[string]uint64{}
	re := regexp.MustCompile(`^([0-9a-f]+)\s+[0-9a-f]+\s+R_X86_64_JUMP_SLOT\s+[0-9a-f]+\s+([^@\s]+)`)
	for _, l := range strings.Split(glibc(t, nil, "readelf", "-rW", path), "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			slots[m[2]], _ = strconv.ParseUint(m[1], 16, 64)
		}
	}
	return slots
}

// checkPLT checks ldgo plt's table of the object path of prog against
// objdump, readelf and glibc.
func checkPLT(t *testing.T, prog, path string, wantLayout string, wantLazy bool) {
	t.Helper()
	doc := pltJSON(t, "--object", path, prog)
	if len(doc.Objects) != 1 {
		t.Fatalf("ldgo plt --object %s: %d objects", path, len(doc.Objects))
	}
	o := doc.Objects[0]
	if o.Layout != wantLayout || o.Lazy != wantLazy || !o.PLT0OK {
		t.Errorf("%s: layout %s, lazy %v, PLT0 as the psABI says: %v; want %s, %v", path, o.Layout, o.Lazy, o.PLT0OK, wantLayout, wantLazy)
	}
	od := objdumpOf(t, path)
	rel := readelfSlots(t, path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fileWord := fileWordReader(t, path, data)
	bindings := strings.Join(glibcBindings(t, nil, prog), "\n")
	if len(o.Slots) == 0 {
		t.Fatalf("%s: no slots", path)
	}
	for _, s := range o.Slots {
		name := s.Symbol
		if s.Problem != "" || s.Error != "" || !s.Stub {
			t.Errorf("%s slot %d (%s): problem %q, error %q, stub %v", path, s.Slot, name, s.Problem, s.Error, s.Stub)
		}
		if got := s.GOT - o.Base; got != rel[name] || got != od.got[name] {
			t.Errorf("%s: %s's GOT entry at %#x; readelf says %#x, objdump %#x", path, name, got, rel[name], od.got[name])
		}
		if entry := s.Entry - o.Base; entry != od.entry[name] {
			t.Errorf("%s: %s's PLT entry at %#x; objdump's %s@plt is at %#x", path, name, entry, name, od.entry[name])
		}
		initial := fileWord(s.GOT - o.Base)
		before := s.Before
		if wantLazy {
			before -= o.Base
		}
		if before != initial || initial != od.stub[s.Slot] {
			t.Errorf("%s: %s's GOT entry holds %#x before binding (base removed); the file holds %#x, and objdump's stub pushing %d is at %#x", path, name, before, initial, s.Slot, od.stub[s.Slot])
		}
		if s.After == nil || s.After.Symbol != name {
			t.Errorf("%s: slot %d (%s) binds to %+v", path, s.Slot, name, s.After)
			continue
		}
		line := "binding file " + path + " [0] to " + s.After.Object + " [0]: normal symbol `" + name + "'"
		if !strings.Contains(bindings, line) {
			t.Errorf("%s: slot %d binds %s to %s; glibc does not:\n%s", path, s.Slot, name, s.After.Object, bindings)
		}
	}
}

// fileWordReader reads 8-byte words of a file at link-time addresses,
// through its program headers as readelf shows them.
func fileWordReader(t *testing.T, path string, data []byte) func(addr uint64) uint64 {
	t.Helper()
	type load struct{ off, vaddr, filesz uint64 }
	var loads []load
	re := regexp.MustCompile(`^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)`)
	for _, l := range strings.Split(glibc(t, nil, "readelf", "-lW", path), "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			var ld load
			ld.off, _ = strconv.ParseUint(m[1], 16, 64)
			ld.vaddr, _ = strconv.ParseUint(m[2], 16, 64)
			ld.filesz, _ = strconv.ParseUint(m[3], 16, 64)
			loads = append(loads, ld)
		}
	}
	return func(addr uint64) uint64 {
		for _, ld := range loads {
			if addr >= ld.vaddr && addr+8 <= ld.vaddr+ld.filesz {
				o := ld.off + addr - ld.vaddr
				var w uint64
				for i := 7; i >= 0; i-- {
					w = w<<8 | uint64(data[o+uint64(i)])
				}
				return w
			}
		}
		t.Fatalf("%s: no segment holds %#x", path, addr)
		return 0
	}
}

const pltProg = `
#include <stdio.h>
#include <string.h>
const char *lib(void);
int main(int argc, char **argv) { puts(lib()); printf("%zu\n", strlen(argv[0])); return 0; }
`

const pltLib = `
#include <stdlib.h>
#include <string.h>
const char *lib(void) { return getenv("NOTHING") ? strdup("x") : "lib"; }
`

// The PLT of executables and libraries, lazy and -z now, classic and
// IBT-enabled (gcc -fcf-protection; GNU ld makes .plt.sec only when every
// input is marked for IBT, which Debian's crt files are not, or with
// -z ibtplt).
func TestPLTLayouts(t *testing.T) {
	for _, tool := range []string{"objdump", "readelf"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not installed")
		}
	}
	for _, tc := range []struct {
		name   string
		flags  []string
		layout string
		lazy   bool
	}{
		{"lazy", []string{"-fcf-protection=none"}, "lazy", true},
		{"now", []string{"-fcf-protection=none", "-Wl,-z,now"}, "lazy", false},
		{"ibt", []string{"-fcf-protection=full", "-Wl,-z,ibtplt"}, "ibt", true},
		{"ibt-now", []string{"-fcf-protection=full", "-Wl,-z,ibtplt", "-Wl,-z,now"}, "ibt", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.lib("libplt.so", pltLib, tc.flags...)
			prog := f.prog("prog", pltProg, append([]string{"-L.", "-lplt", "-Wl,-rpath," + f.dir}, tc.flags...)...)
			checkPLT(t, prog, prog, tc.layout, tc.lazy)
			checkPLT(t, prog, f.path("libplt.so"), tc.layout, tc.lazy)
			if tc.lazy {
				// LD_BIND_NOW's --now binds the lazy ones at start-up too.
				if o := pltJSON(t, "--now", "--object", prog, prog).Objects[0]; o.Lazy || o.BindNow == "" {
					t.Errorf("--now: lazy %v, bind_now %q", o.Lazy, o.BindNow)
				}
			}
		})
	}
}

// A real program and its libraries, every object's PLT; and node, whose
// last PLT entry ends its segment (its .plt has a segment of its own).
func TestPLTRealProgram(t *testing.T) {
	checkPLT(t, "/usr/bin/ls", "/usr/bin/ls", "lazy", true)
	if _, err := os.Stat("/usr/bin/node"); err == nil {
		checkPLT(t, "/usr/bin/node", "/usr/bin/node", "lazy", false) // linked with -z now
	}
	doc := pltJSON(t, "/usr/bin/ls")
	var names []string
	for _, o := range doc.Objects {
		names = append(names, o.Object)
	}
	if len(doc.Objects) < 2 {
		t.Errorf("ldgo plt /usr/bin/ls shows %q", names)
	}
	r := ldgoStreams(t, nil, "plt", "--object", "libnothing.so", "/usr/bin/ls")
	if r.status != 1 || !strings.Contains(r.stderr, "libnothing.so") {
		t.Errorf("ldgo plt --object libnothing.so: %+v", r)
	}
	if keys := jsonKeys(t, "plt", "/usr/bin/ls"); len(keys) > 0 {
		t.Errorf("fields not in doc/json.md: %q", keys)
	}
}

// jsonKeys runs an ldgo command with --json and returns the fields of its
// documents that doc/json.md does not name.
func jsonKeys(t *testing.T, args ...string) []string {
	t.Helper()
	doc, err := os.ReadFile("../../doc/json.md")
	if err != nil {
		t.Fatal(err)
	}
	r := ldgoStreams(t, nil, append([]string{args[0], "--json"}, args[1:]...)...)
	keys := map[string]bool{}
	for _, d := range decodeDocuments(t, r.stdout) {
		collectKeys(d, keys)
	}
	var missing []string
	for k := range keys {
		if !strings.Contains(string(doc), "`"+k+"`") {
			missing = append(missing, k)
		}
	}
	return missing
}

// storyLine is one step of ldgo run --debug lazy's story of a first call.
var storyStep = regexp.MustCompile(`^ldgo: lazy:   (\d)\. (.*)$`)

// lazyStories splits ldgo run --debug lazy's output into stories, by
// object and symbol: the summary line's fields and the steps' text.
func lazyStories(stderr string) map[string][]string {
	stories := map[string][]string{}
	var cur string
	for _, l := range strings.Split(stderr, "\n") {
		if m := lazyLine.FindStringSubmatch(l); m != nil {
			cur = m[1] + " " + m[2]
			stories[cur] = append(stories[cur], l)
		} else if storyStep.MatchString(l) && cur != "" {
			stories[cur] = append(stories[cur], l)
		}
	}
	return stories
}

var (
	storySummary = regexp.MustCompile(`\(slot (\d+), GOT 0x([0-9a-f]+), target 0x([0-9a-f]+)\)$`)
	storyBase    = regexp.MustCompile(`\(base 0x([0-9a-f]+)\) calls (\S+): its (?:PLT|\.plt\.sec) entry 0x([0-9a-f]+), (?:endbr64; )?jmp \*0x([0-9a-f]+) \(the GOT entry\), goes to 0x([0-9a-f]+)`)
	storyStub    = regexp.MustCompile(`^the stub 0x([0-9a-f]+): (?:endbr64; )?push \$(\d+) \(the slot\); jmp 0x([0-9a-f]+) \(PLT0\)$`)
	storyPLT0    = regexp.MustCompile(`^PLT0 0x([0-9a-f]+): push GOT\[1\] = 0x([0-9a-f]+) .*; jmp \*GOT\[2\] = 0x([0-9a-f]+) `)
	storyWrite   = regexp.MustCompile(`^GOT 0x([0-9a-f]+): 0x([0-9a-f]+) -> 0x([0-9a-f]+); the resolver jumps there, and the next call goes straight through the GOT$`)
	storyNotWrit = regexp.MustCompile(`^GOT 0x([0-9a-f]+) left at 0x([0-9a-f]+) \(LD_BIND_NOT\); the resolver jumps to 0x([0-9a-f]+), and the next call comes back to it$`)
)

func hex(s string) uint64 { v, _ := strconv.ParseUint(s, 16, 64); return v }

// ldgo run --debug lazy tells each first call's walk through the PLT: the
// call, the stub, PLT0 with GOT[1] and GOT[2], the lookup, the GOT write.
// Its addresses, less the load base the same run reports, are those of
// objdump's and readelf's reading of the same files; the GOT entry,
// read back, holds the target afterwards, and as the PLT entry jumps
// through it the next call goes straight there. Each slot's story is
// told once, though the program calls each function twice. GOT[2] is the
// one resolver of every object, GOT[1] each object's own. With
// LD_BIND_NOT the GOT is left as it was.
func TestRunLazyStory(t *testing.T) {
	for _, tool := range []string{"objdump", "readelf"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not installed")
		}
	}
	bin := buildLdgo(t)
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"lazy", []string{"-fcf-protection=none"}},
		{"ibt", []string{"-fcf-protection=full", "-Wl,-z,ibtplt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.lib("libplt.so", pltLib, tc.flags...)
			prog := f.prog("prog", strings.Replace(pltProg, "puts(lib());", "puts(lib()); puts(lib());", 1),
				append([]string{"-L.", "-lplt", "-Wl,-rpath," + f.dir}, tc.flags...)...)
			want := runCmd(t, baseEnv(), "", prog)
			for _, bindNot := range []bool{false, true} {
				env := baseEnv()
				if bindNot {
					env = append(env, "LD_BIND_NOT=1")
				}
				got := runCmd(t, env, "", bin, "run", "--debug", "lazy", prog)
				if got.stdout != want.stdout || got.status != want.status {
					t.Fatalf("--debug lazy changed the run: %+v, natively %+v", got, want)
				}
				stories := lazyStories(got.stderr)
				got1 := map[string]string{} // GOT[1] by object
				got2 := map[string]bool{}
				for _, c := range []struct{ obj, sym string }{{prog, "lib"}, {prog, "puts"}, {f.path("libplt.so"), "getenv"}} {
					told := stories[c.obj+" "+c.sym]
					if len(told) != 6 {
						t.Errorf("%s's first call of %s: %d lines, want a summary and 5 steps, once:\n%s", c.obj, c.sym, len(told), got.stderr)
						continue
					}
					checkStory(t, c.obj, c.sym, told, bindNot)
					if m := storyPLT0.FindStringSubmatch(strings.TrimPrefix(told[3], "ldgo: lazy:   3. ")); m != nil {
						if g, ok := got1[c.obj]; ok && g != m[2] {
							t.Errorf("%s: GOT[1] is %s and %s", c.obj, g, m[2])
						}
						got1[c.obj] = m[2]
						got2[m[3]] = true
					}
				}
				if len(got2) != 1 || len(got1) != 2 || got1[prog] == got1[f.path("libplt.so")] {
					t.Errorf("GOT[1] by object %v, GOT[2] %v: want one resolver and a table per object", got1, got2)
				}
			}
		})
	}
}

// checkStory checks one story's facts against objdump and readelf.
func checkStory(t *testing.T, obj, sym string, told []string, bindNot bool) {
	t.Helper()
	od := objdumpOf(t, obj)
	rel := readelfSlots(t, obj)
	sum := storySummary.FindStringSubmatch(told[0])
	var steps [6]string
	for _, l := range told[1:] {
		m := storyStep.FindStringSubmatch(l)
		n, _ := strconv.Atoi(m[1])
		steps[n] = m[2]
	}
	call, stub, plt0 := storyBase.FindStringSubmatch(steps[1]), storyStub.FindStringSubmatch(steps[2]), storyPLT0.FindStringSubmatch(steps[3])
	if sum == nil || call == nil || stub == nil || plt0 == nil {
		t.Errorf("%s %s: the story does not read as it should:\n%s", obj, sym, strings.Join(told, "\n"))
		return
	}
	base := hex(call[1])
	slot, _ := strconv.Atoi(sum[1])
	gotAddr, target := hex(sum[2]), hex(sum[3])
	check := func(what string, ldgo, want uint64) {
		if ldgo != want {
			t.Errorf("%s %s: %s %#x, objdump/readelf say %#x (base %#x)\n%s", obj, sym, what, ldgo, want, base, strings.Join(told, "\n"))
		}
	}
	check("GOT entry", gotAddr-base, rel[sym])
	check("GOT entry jumped through", hex(call[4])-base, od.got[sym])
	check("PLT entry", hex(call[3])-base, od.entry[sym])
	check("lazy stub", hex(call[5])-base, od.stub[slot])
	check("stub", hex(stub[1])-base, od.stub[slot])
	check("PLT0", hex(stub[3])-base, od.plt0)
	check("PLT0 of step 3", hex(plt0[1])-base, od.plt0)
	if p, _ := strconv.Atoi(stub[2]); p != slot {
		t.Errorf("%s %s: the stub pushes %d, the slot is %d", obj, sym, p, slot)
	}
	if bindNot {
		w := storyNotWrit.FindStringSubmatch(steps[5])
		if w == nil || hex(w[1]) != gotAddr || hex(w[2]) != hex(call[5]) || hex(w[3]) != target {
			t.Errorf("%s %s: with LD_BIND_NOT, step 5 is %q", obj, sym, steps[5])
		}
		return
	}
	w := storyWrite.FindStringSubmatch(steps[5])
	if w == nil || hex(w[1]) != gotAddr || hex(w[2]) != hex(call[5]) || hex(w[3]) != target {
		t.Errorf("%s %s: step 5 is %q; want GOT %#x written from the stub %#x to the target %#x", obj, sym, steps[5], gotAddr, hex(call[5]), target)
	}
}
