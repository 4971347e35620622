package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// linkError is a link that fails: GNU ld's messages are the oracle for
// ldgo's.
type linkError struct {
	name    string
	sources map[string]string
	compile [][]string // gcc -c steps
	link    []string   // gcc arguments of the failing link (-o out added)
	// want is a fragment ldgo's message must have, for the errors GNU
	// ld has no words for.
	want string
}

var linkErrors = []linkError{
	{
		name:    "undefined reference",
		sources: map[string]string{"u.c": "extern int foo(void);\nint main(void) { return foo(); }\n"},
		compile: [][]string{{"-c", "u.c"}},
		link:    []string{"u.o"},
	},
	{
		name:    "undefined reference with debug information",
		sources: map[string]string{"u.c": "extern int foo(void);\nextern int bar;\nint main(void) {\n\treturn foo() + bar;\n}\n"},
		compile: [][]string{{"-g", "-c", "u.c"}},
		link:    []string{"u.o"},
	},
	{
		name: "multiple definition",
		sources: map[string]string{
			"m1.c": "int foo(void) { return 1; }\nint main(void) { return foo(); }\n",
			"m2.c": "int foo(void) { return 2; }\n",
		},
		compile: [][]string{{"-c", "m1.c", "m2.c"}},
		link:    []string{"m1.o", "m2.o"},
	},
	{
		name: "multiple definition of data",
		sources: map[string]string{
			"d1.c": "int v = 3;\n",
			"d2.c": "int v = 4;\nint main(void) { return v; }\n",
		},
		compile: [][]string{{"-c", "d1.c", "d2.c"}},
		link:    []string{"d1.o", "d2.o"},
	},
	{
		name:    "cannot find a library",
		sources: map[string]string{"m.c": "int main(void) { return 0; }\n"},
		compile: [][]string{{"-c", "m.c"}},
		link:    []string{"m.o", "-lnosuchlibrary"},
	},
	{
		name:    "32-bit absolute address in a PIE",
		sources: map[string]string{"r.c": "const char *f(void) { return \"hi\"; }\nint main(void) { return f() != 0; }\n"},
		compile: [][]string{{"-O", "-fno-pic", "-c", "r.c"}},
		link:    []string{"r.o"},
	},
	{
		name:    "32-bit absolute address of a symbol in a PIE",
		sources: map[string]string{"r.c": "int s[4];\nint *f(void) { return s; }\nint main(void) { return f() != 0; }\n"},
		compile: [][]string{{"-O", "-fno-pic", "-c", "r.c"}},
		link:    []string{"r.o"},
	},
	{
		name:    "PC-relative reference to data in a shared library",
		sources: map[string]string{"s.c": "extern int ext;\nint get(void) { return ext; }\n"},
		compile: [][]string{{"-O", "-fno-pic", "-c", "s.c"}},
		link:    []string{"-shared", "s.o"},
	},
	{
		// Every reference is reported, five in a row to one name at
		// most, whatever their object, as GNU ld reports them.
		name: "undefined references in a row",
		sources: map[string]string{
			"r1.c": "extern int foo(void);\nextern int bar(void);\nint a(void) { return foo() + bar() + foo(); }\n" +
				"int main(void) { return a() + foo() + foo() + foo() + foo() + foo() + foo(); }\n",
			"r2.c": "extern int foo(void);\nint b(void) { return foo(); }\n",
		},
		compile: [][]string{{"-c", "r1.c", "r2.c"}},
		link:    []string{"r1.o", "r2.o"},
	},
	{
		// A weak reference to a name a shared library of the link
		// refers to strongly is undefined, not weak.
		name: "weak reference to what a library needs",
		sources: map[string]string{
			"lib.c": "extern int bar(void);\nint foo(void) { return bar(); }\n",
			"w.c":   "extern int foo(void);\nextern int bar(void) __attribute__((weak));\nint main(void) { return foo() + (bar ? bar() : 0); }\n",
		},
		compile: [][]string{{"-shared", "-fPIC", "-o", "libfoo.so", "lib.c"}, {"-c", "w.c"}},
		link:    []string{"w.o", "./libfoo.so"},
	},
	{
		name:    "undefined reference in a shared library with -z defs",
		sources: map[string]string{"zd.c": "int missing(void);\nint f(void) { return missing(); }\n"},
		compile: [][]string{{"-fPIC", "-c", "zd.c"}},
		link:    []string{"-shared", "-Wl,-z,defs", "zd.o"},
	},
}

// ldMessages keeps a failed link's error messages, the linker's name and
// the build directory removed. Warnings are left out: GNU ld warns of
// what it would have made of a reference it then finds undefined (a
// text relocation), and ldgo stops at the error.
func ldMessages(out, ldPath, dir string) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		for _, p := range []string{"/usr/bin/ld.bfd: ", "/usr/bin/ld: ", ldPath + ": "} {
			l = strings.TrimPrefix(l, p)
		}
		if dir != "" {
			l = strings.ReplaceAll(l, dir+"/", "")
		}
		switch {
		case strings.Contains(l, "warning: "):
			continue
		// GNU ld's consequences of a relocation error, in BFD's terms.
		case l == "failed to set dynamic section sizes: bad value", l == "final link failed: bad value":
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

func TestLinkErrors(t *testing.T) {
	for _, c := range linkErrors {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			b := newLinkBuild(t, c.sources)
			for _, step := range c.compile {
				b.cc("gcc", step...)
			}
			out := map[string][]string{}
			for _, l := range linkers {
				if c.want != "" && l != "ldgo" {
					continue
				}
				old := b.path(l, "out")
				if err := os.WriteFile(old, []byte("old output"), 0o755); err != nil {
					t.Fatal(err)
				}
				msg, err := b.ccOne(l, "gcc", append(append([]string{}, c.link...), "-o", "out")...)
				if err == nil {
					t.Fatalf("%s linked the fixture", l)
				}
				out[l] = ldMessages(msg, filepath.Join(b.ld, "ld"), b.dir(l))
			}
			if c.want != "" {
				if !strings.Contains(strings.Join(out["ldgo"], "\n"), c.want) {
					t.Errorf("ldgo's message lacks %q:\n%s", c.want, strings.Join(out["ldgo"], "\n"))
				}
			} else if strings.Join(out["bfd"], "\n") != strings.Join(out["ldgo"], "\n") {
				t.Errorf("messages differ\nGNU ld:\n\t%s\nldgo:\n\t%s", strings.Join(out["bfd"], "\n\t"), strings.Join(out["ldgo"], "\n\t"))
			}
			// No half-written output: the old file is as it was, and no
			// temporary is left beside it.
			if data, err := os.ReadFile(b.path("ldgo", "out")); err != nil || string(data) != "old output" {
				t.Errorf("ldgo's failed link changed the output file: %q, %v", data, err)
			}
			entries, _ := os.ReadDir(b.dir("ldgo"))
			for _, e := range entries {
				if strings.Contains(e.Name(), ".ldgo-") {
					t.Errorf("temporary file %s left behind", e.Name())
				}
			}
		})
	}
}

// TestLinkUnknownOption checks that an option ldgo does not take is an
// error naming it, in GNU ld's words and with its status.
func TestLinkUnknownOption(t *testing.T) {
	ld := filepath.Join(ldgoAsLd(t), "ld")
	for _, args := range [][]string{{"--frobnicate"}, {"-zfrobnicate", "x.o"}, {"--just-symbols=x.o", "y.o"}} {
		cmd := exec.Command(ld, args...)
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Errorf("ld %s: %v, want exit status 1", strings.Join(args, " "), err)
		}
		name := strings.TrimPrefix(strings.Split(args[0], "=")[0], "-")
		if !strings.Contains(string(out), strings.TrimPrefix(name, "z")) {
			t.Errorf("ld %s: message does not name the option:\n%s", strings.Join(args, " "), out)
		}
	}
	bfd, _ := exec.Command("ld.bfd", "--frobnicate").CombinedOutput()
	ours, _ := exec.Command(ld, "--frobnicate").CombinedOutput()
	if want, got := ldMessages(strings.ReplaceAll(string(bfd), "ld.bfd: ", ""), ld, ""), ldMessages(string(ours), ld, ""); strings.Join(want, "\n") != strings.Join(got, "\n") {
		t.Errorf("unknown option: GNU ld says\n%s\nldgo says\n%s", strings.Join(want, "\n"), strings.Join(got, "\n"))
	}
}
