package plan_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/bindcache"
	"github.com/ldgo/ldgo/internal/testelf"
	"github.com/ldgo/ldgo/plan"
)

const libSource = `int lib(void) { return 1; }`

// planFor builds a program needing libp.so, its library built with the
// build-id id, and makes its plan.
func planFor(t *testing.T, libraryPath string) (*plan.Plan, *testelf.Dir) {
	d := testelf.New(t)
	d.Build("libp.so", libSource, "-Wl,--build-id=0x00112233445566778899aabbccddeeff")
	prog := d.Build("prog", `extern int lib(void); int main(void) { return lib(); }`, "-lp", "-Wl,-rpath,"+d.Path)
	p, err := analyze.Plan(prog, analyze.PlanOptions{Options: analyze.Options{PreloadFile: "-", LibraryPath: libraryPath}})
	if err != nil {
		t.Fatal(err)
	}
	return p, d
}

func settings(t *testing.T, libraryPath string) []string {
	s, err := bindcache.Settings(libraryPath, nil, false, false)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCheck(t *testing.T) {
	p, d := planFor(t, "")
	if err := plan.Check(p, settings(t, "")); err != nil {
		t.Fatalf("a plan just made: %v", err)
	}
	lib := d.File("libp.so")
	libIndex := -1
	for i := range p.Objects {
		if p.Objects[i].Path == lib {
			libIndex = i
		}
	}
	if libIndex < 0 {
		t.Fatalf("%s not in the plan", lib)
	}

	tests := []struct {
		name   string
		change func(t *testing.T, p *plan.Plan)
		search string // LD_LIBRARY_PATH now
		want   string
	}{
		{name: "LD_LIBRARY_PATH set", search: "/nowhere", want: `search settings changed: "library-path=", now "library-path=/nowhere"`},
		{name: "ldgo rebuilt", change: func(t *testing.T, p *plan.Plan) {
			for i, s := range p.Search {
				if strings.HasPrefix(s, "ldgo=") {
					p.Search[i] = "ldgo=1:2:3:4:5"
				}
			}
		}, want: `search settings changed: "ldgo=1:2:3:4:5"`},
		{name: "build-id differs, status the same", change: func(t *testing.T, p *plan.Plan) {
			p.Objects[libIndex].ID.Content = "build-id:ffff"
		}, want: "content changed: build-id:ffff, now "},
		{name: "replaced: same size and mtime, other build-id", change: func(t *testing.T, p *plan.Plan) {
			st, err := os.Stat(lib)
			if err != nil {
				t.Fatal(err)
			}
			d.Build("new/libp.so", libSource, "-Wl,--build-id=0xffeeddccbbaa99887766554433221100")
			nst, err := os.Stat(d.File("new/libp.so"))
			if err != nil {
				t.Fatal(err)
			}
			if nst.Size() != st.Size() {
				t.Fatalf("the rebuilt library has %d bytes, the first %d", nst.Size(), st.Size())
			}
			if err := os.Chtimes(d.File("new/libp.so"), time.Time{}, st.ModTime()); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(d.File("new/libp.so"), lib); err != nil {
				t.Fatal(err)
			}
		}, want: lib + ": file status changed: "},
		{name: "removed", change: func(t *testing.T, p *plan.Plan) {
			os.Remove(lib)
		}, want: lib + ": "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := plan.Decode(plan.Encode(p))
			if err != nil {
				t.Fatal(err)
			}
			if tc.change != nil {
				tc.change(t, q)
			}
			err = plan.Check(q, settings(t, tc.search))
			if _, ok := err.(*plan.Stale); !ok || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check: %v, want a *plan.Stale saying %q", err, tc.want)
			}
		})
	}
}

func TestStoreLoad(t *testing.T) {
	p, _ := planFor(t, "")
	dir := filepath.Join(t.TempDir(), "plans")
	path, err := plan.Store(dir, p)
	if err != nil {
		t.Fatal(err)
	}
	q, err := plan.Load(dir, p.Program)
	if err != nil {
		t.Fatal(err)
	}
	if string(plan.Encode(q)) != string(plan.Encode(p)) {
		t.Error("the plan loaded is not the plan stored")
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o022 != 0 {
		t.Errorf("stored with mode %v", st.Mode())
	}

	tests := []struct {
		name  string
		spoil func(t *testing.T)
		want  string
	}{
		{"writable by others", func(t *testing.T) { os.Chmod(path, 0o666) }, "writable by others"},
		{"a symbolic link", func(t *testing.T) {
			os.Rename(path, path+".real")
			os.Symlink(path+".real", path)
		}, "too many levels of symbolic links"},
		{"truncated", func(t *testing.T) {
			b, _ := os.ReadFile(path)
			os.WriteFile(path, b[:len(b)/2], 0o600)
		}, "checksum mismatch"},
		{"empty", func(t *testing.T) { os.WriteFile(path, nil, 0o600) }, "no magic"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(path)
			os.Remove(path + ".real")
			if _, err := plan.Store(dir, p); err != nil {
				t.Fatal(err)
			}
			tc.spoil(t)
			if _, err := plan.Load(dir, p.Program); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestSetID(t *testing.T) {
	p, d := planFor(t, "")
	if err := os.Chmod(d.File("prog"), os.ModeSetuid|0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := plan.Store(dir, p); err == nil || !strings.Contains(err.Error(), "set-id") {
		t.Errorf("Store of a set-user-ID program: %v", err)
	}
	if _, err := plan.Load(dir, p.Program); err == nil || !strings.Contains(err.Error(), "set-id") {
		t.Errorf("Load for a set-user-ID program: %v", err)
	}
}
