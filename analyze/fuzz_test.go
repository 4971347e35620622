package analyze

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/namespace"
)

// FuzzAnalyze damages gcc-built libraries (and the program that needs
// them) and runs the whole analysis over the program, as verify and
// bindings run it: loading, version checks, relocation with every binding
// (at start-up or lazily). Nothing may panic, hang, or allocate far beyond
// the files' sizes, and every problem must say something.
//
// The input is a list of patches, each written over the bytes of one
// table of one library (the ELF header, the program headers, a section
// the loader reads), so that most inputs are still libraries:
//
//	byte 0       bit 0: bind now (verify, bindings --now), else lazily;
//	             bit 1: patches with bit 7 set damage the program
//	per patch    1 byte: region (low 5 bits) and width (1, 2, 4, 8 bytes:
//	             bits 5-6); 2 bytes: little-endian offset in the region,
//	             modulo its size; width bytes: the value, little-endian
//
// The seeds are patches that set a few counts and addresses to values
// that once made the analysis panic or run out of memory.
func FuzzAnalyze(f *testing.F) {
	fx := newFuzzFixture(f)
	f.Add([]byte{0})
	f.Add([]byte{1})
	for _, tag := range []elf.DynTag{elf.DT_RELASZ, elf.DT_PLTRELSZ, elf.DT_RELA, elf.DT_JMPREL, 35 /* DT_RELRSZ */} {
		for _, v := range []uint64{0xffff_ffff_ffff_ff00, 0x10_0000_0000, 24 << 32, 0x7fff_0000_0000} {
			for _, d := range fx.dynValues(tag) {
				f.Add(patch(0, d.region, 8, d.off, v))
				f.Add(patch(1, d.region, 8, d.off, v))
			}
		}
	}
	// The copied array as large as a segment may be, in the program and
	// its library, and their data segments as large.
	var huge []byte
	for _, d := range fx.symSizes("shared_data") {
		huge = append(huge, patch(0, d.region, 8, d.off, 1<<39)[1:]...)
	}
	for _, d := range fx.dataMemsz() {
		// Not both libraries: the file image has 1 TiB for them.
		if d.region&0x80 != 0 || fx.regions[d.region].file == 0 {
			huge = append(huge, patch(0, d.region, 8, d.off, 1<<39+1<<20)[1:]...)
		}
	}
	f.Add(append([]byte{2}, huge...))
	f.Add(append([]byte{3}, huge...))
	f.Fuzz(func(t *testing.T, in []byte) {
		fx.run(t, in)
	})
}

// patchAt is where a patch writes: a region, as a patch names it (the
// program's with bit 7 set), and an offset in it.
type patchAt struct{ region, off int }

// eachRegion calls fn with every region of the libraries and the program
// named name, as a patch names it.
func (fx *fuzzFixture) eachRegion(name string, fn func(region int, r fuzzRegion)) {
	for _, list := range []struct {
		regions []fuzzRegion
		flag    int
	}{{fx.regions, 0}, {fx.progRegions, 0x80}} {
		for i, r := range list.regions {
			if r.name == name {
				fn(i|list.flag, r)
			}
		}
	}
}

// dataMemsz returns where each file's last PT_LOAD has its p_memsz.
func (fx *fuzzFixture) dataMemsz() []patchAt {
	var out []patchAt
	fx.eachRegion("program headers", func(region int, r fuzzRegion) {
		last := -1
		for k := 0; k < r.len/56; k++ {
			if elf.ProgType(binary.LittleEndian.Uint32(fx.files[r.file].data[r.off+56*k:])) == elf.PT_LOAD {
				last = k
			}
		}
		out = append(out, patchAt{region, 56*last + 40})
	})
	return out
}

// symSizes returns where each file's dynamic symbol name has its
// st_size.
func (fx *fuzzFixture) symSizes(name string) []patchAt {
	var out []patchAt
	fx.eachRegion(".dynsym", func(region int, r fuzzRegion) {
		e, err := elf.NewFile(strings.NewReader(string(fx.files[r.file].data)))
		if err != nil {
			return
		}
		syms, _ := e.DynamicSymbols()
		for j, sym := range syms {
			if sym.Name == name {
				out = append(out, patchAt{region, 24*(j+1) + 16})
			}
		}
	})
	return out
}

// The fixture that FuzzAnalyze damages, intact, loads and binds.
func TestFuzzFixture(t *testing.T) {
	fx := newFuzzFixture(t)
	for _, now := range []bool{false, true} {
		a, err := Load(fx.prog, Options{Progname: fx.prog, LibraryPath: fx.dir, PreloadFile: "-"})
		if err != nil || a.Err != nil {
			t.Fatal(err, a.Err)
		}
		res := a.Bind(now)
		a.Close()
		if len(res.Problems) > 0 || len(res.Bindings) < 10 {
			t.Errorf("now %v: %d bindings, problems %v", now, len(res.Bindings), res.Problems)
		}
	}
}

// fuzzFixture is what FuzzAnalyze damages: a program and the two
// libraries it needs, one with DT_RELA relative relocations and one with
// DT_RELR, each with versions, TLS, IFUNC, protected and weak symbols,
// data the program copies (COPY) and PLT calls.
type fuzzFixture struct {
	dir   string // a directory of this process's own
	prog  string
	files [3]fuzzFile // the libraries, then the program
	// regions are the libraries', progRegions the program's.
	regions, progRegions []fuzzRegion
}

type fuzzFile struct {
	name string
	data []byte
}

// fuzzRegion is a span of a file that a patch writes into.
type fuzzRegion struct {
	file     int // in fuzzFixture.files
	name     string
	off, len int
}

const fuzzLibSource = `
#include <stdio.h>
#include <string.h>
__thread int tls_counter = 1;
static __thread int tls_local;
int shared_data[4] = {1, 2, 3, 4};
int *pointers[] = {&shared_data[0], &shared_data[1], &shared_data[2]};
__attribute__((visibility("protected"))) int protected_value = 5;
extern int maybe(void) __attribute__((weak));
static int impl(void) { return 3; }
static void *resolve(void) { return impl; }
int chosen(void) __attribute__((ifunc("resolve")));
int NAME(int x) {
	tls_local += x;
	puts("called");
	return x + shared_data[1] + tls_counter + tls_local + protected_value +
		(maybe ? maybe() : 0) + chosen() + (int)strlen("abc");
}
`

const fuzzLibVersions = `V1 { global: shared_data; pointers; protected_value; tls_counter; chosen; };
V2 { global: NAME; local: *; } V1;`

const fuzzProgSource = `
#include <stdio.h>
extern int shared_data[4];
extern __thread int tls_counter;
int one(int), two(int);
int main(void) {
	printf("%d\n", one(1) + two(2) + shared_data[3] + tls_counter);
	return 0;
}
`

func newFuzzFixture(f testing.TB) *fuzzFixture {
	if _, err := exec.LookPath("gcc"); err != nil {
		f.Skip("gcc not installed")
	}
	dir, err := os.MkdirTemp("", "fuzzanalyze")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(dir) })
	gcc := func(args ...string) {
		cmd := exec.Command("gcc", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			f.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	fx := &fuzzFixture{dir: dir, prog: filepath.Join(dir, "prog")}
	for i, lib := range []struct{ name, fn, flags string }{
		{"libone.so", "one", "-Wl,-z,nopack-relative-relocs"},
		{"libtwo.so", "two", "-Wl,-z,pack-relative-relocs"},
	} {
		src := strings.ReplaceAll(fuzzLibSource, "NAME", lib.fn)
		vers := strings.ReplaceAll(fuzzLibVersions, "NAME", lib.fn)
		write(f, filepath.Join(dir, lib.fn+".c"), src)
		write(f, filepath.Join(dir, lib.fn+".map"), vers)
		gcc("-shared", "-fPIC", "-O1", "-o", lib.name, lib.fn+".c", "-Wl,--version-script="+lib.fn+".map", lib.flags)
		data, err := os.ReadFile(filepath.Join(dir, lib.name))
		if err != nil {
			f.Fatal(err)
		}
		fx.files[i] = fuzzFile{name: lib.name, data: data}
		fx.regions = append(fx.regions, fileRegions(f, i, data)...)
	}
	write(f, filepath.Join(dir, "prog.c"), fuzzProgSource)
	// Not position-independent: the program copies the libraries' data.
	gcc("-no-pie", "-o", "prog", "prog.c", "-L.", "-lone", "-ltwo")
	data, err := os.ReadFile(fx.prog)
	if err != nil {
		f.Fatal(err)
	}
	fx.files[2] = fuzzFile{name: "prog", data: data}
	fx.progRegions = fileRegions(f, 2, data)
	return fx
}

func write(f testing.TB, path, text string) {
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		f.Fatal(err)
	}
}

// fileRegions returns the spans of a file that the loader reads: its
// headers and the sections that hold its dynamic tables.
func fileRegions(f testing.TB, file int, data []byte) []fuzzRegion {
	e, err := elf.NewFile(strings.NewReader(string(data)))
	if err != nil {
		f.Fatal(err)
	}
	phoff := int(binary.LittleEndian.Uint64(data[32:]))
	regions := []fuzzRegion{
		{file, "ELF header", 0, 64},
		{file, "program headers", phoff, 56 * len(e.Progs)},
	}
	for _, s := range e.Sections {
		switch s.Name {
		case ".dynamic", ".dynsym", ".dynstr", ".gnu.hash", ".hash", ".gnu.version", ".gnu.version_d",
			".gnu.version_r", ".rela.dyn", ".rela.plt", ".relr.dyn", ".tdata", ".data":
			if s.Size > 0 && s.Type != elf.SHT_NOBITS {
				regions = append(regions, fuzzRegion{file, s.Name, int(s.Offset), int(s.Size)})
			}
		}
	}
	return regions
}

// dynValues returns where, in each library's .dynamic region, the value
// of tag lies.
func (fx *fuzzFixture) dynValues(tag elf.DynTag) []patchAt {
	var out []patchAt
	fx.eachRegion(".dynamic", func(region int, r fuzzRegion) {
		data := fx.files[r.file].data[r.off : r.off+r.len]
		for off := 0; off+16 <= len(data) && region&0x80 == 0; off += 16 {
			if elf.DynTag(binary.LittleEndian.Uint64(data[off:])) == tag {
				out = append(out, patchAt{region, off + 8})
			}
		}
	})
	return out
}

// patch encodes one patch of an input, after the mode byte.
func patch(mode byte, region, width, off int, v uint64) []byte {
	widths := map[int]byte{1: 0, 2: 1, 4: 2, 8: 3}
	b := []byte{mode, byte(region) | widths[width]<<5, byte(off), byte(off >> 8)}
	return binary.LittleEndian.AppendUint64(b, v)[:4+width]
}

// apply returns the files with the patches of in (after its mode byte,
// mode) written over them.
func (fx *fuzzFixture) apply(mode byte, in []byte) [3][]byte {
	var files [3][]byte
	for i, f := range fx.files {
		files[i] = append([]byte(nil), f.data...)
	}
	for len(in) >= 3 {
		regions := fx.regions
		if mode&2 != 0 && in[0]&0x80 != 0 {
			regions = fx.progRegions
		}
		r := regions[int(in[0]&31)%len(regions)]
		width := 1 << (in[0] >> 5 & 3)
		off := r.off + int(binary.LittleEndian.Uint16(in[1:]))%r.len
		in = in[3:]
		n := min(width, len(in), len(files[r.file])-off)
		copy(files[r.file][off:off+n], in[:n])
		in = in[n:]
	}
	return files
}

// fuzzDeadline bounds one analysis of the small fixture, which takes
// milliseconds: past it, the analysis hangs.
const fuzzDeadline = 30 * time.Second

// fuzzMemory bounds what one analysis may allocate: the fixture's files
// and libc's are a few megabytes.
const fuzzMemory = 256 << 20

func (fx *fuzzFixture) run(t *testing.T, in []byte) {
	var mode byte
	if len(in) > 0 {
		mode, in = in[0], in[1:]
	}
	for i, data := range fx.apply(mode, in) {
		// Written anew, not over the old file, which may still be
		// mapped by an analysis that hung.
		path := filepath.Join(fx.dir, fx.files[i].name)
		os.Remove(path)
		if err := os.WriteFile(path, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan string)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	go func() { done <- analyzeAll(fx.prog, fx.dir, mode&1 != 0) }()
	select {
	case failure := <-done:
		if failure != "" {
			t.Fatal(failure)
		}
	case <-time.After(fuzzDeadline):
		t.Fatalf("the analysis has not ended after %v", fuzzDeadline)
	}
	runtime.ReadMemStats(&after)
	if used := after.TotalAlloc - before.TotalAlloc; used > fuzzMemory {
		t.Errorf("the analysis allocated %d bytes", used)
	}
}

// analyzeAll does what verify (now) or bindings (lazily) does with prog,
// its libraries in dir, and says what is wrong with the answer.
func analyzeAll(prog, dir string, now bool) (failure string) {
	noText := func(msg string) bool { return strings.TrimSpace(msg) == "" }
	const silent = "an error without a message"
	a, err := Load(prog, Options{Progname: prog, LibraryPath: dir, PreloadFile: "-"})
	if err != nil {
		if noText(err.Error()) {
			return silent
		}
		return ""
	}
	defer a.Close()
	if a.Err != nil {
		if noText(a.Err.Error()) {
			return silent
		}
		return ""
	}
	if a.Static() {
		return ""
	}
	for _, d := range a.NS.Deps {
		if d.Err != nil && noText(d.Err.Error()) {
			return silent
		}
	}
	for _, p := range a.NS.CheckVersions() {
		if noText(p.Message) {
			return silent
		}
		if p.Version != "" {
			namespace.ReferencesTo(p.Required, p.Version, p.Needed)
		}
	}
	res := a.Bind(now)
	for _, b := range res.Bindings {
		lookup.BindingLine(b.Ref.DisplayName(prog), b.Def.DisplayName(prog), b.Name, b.Version, b.Protected)
	}
	for _, p := range res.Problems {
		if p.Err == nil {
			return "a problem without an error"
		}
		var ue *lookup.UndefinedError
		if errors.As(p.Err, &ue) && p.Map == nil {
			return "undefined symbol " + ue.Name + " of no object"
		}
		var le *namespace.LoadError
		if errors.As(p.Err, &le) && le.Name == "" {
			return "an error naming no object: " + p.Err.Error()
		}
		if noText(p.Err.Error()) {
			return silent
		}
	}
	return ""
}
