package rtld

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ldgo/ldgo/internal/testelf"
)

// TestProgramPath: a program named without a slash is found as execvp
// finds it — the first regular executable file in PATH's directories, an
// empty entry being the current directory, /bin:/usr/bin without PATH —
// which is what env(1), which calls execvp, runs.
func TestProgramPath(t *testing.T) {
	d := testelf.New(t)
	tool := func(dir string, mode os.FileMode) {
		d.Write(dir+"/tool", "#!/bin/sh\necho "+dir+"\n")
		if err := os.Chmod(d.File(dir+"/tool"), mode); err != nil {
			t.Fatal(err)
		}
	}
	tool("cwd", 0o755)
	tool("notexec", 0o644)
	tool("exec", 0o755)
	tool("later", 0o755)
	if err := os.MkdirAll(d.File("dir/tool"), 0o755); err != nil {
		t.Fatal(err)
	}
	type pathCase struct {
		name, path, prog string // path "-": no PATH at all
		want             string // the directory of the program run, or "not found"
	}
	cases := []pathCase{
		{"the first directory that has it", "exec:later", "tool", "exec"},
		{"a file that is not executable is passed over", "notexec:exec", "tool", "exec"},
		{"a directory is passed over", "dir:exec", "tool", "exec"},
		{"an empty entry is the current directory", ":later", "tool", "cwd"},
		{"an empty entry at the end too", "notexec:", "tool", "cwd"},
		{"a name with a slash is not searched", "later", "./tool", "cwd"},
		{"not in PATH", "notexec:dir", "tool", "not found"},
	}
	// A program in /usr/local/bin alone is not found without PATH.
	if entries, err := os.ReadDir("/usr/local/bin"); err == nil {
		for _, e := range entries {
			name := e.Name()
			if info, err := e.Info(); err != nil || !info.Mode().IsRegular() || info.Mode()&0o111 == 0 {
				continue
			}
			if _, err := os.Stat("/usr/bin/" + name); err == nil {
				continue
			}
			if _, err := os.Stat("/bin/" + name); err == nil {
				continue
			}
			cases = append(cases, pathCase{"without PATH, /bin:/usr/bin", "-", name, "not found"})
			break
		}
	}
	cases = append(cases, pathCase{"without PATH, a program in /bin", "-", "true", "/bin"})

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var env []string
			if tc.path != "-" {
				var dirs []string
				for _, dir := range strings.Split(tc.path, ":") {
					if dir != "" {
						dir = d.File(dir)
					}
					dirs = append(dirs, dir)
				}
				env = []string{"PATH=" + strings.Join(dirs, ":")}
			}
			// What execvp runs: the fixtures say where they are.
			cmd := exec.Command("/usr/bin/env", tc.prog)
			cmd.Dir, cmd.Env = d.File("cwd"), env
			out, err := cmd.CombinedOutput()
			if native := d.Short(strings.TrimSpace(string(out))); (err != nil) != (tc.want == "not found") || err == nil && native != "" && native != tc.want {
				t.Fatalf("natively env runs %s: %q (%v), want the program in %s", tc.prog, native, err, tc.want)
			}

			wd, _ := os.Getwd()
			if err := os.Chdir(d.File("cwd")); err != nil {
				t.Fatal(err)
			}
			defer os.Chdir(wd)
			got, err := ProgramPath(tc.prog, env)
			switch {
			case tc.want == "not found":
				if err == nil {
					t.Errorf("found %s, want none", got)
				}
			case err != nil:
				t.Errorf("%v, want the program in %s", err, tc.want)
			default:
				abs, _ := filepath.Abs(got)
				if dir := d.Short(filepath.Dir(abs)); dir != tc.want {
					t.Errorf("found %s, in %s, want the program in %s", got, dir, tc.want)
				}
			}
		})
	}
}

// TestScript: the interpreter and its argument a "#!" line names, as the
// kernel reads them (fs/binfmt_script.c): the interpreter ends at a space
// or a tab, the argument is the rest of the line but for the spaces and
// tabs around it. The kernel, running the script, passes them to the
// interpreter, which prints them.
func TestScript(t *testing.T) {
	d := testelf.New(t)
	args := d.Build("args", `
#include <stdio.h>
int main(int argc, char **argv) {
	for (int i = 0; i < argc - 1; i++)
		printf("[%s]\n", argv[i]);
	return 0;
}
`)
	for i, tc := range []struct {
		name, line string // the first line, after "#!"; ARGS stands for the interpreter
		interp     string
		arg        string
	}{
		{"an interpreter alone", "ARGS", "ARGS", ""},
		{"an argument", "ARGS -x", "ARGS", "-x"},
		{"spaces around them", "  ARGS   -x  ", "ARGS", "-x"},
		{"an argument with spaces in it, passed whole", "ARGS one  two", "ARGS", "one  two"},
		{"a tab after the interpreter", "ARGS\t-x", "ARGS", "-x"},
		{"tabs around them", "\tARGS \t-x\t", "ARGS", "-x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := strings.ReplaceAll(tc.line, "ARGS", args)
			script := d.Write(filepath.Join("scripts", strings.Repeat("s", i+1)), "#!"+line+"\necho not run\n")
			if err := os.Chmod(script, 0o755); err != nil {
				t.Fatal(err)
			}
			want := "[" + args + "]\n"
			if tc.arg != "" {
				want += "[" + tc.arg + "]\n"
			}
			native, err := exec.Command(script).Output()
			if err != nil || string(native) != want {
				t.Fatalf("the kernel passes\n%s(%v)\nwant\n%s", native, err, want)
			}
			interp, arg, ok := Script(script)
			if !ok || interp != strings.ReplaceAll(tc.interp, "ARGS", args) || arg != tc.arg {
				t.Errorf("Script: %q %q %v, want %q %q", interp, arg, ok, args, tc.arg)
			}
		})
	}
}
