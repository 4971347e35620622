package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCopyRelocationSizes runs a program whose copy of a library's array
// was made for another size than the library now has, natively and under
// ldgo run, with and without LD_WARN: glibc warns of a larger definition
// always and of a smaller one only with LD_WARN; ldgo must print what it
// prints. ldgo verify must report what ldd -r does (ldd sets LD_WARN).
func TestCopyRelocationSizes(t *testing.T) {
	f := newFixture(t)
	bin := buildLdgo(t)
	f.lib("libarr.so", "int arr[4] = {1, 2, 3, 4};", "-Wl,-soname,libarr.so")
	prog := f.prog("copy", "#include <stdio.h>\nextern int arr[];\nint main(void) { printf(\"%d %d\\n\", arr[0], arr[1]); return 0; }\n",
		"-no-pie", "-fno-pie", "-L"+f.dir, "-larr", "-Wl,-rpath,"+f.dir)
	for _, c := range []struct{ name, src string }{
		{"same size", "int arr[4] = {1, 2, 3, 4};"},
		{"larger definition", "int arr[8] = {1, 2, 3, 4};"},
		{"smaller definition", "int arr[2] = {1, 2};"},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			f.lib("libarr.so", c.src, "-Wl,-soname,libarr.so")
			for _, extra := range [][]string{nil, {"LD_WARN=yes"}} {
				env := baseEnv(extra...)
				want := native(t, env, "", prog)
				got := hosted(t, bin, env, "", prog)
				sameResult(t, c.name+" "+strings.Join(extra, " "), want, got)
			}
			out, err := exec.Command("ldd", "-r", prog).CombinedOutput()
			if err != nil {
				t.Fatalf("ldd -r: %v\n%s", err, out)
			}
			var lddWarnings []string
			for _, l := range strings.Split(string(out), "\n") {
				if strings.Contains(l, "different size") {
					lddWarnings = append(lddWarnings, l)
				}
			}
			v := runCmd(t, baseEnv(), "", bin, "verify", prog)
			var ours []string
			for _, l := range strings.Split(v.stdout, "\n") {
				if strings.Contains(l, "different size") {
					ours = append(ours, l)
				}
			}
			if strings.Join(ours, "\n") != strings.Join(lddWarnings, "\n") || v.status != 0 {
				t.Errorf("ldgo verify (status %d):\n%s\nldd -r's warnings:\n%s", v.status, v.stdout, strings.Join(lddWarnings, "\n"))
			}
			if c.name != "same size" && len(lddWarnings) == 0 {
				t.Errorf("ldd -r gave no warning for a %s", c.name)
			}
		})
	}
}
