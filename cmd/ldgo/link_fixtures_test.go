package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The link editor is tested against GNU ld: each fixture is built twice
// from the same sources by gcc, once linked by GNU ld (-fuse-ld=bfd) and
// once by ldgo (gcc -B DIR, with DIR/ld a link to the ldgo binary), and
// the GNU ld build is the oracle for what the ldgo one must do.

var ldDir struct {
	once sync.Once
	dir  string
	err  error
}

// ldgoAsLd returns a directory whose ld is the ldgo binary.
func ldgoAsLd(t *testing.T) string {
	t.Helper()
	bin := buildLdgo(t)
	ldDir.once.Do(func() {
		ldDir.dir = filepath.Join(filepath.Dir(bin), "bin")
		if ldDir.err = os.MkdirAll(ldDir.dir, 0o755); ldDir.err == nil {
			ldDir.err = os.Symlink(bin, filepath.Join(ldDir.dir, "ld"))
		}
	})
	if ldDir.err != nil {
		t.Fatal(ldDir.err)
	}
	return ldDir.dir
}

// linkers are the two builds of a fixture, the oracle first.
var linkers = []string{"bfd", "ldgo"}

// linkBuild is a fixture's sources and its two builds.
type linkBuild struct {
	t    *testing.T
	root string
	ld   string // directory of ldgo as ld
}

func newLinkBuild(t *testing.T, sources map[string]string) *linkBuild {
	t.Helper()
	for _, tool := range []string{"gcc", "g++", "readelf"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	b := &linkBuild{t: t, root: t.TempDir(), ld: ldgoAsLd(t)}
	for _, l := range linkers {
		for name, text := range sources {
			p := filepath.Join(b.root, l, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return b
}

// dir is where linker's build is made.
func (b *linkBuild) dir(linker string) string { return filepath.Join(b.root, linker) }

func (b *linkBuild) path(linker, name string) string { return filepath.Join(b.dir(linker), name) }

// linkerFlags are the compiler-driver flags that pick the linker.
func (b *linkBuild) linkerFlags(linker string) []string {
	if linker == "ldgo" {
		return []string{"-B", b.ld}
	}
	return []string{"-fuse-ld=bfd"}
}

// cc runs the compiler driver with args in both builds, each with its
// linker.
func (b *linkBuild) cc(driver string, args ...string) {
	b.t.Helper()
	for _, l := range linkers {
		if out, err := b.ccOne(l, driver, args...); err != nil {
			b.t.Fatalf("%s build: %s %s: %v\n%s", l, driver, strings.Join(args, " "), err, out)
		}
	}
}

func (b *linkBuild) ccOne(linker, driver string, args ...string) (string, error) {
	cmd := exec.Command(driver, append(b.linkerFlags(linker), args...)...)
	cmd.Dir = b.dir(linker)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// run runs a program of each build natively (in its build directory) and
// checks that both do the same; it returns what they did.
func (b *linkBuild) run(env []string, prog string, args ...string) result {
	b.t.Helper()
	var rs []result
	for _, l := range linkers {
		cmd := exec.Command(b.path(l, prog), args...)
		cmd.Dir = b.dir(l)
		cmd.Env = env
		rs = append(rs, runCommand(b.t, cmd))
	}
	if rs[0] != rs[1] {
		b.t.Errorf("%s linked by ldgo does not do what it does linked by GNU ld\nGNU ld: status %d\nstdout:\n%s\nstderr:\n%s\nldgo: status %d\nstdout:\n%s\nstderr:\n%s",
			prog, rs[0].status, rs[0].stdout, rs[0].stderr, rs[1].status, rs[1].stdout, rs[1].stderr)
	}
	return rs[1]
}

// runHosted runs ldgo's build of prog under `ldgo run` and compares it
// with its native run.
func (b *linkBuild) runHosted(env []string, prog string, args ...string) {
	b.t.Helper()
	bin := buildLdgo(b.t)
	nat := exec.Command(b.path("ldgo", prog), args...)
	nat.Dir, nat.Env = b.dir("ldgo"), env
	hos := exec.Command(bin, append([]string{"run", b.path("ldgo", prog)}, args...)...)
	hos.Dir, hos.Env = b.dir("ldgo"), env
	sameResult(b.t, prog+" linked by ldgo, under ldgo run", runCommand(b.t, nat), runCommand(b.t, hos))
}

// checkELF checks an output of ldgo's as tools read it: eu-elflint
// --gnu-ld finds no error, and readelf -a reads it without a warning.
func checkELF(t *testing.T, path string) { checkELFLike(t, path, "") }

var elflintNumbers = regexp.MustCompile(`\[ *\d+\]|symbol \d+|entry \d+|offset 0x[0-9a-f]+`)

// elflint returns eu-elflint --gnu-ld's complaints about path, without
// the section and symbol numbers that name their places.
func elflint(t *testing.T, path string) []string {
	t.Helper()
	out, err := exec.Command("eu-elflint", "--gnu-ld", path).CombinedOutput()
	if err == nil && strings.TrimSpace(string(out)) == "No errors" {
		return nil
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		lines = append(lines, elflintNumbers.ReplaceAllString(l, "#"))
	}
	if len(lines) == 0 {
		lines = []string{err.Error()}
	}
	return lines
}

// checkELFLike is checkELF where eu-elflint's complaints about oracle,
// GNU ld's output of the same fixture, are not held against ldgo's
// (eu-elflint wrongly refuses protected symbols in .dynsym, which GNU
// ld writes too).
func checkELFLike(t *testing.T, path, oracle string) {
	t.Helper()
	// readelf writes its warnings ("readelf: Warning: ...") to stderr.
	cmd := exec.Command("readelf", "-a", "-W", path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("readelf -a %s: %v\n%s", path, err, stderr.String())
	}
	if _, err := exec.LookPath("eu-elflint"); err != nil {
		t.Errorf("eu-elflint not installed (apt-get install elfutils): %s not checked", path)
		return
	}
	got := elflint(t, path)
	if oracle != "" {
		got = minus(got, elflint(t, oracle))
	}
	if len(got) > 0 {
		t.Errorf("eu-elflint --gnu-ld %s:\n%s", path, strings.Join(got, "\n"))
	}
}

// check checks ldgo's build of an output (checkELF, with GNU ld's as the
// oracle) and compares it with GNU ld's (sameDynamic).
func (b *linkBuild) check(name string) {
	b.t.Helper()
	checkELFLike(b.t, b.path("ldgo", name), b.path("bfd", name))
	b.sameDynamic(name)
}

// sameDynamic checks that an output of both builds defines, imports,
// needs and versions the same: readelf --dyn-syms, -d and -V compared as
// sets of names (addresses and table layout may differ).
func (b *linkBuild) sameDynamic(name string) {
	b.t.Helper()
	for _, what := range []struct {
		view string
		read func(t *testing.T, path string) []string
	}{
		{"readelf --dyn-syms", dynamicSymbols},
		{"readelf -d", dynamicTags},
		{"readelf -V", versionNames},
	} {
		want := what.read(b.t, b.path("bfd", name))
		got := what.read(b.t, b.path("ldgo", name))
		if !slices.Equal(want, got) {
			b.t.Errorf("%s %s: ldgo's differs from GNU ld's\nonly GNU ld's:\n\t%s\nonly ldgo's:\n\t%s",
				what.view, name, strings.Join(minus(want, got), "\n\t"), strings.Join(minus(got, want), "\n\t"))
		}
	}
}

// openELF opens an output for reading, closed when the test ends.
func openELF(t *testing.T, path string) *elf.File {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func minus(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

func readelf(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("readelf", append([]string{"-W"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("readelf %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

var (
	symLine     = regexp.MustCompile(`^\s*\d+: [0-9a-f]+\s+\d+ (\S+)\s+(\S+)\s+(\S+)\s+(\S+) (.*)$`)
	versionNum  = regexp.MustCompile(` \(\d+\)$`)
	dynTagLine  = regexp.MustCompile(`^\s*0x[0-9a-f]+ \((\w+)\)\s+(.*)$`)
	verNameLine = regexp.MustCompile(`Name: (\S+)\s+Flags: (\S+)`)
	verFileLine = regexp.MustCompile(`File: (\S+)`)
	verDefLine  = regexp.MustCompile(`Flags: (\S+)\s+Index: \d+\s+Cnt: \d+\s+Name: (\S+)`)
	verParent   = regexp.MustCompile(`Parent \d+: (\S+)`)
)

// dynamicSymbols lists .dynsym as "BIND TYPE VIS DEF|UND NAME@VERSION".
func dynamicSymbols(t *testing.T, path string) []string {
	var syms []string
	for _, l := range strings.Split(readelf(t, "--dyn-syms", path), "\n") {
		m := symLine.FindStringSubmatch(l)
		if m == nil || m[5] == "" {
			continue
		}
		def := "DEF"
		if m[4] == "UND" {
			def = "UND"
		}
		name := versionNum.ReplaceAllString(strings.TrimSpace(m[5]), "")
		if name == "" {
			continue
		}
		syms = append(syms, strings.Join([]string{m[2], m[1], m[3], def, name}, " "))
	}
	return sortUnique(syms)
}

// dynamicTags lists what .dynamic says of needs and behaviour (not
// where the tables are).
func dynamicTags(t *testing.T, path string) []string {
	var tags []string
	for _, l := range strings.Split(readelf(t, "-d", path), "\n") {
		m := dynTagLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		switch m[1] {
		case "NEEDED", "SONAME", "RUNPATH", "RPATH", "FLAGS", "FLAGS_1", "TEXTREL", "SYMBOLIC", "BIND_NOW":
			tags = append(tags, m[1]+" "+m[2])
		}
	}
	return sortUnique(tags)
}

// versionNames lists the versions an object defines and needs, with the
// file each needed one comes from.
func versionNames(t *testing.T, path string) []string {
	var names []string
	file := ""
	for _, l := range strings.Split(readelf(t, "-V", path), "\n") {
		if m := verFileLine.FindStringSubmatch(l); m != nil {
			file = m[1]
			continue
		}
		if strings.Contains(l, "Version definition") {
			file = "(defined)"
		}
		if m := verDefLine.FindStringSubmatch(l); m != nil {
			names = append(names, file+": "+m[2]+" "+m[1])
			continue
		}
		if m := verParent.FindStringSubmatch(l); m != nil {
			names = append(names, file+": parent "+m[1])
			continue
		}
		if m := verNameLine.FindStringSubmatch(l); m != nil {
			names = append(names, file+": "+m[1]+" "+m[2])
		}
	}
	return sortUnique(names)
}
