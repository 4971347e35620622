package search

import (
	"slices"
	"strings"
	"testing"
)

// The search path lists below hold every dynamic string token form glibc
// knows, unknown ones, duplicates, trailing slashes, a regular file used as
// a directory, a system directory (which glibc shares with the system list,
// so it is announced as "system search path"), ".." and the root directory.
// They contain no ',' because gcc's -Wl splits at commas.
func dstPathList(f *fixture) string {
	f.mkdir("bin/a")
	f.mkdir("bin/b")
	f.write("afile", []byte("not a directory\n"))
	return strings.Join([]string{
		"$ORIGIN/a",
		"${ORIGIN}/b",
		"/x/$LIB",
		"/x/${LIB}/y",
		"/y/$PLATFORM",
		"/y/${PLATFORM}/z",
		f.path("afile"),
		"/usr/lib/x86_64-linux-gnu",
		"$ORIGIN/../lib/",
		"$ORIGIN/a//",
		"$ORIGIN",
		"$ORIGINX/c",
		"${ORIGIN/d",
		"$ORIGIN$LIB",
		"$",
		"/",
	}, ":")
}

// TestDSTVsGlibc builds programs whose DT_RUNPATH or DT_RPATH use $ORIGIN,
// ${ORIGIN}, $LIB and $PLATFORM and compares every search the real ld.so
// makes for them (LD_DEBUG=libs: the lines printed, the files tried, the
// result ldd reports) with the Searcher's.
func TestDSTVsGlibc(t *testing.T) {
	for _, tc := range []struct{ name, dtags string }{
		{"RUNPATH", "-Wl,--enable-new-dtags"},
		{"RPATH", "-Wl,--disable-new-dtags"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			stub := f.lib("stubs/libmissing.so", "libmissing.so.1")
			prog := f.prog("bin/prog", tc.dtags, "-Wl,-rpath,"+dstPathList(f), stub)
			main := mainRequester(t, prog)
			if tc.name == "RUNPATH" && !main.Dyn.HasRunpath || tc.name == "RPATH" && (!main.Dyn.HasRpath || main.Dyn.HasRunpath) {
				t.Fatalf("gcc did not make a %s", tc.name)
			}
			run := runLD(t, "", nil, prog)
			if run.search("libmissing.so.1") == nil {
				t.Fatalf("glibc did not search for libmissing.so.1:\n%s", run.stderr)
			}
			replay(t, run, Config{}, main)
		})
	}
}

// TestExpandDSTVsGlibc checks ExpandDST alone against the directories
// glibc announces for a DT_RUNPATH made of one token use per element.
func TestExpandDSTVsGlibc(t *testing.T) {
	f := newFixture(t)
	elems := []string{"/e1/$ORIGIN", "/e2/${ORIGIN}x", "/e3/$LIB", "/e4/${LIB}", "/e5/$PLATFORM", "/e6/${PLATFORM}", "/e7/$ORIGIN_", "/e8/$$LIB", "/e9/${LIB", "/e10/$LIB$PLATFORM$ORIGIN"}
	stub := f.lib("stubs/libmissing.so", "libmissing.so.1")
	prog := f.prog("bin/prog", "-Wl,--enable-new-dtags", "-Wl,-rpath,"+strings.Join(elems, ":"), stub)
	run := runLD(t, "", nil, prog)
	gs := run.search("libmissing.so.1")
	if gs == nil {
		t.Fatalf("glibc did not search for libmissing.so.1:\n%s", run.stderr)
	}
	// None of the directories exists, so glibc tries every subdirectory
	// of each, the directory itself last: every n-th path tried, n
	// being the number of paths tried under the first, gives the
	// expanded directories in order.
	tried := gs.tried()
	n := 0
	for n < len(tried) && strings.HasPrefix(tried[n], "/e1/") {
		n++
	}
	var dirs []string
	for i := n - 1; n > 0 && i < len(elems)*n && i < len(tried); i += n {
		dirs = append(dirs, strings.TrimSuffix(tried[i], "libmissing.so.1"))
	}
	origin := f.path("bin")
	var got []string
	for _, e := range elems {
		got = append(got, ExpandDST(e, origin, HostCaps().Platform)+"/")
	}
	if !slices.Equal(got, dirs) {
		t.Errorf("ExpandDST gives\n%s\nglibc\n%s", strings.Join(got, "\n"), strings.Join(dirs, "\n"))
	}
}

// TestLibraryPathVsGlibc compares LD_LIBRARY_PATH handling: an empty
// element (the current directory), relative directories, ';' as a
// separator, repeated and trailing slashes, $ORIGIN, the root directory
// and a duplicate. One library is found through a relative directory.
func TestLibraryPathVsGlibc(t *testing.T) {
	f := newFixture(t)
	stub := f.lib("stubs/libmissing.so", "libmissing.so.1")
	f.lib("rel/librel.so.1", "librel.so.1")
	f.mkdir("llp")
	f.mkdir("bin/x")
	prog := f.prog("bin/prog", stub, f.path("rel/librel.so.1"))
	llp := f.path("llp") + "/::rel;" + f.dir + "//b//;$ORIGIN/x;/;" + f.path("llp") + ";norel/:rel"
	t.Chdir(f.dir)
	run := runLD(t, f.dir, []string{"LD_LIBRARY_PATH=" + llp}, prog)
	found := replay(t, run, Config{LibraryPath: llp}, mainRequester(t, prog))
	if r := found["librel.so.1"]; r != nil && (r.Rule != ByLibraryPath || r.Dir != "rel/") {
		t.Errorf("librel.so.1 found by %v in %q; want LD_LIBRARY_PATH in rel/", r.Rule, r.Dir)
	}
}

// TestHwcapsSubdirVsGlibc puts libraries in glibc-hwcaps and legacy
// hardware-capability subdirectories, with a 32-bit copy in the best
// subdirectory, and compares what glibc and the Searcher pick.
func TestHwcapsSubdirVsGlibc(t *testing.T) {
	f := newFixture(t)
	hw := f.lib("bin/a/libhw.so.1", "libhw.so.1")
	f.copy(hw, "bin/a/glibc-hwcaps/x86-64-v2/libhw.so.1", nil)
	f.copy(hw, "bin/a/glibc-hwcaps/x86-64-v4/libhw.so.1", elfClass32)
	leg := f.lib("bin/a/liblegacy.so.1", "liblegacy.so.1")
	f.copy(leg, "bin/a/x86_64/liblegacy.so.1", nil)
	wrong := f.lib("stubs/libwrong.so.1", "libwrong.so.1")
	f.copy(wrong, "bin/a/libwrong.so.1", elfClass32)
	stub := f.lib("stubs/libmissing.so", "libmissing.so.1")
	prog := f.prog("bin/prog", "-Wl,-rpath,$ORIGIN/a", hw, leg, wrong, stub)

	run := runLD(t, "", nil, prog)
	found := replay(t, run, Config{}, mainRequester(t, prog))
	caps := HostCaps()
	if caps.IsaLevel&ISAV2 != 0 {
		if r := found["libhw.so.1"]; r == nil || r.Subdir != "glibc-hwcaps/x86-64-v2/" || r.Dir != f.path("bin/a")+"/" || r.Rule != ByRUNPATH {
			t.Errorf("libhw.so.1: %+v; want it by RUNPATH in %s/ under glibc-hwcaps/x86-64-v2/", r, f.path("bin/a"))
		}
	}

	// The messages of a failed load, from glibc actually running the
	// programs.
	for lib, stub := range map[string]string{"libwrong.so.1": wrong, "libmissing.so.1": stub} {
		p := f.prog("bin/prog-"+lib, "-Wl,-rpath,$ORIGIN/a", stub)
		out := runDebug(t, "", nil, p)
		s, err := New(Config{}, mainRequester(t, p))
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Find(lib, nil)
		want := p + ": error while loading shared libraries: " + lib + ": "
		if err == nil {
			t.Errorf("%s found", lib)
		} else if got := p + ": error while loading shared libraries: " + lib + ": " + err.Error() + "\n"; got != out.stderr {
			t.Errorf("ldgo's error: %q\nglibc's:      %q", got, out.stderr)
		}
		if !strings.HasPrefix(out.stderr, want) {
			t.Errorf("glibc said %q", out.stderr)
		}
	}
}

// TestNodeflibVsGlibc: a program marked DF_1_NODEFLIB must not take
// libraries from the system directories, through the cache or otherwise.
func TestNodeflibVsGlibc(t *testing.T) {
	f := newFixture(t)
	a := f.lib("bin/a/liba.so.1", "liba.so.1")
	prog := f.prog("bin/prog", "-Wl,-z,nodefaultlib", "-Wl,-rpath,$ORIGIN/a", a)
	run := runLD(t, "", nil, prog)
	replay(t, run, Config{}, mainRequester(t, prog))
}

// TestSlashNeededVsGlibc: a DT_NEEDED with a slash is opened as given after
// token expansion; glibc prints no search for it. A DT_NEEDED without a
// slash is searched for under its expanded name.
func TestSlashNeededVsGlibc(t *testing.T) {
	f := newFixture(t)
	name := "$ORIGIN/sub/libslash.so"
	lib := f.lib("bin/sub/libslash.so", name)
	dstName := "libdst-$PLATFORM.so"
	dst := f.lib("bin/libdst-"+HostCaps().Platform+".so", dstName)
	prog := f.prog("bin/prog", "-Wl,-rpath,$ORIGIN", lib, dst)
	run := runLD(t, "", nil, prog)
	main := mainRequester(t, prog)
	found := replay(t, run, Config{}, main)
	if len(found) == 0 {
		t.Fatal("no search replayed")
	}

	// A fresh Searcher, with a fresh Requester: a Requester keeps the
	// lists its first Searcher built.
	main = mainRequester(t, prog)
	var lines []string
	s, err := New(Config{Debug: func(l string) { lines = append(lines, l) }}, main)
	if err != nil {
		t.Fatal(err)
	}
	expanded, err := s.ExpandNeeded(name, main)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Find(expanded, main)
	if err != nil {
		t.Fatal(err)
	}
	defer r.File.Close()
	if !strings.Contains(run.stdout, "\t"+r.Path+" (0x") {
		t.Errorf("ldgo loads %s; glibc lists\n%s", r.Path, run.stdout)
	}
	if !strings.Contains(run.stderr, "file="+r.Path+" [0];  needed by "+prog) {
		t.Errorf("glibc did not load %s:\n%s", r.Path, run.stderr)
	}
	if len(lines) != 0 {
		t.Errorf("ldgo printed LD_DEBUG=libs lines for a path, glibc none: %q", lines)
	}

	// glibc reports the search for the expanded name.
	expanded, err = s.ExpandNeeded(dstName, main)
	if err != nil {
		t.Fatal(err)
	}
	if gs := run.search(expanded); gs == nil || found[expanded] == nil {
		t.Errorf("ExpandNeeded(%q) = %q; glibc searched for %q", dstName, expanded, run.searches[0].name)
	}
}

// TestRpathInheritanceVsGlibc: a library's DT_RPATH search goes on with the
// RPATHs of the objects that loaded it, up to the program's; a DT_RUNPATH
// stops that, in the library and in the program.
func TestRpathInheritanceVsGlibc(t *testing.T) {
	const (
		rpath   = "-Wl,--disable-new-dtags"
		runpath = "-Wl,--enable-new-dtags"
	)
	for _, tc := range []struct {
		name            string
		progTags, aTags string
		chain           bool   // libA -> libC -> libB instead of libA -> libB
		llp             bool   // a second libB.so.1 in LD_LIBRARY_PATH
		wantB           string // "prog", "llp" or "" (not found)
	}{
		{name: "RPATH inherited", progTags: rpath, aTags: rpath, wantB: "prog"},
		{name: "RUNPATH in library", progTags: rpath, aTags: runpath, wantB: ""},
		{name: "RUNPATH in program", progTags: runpath, aTags: rpath, wantB: ""},
		{name: "RPATH chain", progTags: rpath, aTags: rpath, chain: true, wantB: "prog"},
		{name: "RPATH before LD_LIBRARY_PATH", progTags: rpath, aTags: rpath, llp: true, wantB: "prog"},
		{name: "RUNPATH after LD_LIBRARY_PATH", progTags: rpath, aTags: runpath, llp: true, wantB: "llp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			// libB is only where the program's path points.
			b := f.lib("pdir/libB.so.1", "libB.so.1")
			f.mkdir("adir")
			dep := b
			if tc.chain {
				// libC is found through libA's RPATH and has no path
				// of its own.
				dep = f.lib("adir/libC.so.1", "libC.so.1", b)
			}
			a := f.lib("pdir/libA.so.1", "libA.so.1", tc.aTags, "-Wl,-rpath,$ORIGIN/../adir:/nonexistent", dep)
			prog := f.prog("bin/prog", tc.progTags, "-Wl,-rpath,$ORIGIN/../pdir", "-Wl,-rpath-link,"+f.path("pdir"), a)
			var env []string
			cfg := Config{}
			if tc.llp {
				f.copy(b, "llp/libB.so.1", nil)
				cfg.LibraryPath = f.path("llp")
				env = append(env, "LD_LIBRARY_PATH="+cfg.LibraryPath)
			}
			run := runLD(t, "", env, prog)
			if run.search("libB.so.1") == nil {
				t.Fatalf("glibc did not search for libB.so.1:\n%s", run.stderr)
			}
			found := replay(t, run, cfg, mainRequester(t, prog))
			// The expectation glibc just confirmed, stated for the
			// reader.
			want := map[string]string{"prog": f.dir + "/bin/../pdir/libB.so.1", "llp": f.path("llp/libB.so.1"), "": ""}[tc.wantB]
			if got := run.libs["libB.so.1"]; !slices.Equal(got, []string{want}) {
				t.Errorf("glibc found libB.so.1 at %q; the test expects %q", got, want)
			}
			if r := found["libB.so.1"]; r != nil && tc.wantB == "prog" && (r.Rule != ByRPATH || r.From != prog) {
				t.Errorf("libB.so.1 found by %v from %q; want RPATH from %s", r.Rule, r.From, prog)
			}
		})
	}
}

// TestSubdirsOrderVsGlibc checks Subdirs() (the glibc-hwcaps names and the
// legacy power set, in order) against the subdirectories glibc tries under
// one directory, for this machine and for Caps changed by ld.so's options
// and tunables.
func TestSubdirsOrderVsGlibc(t *testing.T) {
	f := newFixture(t)
	stub := f.lib("stubs/libmissing.so", "libmissing.so.1")
	prog := f.prog("bin/prog", "-Wl,-rpath,/nonexistent-ldgo-dir", stub)
	host := *HostCaps()
	for _, tc := range []struct {
		name string
		env  []string
		args []string // ld.so options; the program is then run by ld.so
		caps func() Caps
	}{
		{name: "host", caps: func() Caps { return host }},
		{
			name: "hwcap_mask=0",
			env:  []string{"GLIBC_TUNABLES=glibc.cpu.hwcap_mask=0"},
			caps: func() Caps { c := host; c.HwcapMask = 0; return c },
		},
		{
			name: "prepend and mask",
			args: []string{"--glibc-hwcaps-prepend", "p1:p2", "--glibc-hwcaps-mask", "x86-64-v2:x86-64-v4"},
			caps: func() Caps {
				c := host
				c.Prepend, c.Mask = []string{"p1", "p2"}, []string{"x86-64-v2", "x86-64-v4"}
				return c
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var run *ldRun
			if tc.args != nil {
				argv := append(append([]string{ldso}, tc.args...), "--list", prog)
				run = runDebug(t, "", append(tc.env, "LD_DEBUG=libs"), argv...)
			} else {
				run = runLD(t, "", tc.env, prog)
			}
			gs := run.search("libmissing.so.1")
			if gs == nil {
				t.Fatalf("glibc did not search for libmissing.so.1:\n%s", run.stderr)
			}
			var want []string
			for _, p := range gs.tried() {
				if sub, ok := strings.CutPrefix(p, "/nonexistent-ldgo-dir/"); ok {
					want = append(want, strings.TrimSuffix(sub, "libmissing.so.1"))
				}
			}
			caps := tc.caps()
			if got := caps.Subdirs(); !slices.Equal(got, want) {
				t.Errorf("Subdirs() = %q; glibc tries %q", got, want)
			}
		})
	}
}
