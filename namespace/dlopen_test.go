package namespace_test

import (
	"debug/elf"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ldgo/ldgo/internal/testelf"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/namespace"
)

// dlProgram runs the dl* calls its arguments name and prints what they
// did:
//
//	open:LIB[:global|:deepbind]  dlopen(LIB, RTLD_NOW | mode)
//	close:LIB                    dlclose; "closed LIB"
//	who:LIB                      LIB's plug_who(), which returns who()
//	default:SYM                  "SYM found" if dlsym(RTLD_DEFAULT) finds it
//
// The libraries' destructors print "fini NAME"; the program leaves
// without running those of what is still loaded.
const dlProgram = `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static void *handles[8];
static const char *names[8];
static int n;
static void *handle(const char *name) {
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return handles[i];
	return 0;
}
int main(int argc, char **argv) {
	for (int i = 1; i < argc; i++) {
		char *op = strtok(argv[i], ":"), *arg = strtok(0, ":"), *mode = strtok(0, ":");
		if (!strcmp(op, "open")) {
			int flags = RTLD_NOW;
			if (mode && !strcmp(mode, "global")) flags |= RTLD_GLOBAL;
			if (mode && !strcmp(mode, "deepbind")) flags |= RTLD_DEEPBIND;
			names[n] = arg;
			handles[n++] = dlopen(arg, flags);
		} else if (!strcmp(op, "close")) {
			dlclose(handle(arg));
			printf("closed %s\n", arg);
		} else if (!strcmp(op, "who")) {
			const char *(*f)(void) = dlsym(handle(arg), "plug_who");
			printf("%s\n", f());
		} else if (!strcmp(op, "default")) {
			printf("%s %s\n", arg, dlsym(RTLD_DEFAULT, arg) ? "found" : "not found");
		}
	}
	fflush(stdout);
	_exit(0);
}
`

// dlLibrary is a library whose who() returns its name and whose
// destructor prints "fini NAME".
func dlLibrary(name, more string) string {
	return fmt.Sprintf(`
#include <stdio.h>
const char *who(void) { return "lib%[1]s.so:who"; }
__attribute__((destructor)) static void fini(void) { puts("fini %[1]s"); }
%[2]s
`, name, more)
}

// TestDlopen: the scopes dlopen gives what it loads — the global scope,
// then the object's own searchlist (RTLD_DEEPBIND: the other way round);
// the object's place in the global scope (RTLD_GLOBAL); and what dlclose
// unloads, in the order the finalizers run, keeping what other objects
// still need or bound to. The engine makes the same
// calls as the program, and says what the program would print.
func TestDlopen(t *testing.T) {
	t.Parallel()
	d := testelf.New(t)
	d.Build("libglobal.so", dlLibrary("global", ""))
	d.Build("libdep.so", dlLibrary("dep", ""))
	d.Build("libplug.so", `
#include <stdio.h>
const char *who(void);
const char *plug_who(void) { return who(); }
int plug_sym;
__attribute__((destructor)) static void fini(void) { puts("fini plug"); }
`, "-ldep")
	// libuser.so binds to plug_sym wherever it is.
	d.Build("libuser.so", `
#include <stdio.h>
extern int plug_sym;
int *user(void) { return &plug_sym; }
__attribute__((destructor)) static void fini(void) { puts("fini user"); }
`)
	prog := d.Build("main", dlProgram, "-lglobal")
	env, opts := libraryPath(d)

	for _, tc := range []struct {
		name string
		ops  []string
		want []string
	}{
		{"the global scope first", []string{"open:libplug.so", "who:libplug.so"},
			[]string{"libglobal.so:who"}},
		{"RTLD_DEEPBIND: the object's own searchlist first", []string{"open:libplug.so:deepbind", "who:libplug.so"},
			[]string{"libdep.so:who"}},
		{"RTLD_LOCAL keeps the object out of the global scope", []string{"open:libplug.so", "default:plug_sym"},
			[]string{"plug_sym not found"}},
		{"RTLD_GLOBAL puts it there", []string{"open:libplug.so:global", "default:plug_sym"},
			[]string{"plug_sym found"}},
		{"RTLD_GLOBAL on an object already open", []string{"open:libplug.so", "open:libplug.so:global", "default:plug_sym"},
			[]string{"plug_sym found"}},
		{"dlclose unloads the object and what it brought", []string{"open:libplug.so", "close:libplug.so"},
			[]string{"fini plug", "fini dep", "closed libplug.so"}},
		{"dlclose keeps what is still open", []string{"open:libdep.so", "open:libplug.so", "close:libplug.so"},
			[]string{"fini plug", "closed libplug.so"}},
		{"dlclose keeps what an open object binds to, until that is closed",
			[]string{"open:libplug.so:global", "open:libuser.so", "close:libplug.so", "close:libuser.so"},
			[]string{"closed libplug.so", "fini user", "fini plug", "fini dep", "closed libuser.so"}},
		{"nothing is unloaded while it is open twice", []string{"open:libplug.so", "open:libplug.so", "close:libplug.so"},
			[]string{"closed libplug.so"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			native := d.Lines(env, prog, tc.ops...)
			if !slices.Equal(native, tc.want) {
				t.Fatalf("the program run natively prints %q, want %q", native, tc.want)
			}
			if got := dlCalls(t, load(t, prog, opts), tc.ops); !slices.Equal(got, tc.want) {
				t.Errorf("the engine says %q, want %q", got, tc.want)
			}
		})
	}
}

// dlCalls makes the calls of dlProgram's ops through the namespace, as
// the run-time linker makes them for a program's dl* calls, and returns
// what the program would print.
func dlCalls(t *testing.T, ns *namespace.Namespace, ops []string) []string {
	t.Helper()
	handles := map[string]*linkmap.Map{}
	var out []string
	for _, op := range ops {
		parts := append(strings.Split(op, ":"), "")
		arg, mode := parts[1], parts[2]
		switch parts[0] {
		case "open":
			m, added, err := ns.Dlopen(arg, ns.Main, namespace.OpenMode{Global: mode == "global", DeepBind: mode == "deepbind"})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range added {
				if err := ns.Relocate(a, namespace.RelocOptions{SkipIFunc: true}); err != nil {
					t.Fatal(err)
				}
			}
			m.Opencount++ // as dlopen's caller counts it
			handles[arg] = m
		case "close":
			gone, err := ns.Dlclose(handles[arg])
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range gone {
				out = append(out, "fini "+strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m.Name), "lib"), ".so"))
			}
			ns.Unload(gone)
			out = append(out, "closed "+arg)
		case "who":
			m := handles[arg]
			res, err := ns.LookupReference(m, 0, symbolIndex(t, m, "who"), lookup.ClassPLT)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, filepath.Base(res.Map.Name)+":who")
		case "default":
			if _, err := ns.Dlsym(nil, ns.Main, false, arg, ""); err != nil {
				out = append(out, arg+" not found")
			} else {
				out = append(out, arg+" found")
			}
		}
	}
	return out
}

// symbolIndex returns the index of m's dynamic symbol name.
func symbolIndex(t *testing.T, m *linkmap.Map, name string) uint32 {
	t.Helper()
	for i := 1; i < m.Obj.NumSymbols(); i++ {
		if m.Obj.SymbolName(uint32(i)) == name {
			if s := m.Obj.Symbol(uint32(i)); s.Type() != elf.STT_SECTION {
				return uint32(i)
			}
		}
	}
	t.Fatalf("%s has no symbol %s", m.Name, name)
	return 0
}
