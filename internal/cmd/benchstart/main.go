// Command benchstart times starting programs under ldgo against their
// native start, side by side: natively, through glibc's ld.so named as a
// command (ld.so PROG), under `ldgo run` (the engine, its bind cache
// warm), and under `ldgo run` with LDGO_PLAN=exec (the kept launch plan);
// `ls -l /` also with neither plan nor bind cache. Each round runs every
// command once in a random order (package benchtime); a ratio is the
// median over rounds of the command's time over the native one's in the
// same round. It also prints the Private_Dirty memory of a sleeping
// python3 under each start, against its native figure.
//
// Usage:
//
//	benchstart [-n ROUNDS] [-ldgo PATH]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ldgo/ldgo/internal/benchtime"
)

const interp = "/lib64/ld-linux-x86-64.so.2"

// A start is one way to start a program.
type start struct {
	name string
	argv func(prog []string) []string
	env  []string
}

func main() {
	rounds := flag.Int("n", 41, "rounds (each runs every start once)")
	ldgoPath := flag.String("ldgo", "./ldgo", "the ldgo executable")
	flag.Parse()
	ldgo, err := filepath.Abs(*ldgoPath)
	if err != nil {
		fatal(err)
	}
	cache, err := os.MkdirTemp("", "benchstart-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(cache)
	base := []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "HOME=" + cache, "XDG_CACHE_HOME=" + cache}
	starts := []start{
		{"native", func(p []string) []string { return p }, base},
		{"ld.so PROG", func(p []string) []string { return append([]string{interp}, p...) }, base},
		{"ldgo run", func(p []string) []string { return append([]string{ldgo, "run"}, p...) }, base},
		{"ldgo run, plan", func(p []string) []string { return append([]string{ldgo, "run"}, p...) }, append(slices.Clone(base), "LDGO_PLAN=exec")},
	}
	cold := start{"ldgo run, no plan, no cache", func(p []string) []string {
		return append([]string{ldgo, "run", "--no-bind-cache"}, p...)
	}, base}
	programs := [][]string{
		{"/usr/bin/true"},
		{"/usr/bin/ls", "-l", "/"},
		{"/usr/bin/python3", "-c", "pass"},
		{"/usr/bin/gdb", "--version"},
	}
	fmt.Printf("%d rounds; medians; (x) is the paired ratio to the native start\n\n", *rounds)
	fmt.Printf("| %-24s | %-9s | %-16s | %-16s | %-16s | %-17s |\n", "command", "native", "ld.so PROG", "ldgo run", "ldgo run, plan", "no plan, no cache")
	fmt.Printf("|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 26), strings.Repeat("-", 11), strings.Repeat("-", 18), strings.Repeat("-", 18), strings.Repeat("-", 18), strings.Repeat("-", 19))
	for _, prog := range programs {
		if _, err := os.Stat(prog[0]); err != nil {
			fmt.Printf("| %-24s | not installed |\n", strings.Join(prog, " "))
			continue
		}
		ss := slices.Clone(starts)
		if filepath.Base(prog[0]) == "ls" {
			ss = append(ss, cold)
		}
		command := func(i int) *exec.Cmd {
			argv := ss[i].argv(prog)
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Env = ss[i].env
			return cmd
		}
		// Warm-up: page cache, the bind cache, the kept plan.
		for i := range ss {
			for range 3 {
				if _, _, err := benchtime.Run(command(i)); err != nil {
					fatal(err)
				}
			}
		}
		times, err := benchtime.Rounds(len(ss), *rounds, command)
		if err != nil {
			fatal(err)
		}
		row := fmt.Sprintf("| %-24s | %6.2f ms", strings.Join(prog, " "), benchtime.Ms(benchtime.Median(times[0])))
		for i := 1; i < len(ss); i++ {
			row += fmt.Sprintf(" | %-16s", fmt.Sprintf("%.2f (%.2fx)", benchtime.Ms(benchtime.Median(times[i])), benchtime.Ratio(times[i], times[0])))
		}
		if len(ss) == len(starts) {
			row += fmt.Sprintf(" | %-17s", "")
		}
		fmt.Println(row + " |")
	}
	fmt.Println()
	sleeper := []string{"/usr/bin/python3", "-c", "import time; time.sleep(0.6)"}
	native := privateDirty(starts[0], sleeper)
	fmt.Printf("python3 sleeping, Private_Dirty (median of 5): native %d KiB", native)
	for _, s := range starts[1:] {
		d := privateDirty(s, sleeper)
		fmt.Printf("; %s %d KiB (%+.1f MiB)", s.name, d, float64(d-native)/1024)
	}
	fmt.Println()
}

// privateDirty starts prog the way s does five times and returns the
// median of its Private_Dirty in KiB, read while it sleeps.
func privateDirty(s start, prog []string) int {
	var kb []int
	for range 5 {
		argv := s.argv(prog)
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = s.env
		if err := cmd.Start(); err != nil {
			fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		kb = append(kb, rollup(cmd.Process.Pid, "Private_Dirty:"))
		cmd.Wait()
	}
	slices.Sort(kb)
	return kb[len(kb)/2]
}

// rollup reads one figure (KiB) of /proc/PID/smaps_rollup.
func rollup(pid int, field string) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	fatal(fmt.Errorf("/proc/%d/smaps_rollup has no %s", pid, field))
	return 0
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "benchstart:", err)
	os.Exit(1)
}
