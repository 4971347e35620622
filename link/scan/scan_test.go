package scan_test

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/link/options"
	"github.com/ldgo/ldgo/link/resolve"
	"github.com/ldgo/ldgo/link/scan"
	"github.com/ldgo/ldgo/reloc"
)

// The rules are checked on a gcc-built object linked against a gcc-built
// library, for each kind of output: each relocation's decision is the
// psABI's (and GNU ld's) for its type, its symbol and the output.

const objSource = `
extern int lib_data;                 /* defined by the library */
extern int lib_func(void);
int own_data = 1;
static int local_data = 2;
int weak_missing(void) __attribute__((weak));
int *data_ptr = &lib_data;           /* R_X86_64_64 in .data */
int *own_ptr = &own_data;
int *own_addr(void) { return &own_data; }
int use(void) {
	return lib_func() + lib_data + own_data + local_data + (weak_missing ? weak_missing() : 0);
}
`

type built struct {
	dir string
	obj string // code referring to the library through the GOT (-fPIC)
	exe string // the same, compiled for a position-dependent executable
	lib string
}

func build(t *testing.T) built {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	b := built{dir: dir, obj: filepath.Join(dir, "pic.o"), exe: filepath.Join(dir, "exe.o"), lib: filepath.Join(dir, "liblib.so")}
	os.WriteFile(filepath.Join(dir, "obj.c"), []byte(objSource), 0o644)
	os.WriteFile(filepath.Join(dir, "lib.c"), []byte("int lib_data = 3;\nint lib_func(void) { return 4; }\n"), 0o644)
	for _, args := range [][]string{
		{"-O1", "-fPIC", "-c", "-o", b.obj, "obj.c"},
		{"-O1", "-fno-pic", "-c", "-o", b.exe, "obj.c"},
		{"-shared", "-fPIC", "-o", b.lib, "lib.c"},
	} {
		cmd := exec.Command("gcc", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, out)
		}
	}
	return b
}

// decisions resolves obj with lib for the output args say and returns
// each relocation's decision by symbol and type.
func decisions(t *testing.T, obj, lib string, args ...string) map[string]scan.Decision {
	t.Helper()
	opts, err := options.Parse(append(args, "-o", "/dev/null", obj, lib))
	if err != nil {
		t.Fatal(err)
	}
	res, err := resolve.Load(opts, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	res.DecideExports(opts, true, nil, nil)
	c := &scan.Context{Opts: opts, PIC: opts.OutputKind != options.Exec, Dynamic: true, Shared: opts.OutputKind == options.Shared}
	got := map[string]scan.Decision{}
	f := res.Files[0]
	for _, sec := range f.Sections {
		if sec == nil || sec.Relocs == nil || sec.Name == ".eh_frame" {
			continue
		}
		for i := 0; i < sec.Relocs.Len(); i++ {
			r := sec.Relocs.At(i)
			got[f.Syms[r.Sym].Name+" "+r.Type.String()] = c.Decide(f, sec, i)
		}
	}
	return got
}

func TestDecide(t *testing.T) {
	b := build(t)
	for _, c := range []struct {
		output   []string
		obj      string
		rel      string
		action   scan.Action
		needs    resolve.Need
		relax    reloc.Relaxation
		usePLT   bool
		hasError bool
	}{
		// A call to a library's function: its PLT entry.
		{[]string{"-pie"}, b.obj, "lib_func R_X86_64_PLT32", scan.Static, resolve.NeedPLT, 0, true, false},
		// A load of a library's variable through the GOT: an entry.
		{[]string{"-pie"}, b.obj, "lib_data R_X86_64_REX_GOTPCRELX", scan.Static, resolve.NeedGOT, 0, false, false},
		// ... of the output's own: relaxed to lea.
		{[]string{"-pie"}, b.obj, "own_data R_X86_64_REX_GOTPCRELX", scan.Static, 0, reloc.GOTPCRELXToPCRel, false, false},
		// In a shared library the own symbol is preemptible: no relaxing.
		{[]string{"-shared"}, b.obj, "own_data R_X86_64_REX_GOTPCRELX", scan.Static, resolve.NeedGOT, 0, false, false},
		// An address in data: symbolic for an import, RELATIVE for the
		// output's own, in a PIE.
		{[]string{"-pie"}, b.obj, "lib_data R_X86_64_64", scan.Symbolic, resolve.NeedDynamic, 0, false, false},
		{[]string{"-pie"}, b.obj, "own_data R_X86_64_64", scan.Relative, 0, 0, false, false},
		// ... and final in a position-dependent executable.
		{nil, b.exe, "own_data R_X86_64_64", scan.Static, 0, 0, false, false},
		// Position-dependent code using a library's variable: a copy.
		{nil, b.exe, "lib_data R_X86_64_PC32", scan.Static, resolve.NeedCopy, 0, false, false},
		// ... which a PIE cannot take as a 32-bit absolute address.
		{[]string{"-pie"}, b.exe, "own_data R_X86_64_32", 0, 0, 0, false, true},
	} {
		d, ok := decisions(t, c.obj, b.lib, c.output...)[c.rel]
		if !ok {
			t.Errorf("%v: no relocation %s", c.output, c.rel)
			continue
		}
		if (d.Err != "") != c.hasError || !c.hasError && (d.Action != c.action || d.Needs != c.needs || d.Relax != c.relax || d.UsePLT != c.usePLT) {
			t.Errorf("%v %s: %+v", c.output, c.rel, d)
		}
	}
}

// TestGOTEntry checks how GOT entries are filled: at run time for an
// import (GLOB_DAT), by RELATIVE for the output's own in a PIE, at link
// time in a position-dependent executable.
func TestGOTEntry(t *testing.T) {
	imported := &resolve.Symbol{Kind: resolve.Shared, Preemptible: true}
	own := &resolve.Symbol{Kind: resolve.Defined, Type: elf.STT_OBJECT, Section: &input.Section{}}
	for _, c := range []struct {
		pic  bool
		sym  *resolve.Symbol
		want scan.Action
	}{
		{true, imported, scan.Symbolic},
		{true, own, scan.Relative},
		{false, own, scan.Static},
		{false, imported, scan.Symbolic},
	} {
		ctx := &scan.Context{PIC: c.pic}
		if got := ctx.GOTEntry(c.sym); got != c.want {
			t.Errorf("pic %v, %+v: %v, want %v", c.pic, c.sym.Kind, got, c.want)
		}
	}
}
