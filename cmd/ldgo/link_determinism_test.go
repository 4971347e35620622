package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestLinkDeterministic links the same inputs with every thread count
// and requires the same bytes each time: the passes share work among
// goroutines, and nothing of their order may reach the output. The inputs
// are Debian's SQLite and Lua archives, whole, in PIEs, and a generated
// shared library of many small sections with debug information (thousands of sections, merged strings, .eh_frame, a build ID).
func TestLinkDeterministic(t *testing.T) {
	needFiles(t, "libsqlite3-dev and liblua5.4-dev", debianLib+"/libsqlite3.a", debianLib+"/liblua5.4.a")
	ld := ldgoAsLd(t)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lua := write("lua.c", "int luaL_newstate(void);\nint main(void) { return !luaL_newstate(); }\n")
	sqlite := write("sqlite.c", "const char *sqlite3_libversion(void);\nint main(void) { return !sqlite3_libversion(); }\n")
	var many bytes.Buffer
	for i := range 400 {
		fmt.Fprintf(&many, "const char *f%d(int x) { static const char *s[] = {\"%d\", \"shared %d\"}; return s[x & 1]; }\n", i, i, i%37)
	}
	lib := write("many.c", many.String())
	links := map[string][]string{
		"libmany.so": {"-shared", "-fPIC", "-g", "-ffunction-sections", "-fdata-sections", lib},
		"lua":        {lua, "-Wl,--whole-archive", debianLib + "/liblua5.4.a", "-Wl,--no-whole-archive", "-lm"},
		"sqlite":     {sqlite, "-Wl,--whole-archive", debianLib + "/libsqlite3.a", "-Wl,--no-whole-archive", "-lm"},
	}
	for name, args := range links {
		var first []byte
		for i, threads := range []string{"", "--threads=1", "--threads=2", "--threads=4", "--no-threads", ""} {
			out := filepath.Join(dir, fmt.Sprintf("%s.%d", name, i))
			line := append([]string{"-B", ld, "-o", out}, args...)
			if threads != "" {
				line = append(line, "-Wl,"+threads)
			}
			if msg, err := exec.Command("gcc", line...).CombinedOutput(); err != nil {
				t.Fatalf("gcc %v: %v\n%s", line, err, msg)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if first == nil {
				first = data
				continue
			}
			if !bytes.Equal(data, first) {
				t.Errorf("%s linked with %q differs from its first link (%d and %d bytes)", name, threads, len(data), len(first))
			}
		}
	}
	for _, prog := range []string{"lua.0", "sqlite.0"} {
		if out, err := exec.Command(filepath.Join(dir, prog)).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", prog, err, out)
		}
	}
}
