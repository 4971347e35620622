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
}

var (
	odLabel = regexp.MustCompile(`^([0-9a-f]+) <(.+)@plt>:$`)
	odInsn  = regexp.MustCompile(`^\s*([0-9a-f]+):\t[0-9a-f ]+\t(\S+)\s*(.*)$`)
	odGOT   = regexp.MustCompile(`^\*0x[0-9a-f]+\(%rip\)\s+# ([0-9a-f]+)`)
	odPush  = regexp.MustCompile(`^\$0x([0-9a-f]+)$`)
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

// A real program and its libraries, every object's PLT.
func TestPLTRealProgram(t *testing.T) {
	checkPLT(t, "/usr/bin/ls", "/usr/bin/ls", "lazy", true)
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
