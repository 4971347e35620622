package main

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"testing"

	"github.com/ldgo/ldgo/object"
)

var sweep = flag.Bool("sweep", false, "compare every dynamically linked program in /usr/bin with glibc, not a sample")

// TestCompareWithGlibc runs scripts/compare-glibc, which checks `ldgo
// bindings --now` against glibc's LD_DEBUG=bindings and `ldgo list`
// against ldd, over real programs: a sample spread across /usr/bin, or all
// of them with -sweep.
func TestCompareWithGlibc(t *testing.T) {
	if _, err := exec.LookPath("ldd"); err != nil {
		t.Skip("ldd not installed")
	}
	bin := filepath.Join(t.TempDir(), "ldgo")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	progs := dynamicPrograms(t)
	if !*sweep {
		progs = spread(progs, 24)
	}
	if len(progs) < 20 {
		t.Fatalf("only %d dynamically linked programs in /usr/bin", len(progs))
	}
	cmd := exec.Command("../../scripts/compare-glibc", append([]string{"-v", bin}, progs...)...)
	out, err := cmd.CombinedOutput()
	m := regexp.MustCompile(`(\d+) passed, (\d+) failed`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("compare-glibc: %v\n%s", err, out)
	}
	passed, _ := strconv.Atoi(string(m[1]))
	failed, _ := strconv.Atoi(string(m[2]))
	t.Logf("%d passed, %d failed", passed, failed)
	if failed > 0 || passed < 20 {
		t.Errorf("compare-glibc:\n%s", out)
	}
}

// dynamicPrograms lists the programs in /usr/bin that name an interpreter
// and that glibc will trace (set-ID programs ignore LD_DEBUG).
func dynamicPrograms(t *testing.T) []string {
	entries, err := os.ReadDir("/usr/bin")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		path := filepath.Join("/usr/bin", e.Name())
		st, err := os.Stat(path)
		if err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 == 0 || st.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
			continue
		}
		f, err := object.Open(path)
		if err != nil {
			continue
		}
		if f.Interp != "" {
			out = append(out, path)
		}
		f.Close()
	}
	sort.Strings(out)
	return out
}

// spread picks n items evenly across list.
func spread(list []string, n int) []string {
	if len(list) <= n {
		return list
	}
	out := make([]string, n)
	for i := range out {
		out[i] = list[i*len(list)/n]
	}
	return out
}
