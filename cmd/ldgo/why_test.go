package main

import (
	"debug/elf"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/ldgo/ldgo/internal/testelf"
	"github.com/ldgo/ldgo/lookup"
)

// ldgo why explains bindings; which definition each reference binds to is
// glibc's to say (LD_DEBUG=bindings over the same files), and the rule
// ldgo names must be the one the fixture was built to show.

// whyDoc is the part of ldgo why's JSON document the tests read.
type whyDoc struct {
	Symbol     string `json:"symbol"`
	References []struct {
		Object      string `json:"object"`
		Version     string `json:"version"`
		Class       string `json:"class"`
		Visibility  string `json:"visibility"`
		LookedUp    bool   `json:"looked_up"`
		Rule        string `json:"rule"`
		Explanation string `json:"explanation"`
		Relocations []struct {
			Type string `json:"type"`
		} `json:"relocations"`
		Scope []struct {
			Object  string `json:"object"`
			Answer  bool   `json:"answer"`
			Symbols []struct {
				Version string `json:"version"`
				Verdict string `json:"verdict"`
			} `json:"symbols"`
		} `json:"scope"`
		BindsTo *struct {
			Object string `json:"object"`
		} `json:"binds_to"`
	} `json:"references"`
	Definitions []struct {
		Object     string `json:"object"`
		Referenced bool   `json:"referenced"`
	} `json:"definitions"`
}

func whyJSON(t *testing.T, env []string, symbol, prog string) whyDoc {
	t.Helper()
	r := ldgoStreams(t, env, "why", "--json", symbol, prog)
	if r.status != 0 {
		t.Fatalf("ldgo why %s %s: status %d\n%s%s", symbol, prog, r.status, r.stdout, r.stderr)
	}
	var doc whyDoc
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("ldgo why --json: %v\n%s", err, r.stdout)
	}
	return doc
}

// whyAgreesWithGlibc checks that every reference ldgo why looked up binds
// where glibc binds it, and that glibc binds no reference of the name why
// did not tell of.
func whyAgreesWithGlibc(t *testing.T, env []string, doc whyDoc, prog string) {
	t.Helper()
	var want []string
	for _, l := range glibcBindings(t, env, prog) {
		if strings.Contains(l, " symbol `"+doc.Symbol+"'") {
			want = append(want, l)
		}
	}
	var got []string
	for _, r := range doc.References {
		if !r.LookedUp || r.BindsTo == nil {
			continue
		}
		got = append(got, lookup.BindingLine(r.Object, r.BindsTo.Object, doc.Symbol, r.Version, r.Visibility == "protected"))
	}
	sameLines(t, "bindings of "+doc.Symbol, want, sortUnique(got))
}

// wantRules checks the rule of each reference, named "object class".
func wantRules(t *testing.T, doc whyDoc, rules map[string]string) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range doc.References {
		k := r.Object + " " + r.Class
		seen[k] = true
		if want, ok := rules[k]; ok && r.Rule != want {
			t.Errorf("%s's %s reference to %s: rule %s, want %s (%s)", r.Object, r.Class, doc.Symbol, r.Rule, want, r.Explanation)
		}
	}
	for k := range rules {
		if !seen[k] {
			t.Errorf("no %s reference to %s; ldgo why found %+v", k, doc.Symbol, doc.References)
		}
	}
}

// The program's own definition comes first in every scope: the library's
// call of its own foo goes to the program's.
func TestWhyProgramInterposes(t *testing.T) {
	f := newFixture(t)
	f.lib("liba.so", `const char *foo(void) { return "liba"; } const char *call_foo(void) { return foo(); }`)
	prog := f.prog("prog", `
#include <stdio.h>
const char *call_foo(void);
const char *foo(void) { return "prog"; }
int main(void) { puts(call_foo()); return 0; }
`, "-L.", "-la", "-Wl,-rpath,"+f.dir)
	doc := whyJSON(t, nil, "foo", prog)
	whyAgreesWithGlibc(t, nil, doc, prog)
	wantRules(t, doc, map[string]string{f.path("liba.so") + " plt": "interposition-program"})
	text := mustLdgo(t, nil, "why", "foo", prog)
	if !strings.Contains(text, "interposes on "+f.path("liba.so")+"'s") {
		t.Errorf("ldgo why does not say the program interposes on liba.so:\n%s", text)
	}
}

// A preloaded object comes right after the program: it interposes on the
// library's definition, for the program's references and the library's.
func TestWhyPreloadInterposes(t *testing.T) {
	f := newFixture(t)
	f.lib("liba.so", `const char *foo(void) { return "liba"; } const char *call_foo(void) { return foo(); }`)
	f.lib("libpre.so", `const char *foo(void) { return "preload"; }`)
	prog := f.prog("prog", `
#include <stdio.h>
const char *foo(void);
const char *call_foo(void);
int main(void) { puts(foo()); puts(call_foo()); return 0; }
`, "-L.", "-la", "-Wl,-rpath,"+f.dir)
	env := []string{"LD_PRELOAD=" + f.path("libpre.so")}
	doc := whyJSON(t, env, "foo", prog)
	whyAgreesWithGlibc(t, env, doc, prog)
	wantRules(t, doc, map[string]string{
		prog + " plt":              "interposition-preload",
		f.path("liba.so") + " plt": "interposition-preload",
	})
	// The same with --preload.
	viaOption := ldgoStreams(t, nil, "why", "--json", "--preload", f.path("libpre.so"), "foo", prog)
	viaEnv := ldgoStreams(t, env, "why", "--json", "foo", prog)
	if viaOption != viaEnv {
		t.Errorf("--preload and LD_PRELOAD differ:\n%s\n%s", viaOption.stdout, viaEnv.stdout)
	}
}

// Two versions of one symbol in one library (.symver and a version
// script), and an earlier library with the name at another version only:
// each reference takes the version it asks for, passing the others over.
func TestWhyVersions(t *testing.T) {
	f := newFixture(t)
	f.write("v1.map", "V1 { global: foo; local: *; };\n")
	f.lib("libv.so", `int foo(void) { return 1; }`, "-Wl,--version-script=v1.map", "-Wl,-soname,libv.so")
	f.lib("libw.so", `int other(void) { return 0; }`, "-Wl,-soname,libw.so")
	src := `int foo(void); int main(void) { return foo(); }`
	old := f.prog("old", src, "-L.", "-Wl,--no-as-needed", "-lw", "-lv", "-Wl,-rpath,"+f.dir)
	f.fooV1V2Lib()
	cur := f.prog("new", src, "-L.", "-Wl,--no-as-needed", "-lw", "-lv", "-Wl,-rpath,"+f.dir)
	// Now libw, before libv in the scope, defines foo at W only.
	f.write("w.map", "W { global: foo; other; local: *; };\n")
	f.lib("libw.so", `int foo(void) { return 9; } int other(void) { return 0; }`, "-Wl,--version-script=w.map", "-Wl,-soname,libw.so")
	for _, p := range []struct{ prog, version string }{{old, "V1"}, {cur, "V2"}} {
		doc := whyJSON(t, nil, "foo", p.prog)
		whyAgreesWithGlibc(t, nil, doc, p.prog)
		wantRules(t, doc, map[string]string{p.prog + " plt": "version"})
		for _, r := range doc.References {
			if r.Version != p.version {
				t.Errorf("%s asks for foo@%s, ldgo why says %q", p.prog, p.version, r.Version)
			}
			verdicts := map[string]string{}
			for _, c := range r.Scope {
				for _, s := range c.Symbols {
					verdicts[c.Object+" "+s.Version] = s.Verdict
				}
			}
			if v := verdicts[f.path("libw.so")+" W"]; v != "other-version" {
				t.Errorf("%s: libw.so's foo@@W: %q, want other-version; %v", p.prog, v, verdicts)
			}
			if v := verdicts[f.path("libv.so")+" "+p.version]; v != "taken" {
				t.Errorf("%s: libv.so's foo@%s: %q, want taken; %v", p.prog, p.version, v, verdicts)
			}
		}
	}
}

// A weak definition is as good as a global one at run time: the first in
// the scope wins, though a later library has a global one.
func TestWhyWeakBeforeStrong(t *testing.T) {
	f := newFixture(t)
	f.lib("libweak.so", `__attribute__((weak)) const char *wf(void) { return "weak"; }`)
	f.lib("libstrong.so", `const char *wf(void) { return "strong"; }`)
	prog := f.prog("prog", `
#include <stdio.h>
const char *wf(void);
int main(void) { puts(wf()); return 0; }
`, "-L.", "-Wl,--no-as-needed", "-lweak", "-lstrong", "-Wl,-rpath,"+f.dir)
	doc := whyJSON(t, nil, "wf", prog)
	whyAgreesWithGlibc(t, nil, doc, prog)
	wantRules(t, doc, map[string]string{prog + " plt": "first-in-scope-weak"})
}

// A COPY relocation's definition is looked for past the executable; every
// other reference, the library's own included, binds to the copy.
func TestWhyCopyRelocation(t *testing.T) {
	f := newFixture(t)
	f.lib("libcv.so", `int counter = 42; int get(void) { return counter; }`)
	prog := f.prog("prog", `
extern int counter;
int get(void);
int main(void) { return counter + get() == 84 ? 0 : 1; }
`, "-no-pie", "-fno-pic", "-L.", "-lcv", "-Wl,-rpath,"+f.dir)
	if !hasCopyReloc(t, prog) {
		t.Fatal("gcc made no COPY relocation")
	}
	doc := whyJSON(t, nil, "counter", prog)
	whyAgreesWithGlibc(t, nil, doc, prog)
	wantRules(t, doc, map[string]string{
		prog + " copy":                 "copy",
		f.path("libcv.so") + " normal": "copy-destination",
	})
	for _, r := range doc.References {
		if r.Class == "copy" && (len(r.Scope) == 0 || r.Scope[0].Object != prog) {
			t.Errorf("the COPY lookup's scope does not begin with the executable: %+v", r.Scope)
		}
	}
}

// STB_GNU_UNIQUE (g++'s template static data member): the first
// definition a lookup meets is the namespace's one, for every reference,
// even that of a -Bsymbolic library whose own scope begins with itself.
func TestWhyUnique(t *testing.T) {
	f := newFixture(t)
	src := f.write("u.cc", `
template<class T> struct S { static int v; };
template<class T> int S<T>::v = 42;
extern "C" int *FN() { return &S<int>::v; }
`)
	for _, lib := range []struct{ name, fn string }{{"libua.so", "get_a"}, {"libub.so", "get_b"}} {
		args := []string{"-shared", "-fPIC", "-x", "c++", "-DFN=" + lib.fn, "-o", lib.name, src}
		if lib.name == "libub.so" {
			args = append(args, "-Wl,-Bsymbolic")
		}
		f.gcc(args...)
	}
	prog := f.prog("prog", `
int *get_a(void);
int *get_b(void);
int main(void) { return get_a() == get_b() ? 0 : 1; }
`, "-L.", "-lub", "-lua", "-Wl,-rpath,"+f.dir)
	if r := runCmd(t, nil, "", prog); r.status != 0 {
		t.Fatalf("natively the libraries' S<int>::v are not one: %+v", r)
	}
	const v = "_ZN1SIiE1vE"
	doc := whyJSON(t, nil, v, prog)
	whyAgreesWithGlibc(t, nil, doc, prog)
	wantRules(t, doc, map[string]string{
		f.path("libua.so") + " normal": "unique",
		f.path("libub.so") + " normal": "unique",
	})
}

// A protected symbol's own references bind in its object, though the
// executable comes first with a copy; the address of a protected
// function is the executable's PLT entry, for one address everywhere.
// GNU ld binds a library's own protected references when it links it,
// so the library is made protected after it is linked, as libraries from
// older linkers are.
func TestWhyProtected(t *testing.T) {
	f := newFixture(t)
	f.lib("libp.so", `
int pv = 1;
int *addr_pv(void) { return &pv; }
const char *pf(void) { return "libp.so:pf"; }
const char *(*addr_pf(void))(void) { return pf; }
`)
	prog := f.prog("prog", `
extern int pv;
int *addr_pv(void);
const char *pf(void);
const char *(*addr_pf(void))(void);
int main(void) { return (addr_pv() == &pv) * 2 + (addr_pf() == pf); }
`, "-no-pie", "-fno-pie", "-L.", "-lp", "-Wl,-rpath,"+f.dir)
	testelf.SetVisibility(t, f.path("libp.so"), elf.STV_PROTECTED, "pv", "pf")
	if r := runCmd(t, nil, "", prog); r.status != 1 {
		t.Fatalf("natively the library's symbols are not protected: %+v", r)
	}
	for _, tc := range []struct{ symbol, rule string }{{"pv", "protected"}, {"pf", "protected-address"}} {
		doc := whyJSON(t, nil, tc.symbol, prog)
		whyAgreesWithGlibc(t, nil, doc, prog)
		wantRules(t, doc, map[string]string{f.path("libp.so") + " normal": tc.rule})
	}
}

// A DT_SYMBOLIC library's references are looked up in itself first. GNU
// ld's -Bsymbolic binds them when it links the library, leaving no
// relocation to look up, which ldgo why says; a library made
// DT_SYMBOLIC after it was linked still has them, and glibc binds them in
// the library, though the program defines the symbol too.
func TestWhySymbolic(t *testing.T) {
	f := newFixture(t)
	lib := `int sv = 1; int get_sv(void) { return sv; }`
	f.lib("libbs.so", lib, "-Wl,-Bsymbolic")
	f.lib("libds.so", lib, "-Wl,-z,now")
	main := `
int sv = 2;
int get_sv(void);
int main(void) { return get_sv(); }
`
	linked := f.prog("linked", main, "-L.", "-lbs", "-Wl,-rpath,"+f.dir)
	patched := f.prog("patched", main, "-L.", "-lds", "-Wl,-rpath,"+f.dir)
	testelf.SetDynamicFlags(t, f.path("libds.so"), elf.DF_SYMBOLIC)
	for _, p := range []string{linked, patched} {
		if r := runCmd(t, nil, "", p); r.status != 1 {
			t.Fatalf("%s: natively get_sv returns %d, not the library's 1", p, r.status)
		}
	}

	for _, l := range glibcBindings(t, nil, linked) {
		if strings.Contains(l, "`sv'") {
			t.Errorf("glibc binds a reference to sv: %s", l)
		}
	}
	doc := whyJSON(t, nil, "sv", linked)
	for _, r := range doc.References {
		if r.Object == f.path("libbs.so") {
			t.Errorf("the -Bsymbolic library has a relocation naming sv: %+v", r)
		}
	}
	text := mustLdgo(t, nil, "why", "sv", linked)
	if !strings.Contains(text, f.path("libbs.so")+" defines sv") || !strings.Contains(text, "DT_SYMBOLIC") {
		t.Errorf("ldgo why does not say libbs.so binds its own sv:\n%s", text)
	}

	doc = whyJSON(t, nil, "sv", patched)
	whyAgreesWithGlibc(t, nil, doc, patched)
	wantRules(t, doc, map[string]string{f.path("libds.so") + " normal": "symbolic"})
}

// A weak reference that nothing defines resolves to zero; a strong one is
// an error, at its first call.
func TestWhyUndefined(t *testing.T) {
	f := newFixture(t)
	f.lib("libgone.so", `int gone(void) { return 1; } int keep(void) { return 0; }`)
	prog := f.prog("prog", `
extern int maybe(void) __attribute__((weak));
int gone(void);
int keep(void);
int main(void) { return (maybe ? maybe() : 0) + keep() + gone(); }
`, "-L.", "-lgone", "-Wl,-rpath,"+f.dir)
	f.lib("libgone.so", `int keep(void) { return 0; }`)
	wantRules(t, whyJSON(t, nil, "maybe", prog), map[string]string{prog + " normal": "weak-undefined"})
	doc := whyJSON(t, nil, "gone", prog)
	wantRules(t, doc, map[string]string{prog + " plt": "undefined"})
	for _, l := range glibcBindings(t, nil, prog) {
		if strings.Contains(l, "`maybe'") || strings.Contains(l, "`gone'") {
			t.Errorf("glibc binds what ldgo why says binds to nothing: %s", l)
		}
	}
	want := "undefined symbol: gone\t(" + prog + ")"
	if out := glibc(t, nil, "ldd", "-r", prog); !strings.Contains(out, want) || !strings.Contains(doc.References[0].Explanation, "undefined symbol: gone") {
		t.Errorf("ldd -r says\n%s\nldgo why says %s", out, doc.References[0].Explanation)
	}
}

// ldgo why takes a symbol and at least one program.
func TestWhyUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"why"}, "ldgo why: missing symbol and program\n"},
		{[]string{"why", "malloc"}, "ldgo why: missing program\n"},
	} {
		got := ldgoStreams(t, nil, tc.args...)
		want := result{stderr: tc.msg + "Run 'ldgo why --help' for usage.\n", status: 2}
		if got != want {
			t.Errorf("ldgo %s: %+v, want %+v", strings.Join(tc.args, " "), got, want)
		}
	}
	// Several programs, each headed by its name, as the other analysis
	// commands head them.
	out := ldgoStreams(t, nil, "why", "malloc", "/usr/bin/true", "/usr/bin/ls")
	if out.status != 0 || !strings.HasPrefix(out.stdout, "/usr/bin/true:\n") || !strings.Contains(out.stdout, "\n/usr/bin/ls:\n") {
		t.Errorf("ldgo why malloc true ls: %+v", out)
	}
}

// Real programs: ls's references to malloc (its own, libc's, libselinux's
// and libpcre2's) and to optind (a COPY relocation, and libc's own
// reference, which binds to the copy) bind where glibc binds them; and
// every field of the JSON documents is in doc/json.md.
func TestWhyRealProgram(t *testing.T) {
	doc, err := os.ReadFile("../../doc/json.md")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, symbol := range []string{"malloc", "optind", "stdout"} {
		d := whyJSON(t, nil, symbol, "/usr/bin/ls")
		whyAgreesWithGlibc(t, nil, d, "/usr/bin/ls")
		r := ldgoStreams(t, nil, "why", "--json", symbol, "/usr/bin/ls")
		for _, m := range decodeDocuments(t, r.stdout) {
			collectKeys(m, keys)
		}
	}
	for k := range keys {
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("ldgo why's field %q is not in doc/json.md", k)
		}
	}
}
