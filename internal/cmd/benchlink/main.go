// Command benchlink times link editors side by side on prepared link
// workloads and prints the ratios of ldgo's times to each other's.
//
// A workload is a directory holding "args", the link editor's arguments
// as gcc's collect2 passed them (one per line, the output file written
// @OUT@), and "check", an executable that exits 0 when the output file
// named by its argument works. scripts/bench-link prepares them.
//
// Every round runs each link editor once, in a new random order
// (package benchtime), so that the machine's drift affects all of them
// alike; a ratio is the median over rounds of the round's ratio
// (paired), a time the median over rounds. Peak RSS is measured apart, a few runs each, with mold not
// forking (its default child does the link, out of the parent's rusage).
//
// Usage:
//
//	benchlink [-n ROUNDS] [-ldgo PATH] [-rss RUNS] WORKLOAD_DIR...
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ldgo/ldgo/internal/benchtime"
)

// A linker is one command to time; args are inserted before the
// workload's.
type linker struct {
	name  string
	argv  []string
	rssV  []string // the command for RSS runs, if not argv
	cores string   // taskset's CPU list, "" for all
}

func main() {
	rounds := flag.Int("n", 30, "rounds (each runs every link editor once)")
	ldgo := flag.String("ldgo", "./ldgo", "the ldgo executable")
	rssRuns := flag.Int("rss", 5, "runs of each link editor for peak RSS")
	oneCore := flag.Bool("scaling", true, "also time ldgo and mold on one core (taskset -c 0)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: benchlink [-n ROUNDS] [-ldgo PATH] WORKLOAD_DIR...")
		os.Exit(2)
	}
	self, err := filepath.Abs(*ldgo)
	if err != nil {
		fatal(err)
	}
	linkers := []*linker{
		{name: "ld.bfd", argv: []string{"ld.bfd"}},
		{name: "gold", argv: []string{"ld.gold"}},
		{name: "lld-16", argv: []string{lld()}},
		{name: "mold", argv: []string{"mold"}, rssV: []string{"mold", "--no-fork"}},
		{name: "ldgo", argv: []string{self, "link"}},
	}
	if *oneCore {
		linkers = append(linkers,
			&linker{name: "mold 1 core", argv: []string{"mold"}, rssV: []string{"mold", "--no-fork"}, cores: "0"},
			&linker{name: "ldgo 1 core", argv: []string{self, "link"}, cores: "0"})
	}
	for _, dir := range flag.Args() {
		if err := bench(dir, linkers, *rounds, *rssRuns); err != nil {
			fatal(err)
		}
	}
}

func lld() string {
	if p, err := exec.LookPath("ld.lld-16"); err == nil {
		return p
	}
	return "ld.lld"
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "benchlink:", err)
	os.Exit(1)
}

// A workload is a prepared link.
type workload struct {
	name, dir string
	args      []string
}

func load(dir string) (*workload, error) {
	data, err := os.ReadFile(filepath.Join(dir, "args"))
	if err != nil {
		return nil, err
	}
	args := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if !slices.Contains(args, "@OUT@") {
		return nil, fmt.Errorf("%s/args: no @OUT@ output argument", dir)
	}
	return &workload{name: filepath.Base(dir), dir: dir, args: args}, nil
}

// command is l's command line for w, writing out.
func (w *workload) command(argv []string, cores, out string) *exec.Cmd {
	var line []string
	if cores != "" {
		line = append(line, "taskset", "-c", cores)
	}
	line = append(line, argv...)
	for _, a := range w.args {
		line = append(line, strings.ReplaceAll(a, "@OUT@", out))
	}
	cmd := exec.Command(line[0], line[1:]...)
	cmd.Dir = w.dir
	return cmd
}

func (w *workload) output(l *linker) string {
	return filepath.Join(w.dir, "out", strings.ReplaceAll(l.name, " ", "-"))
}

func bench(dir string, linkers []*linker, rounds, rssRuns int) error {
	w, err := load(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(w.dir, "out"), 0o755); err != nil {
		return err
	}
	// Warm the page cache and check each output before timing.
	for _, l := range linkers {
		for i := 0; i < 2; i++ {
			if _, _, err := benchtime.Run(w.command(l.argv, l.cores, w.output(l))); err != nil {
				return err
			}
		}
		check := exec.Command(filepath.Join(w.dir, "check"), w.output(l))
		if out, err := check.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: the output of %s does not work: %v\n%s", w.name, l.name, err, out)
		}
	}
	if err := deterministic(w, linkers); err != nil {
		return err
	}
	ldgo, ldgo1, mold, mold1 := named(linkers, "ldgo"), named(linkers, "ldgo 1 core"), named(linkers, "mold"), named(linkers, "mold 1 core")
	perRound, err := benchtime.Rounds(len(linkers), rounds, func(i int) *exec.Cmd {
		l := linkers[i]
		return w.command(l.argv, l.cores, w.output(l))
	})
	if err != nil {
		return err
	}
	times := map[*linker][]time.Duration{}
	for i, l := range linkers {
		times[l] = perRound[i]
	}
	rss := map[*linker]uint64{}
	for _, l := range linkers {
		argv := l.argv
		if l.rssV != nil {
			argv = l.rssV
		}
		var peaks []uint64
		for i := 0; i < rssRuns; i++ {
			_, peak, err := benchtime.Run(w.command(argv, l.cores, w.output(l)))
			if err != nil {
				return err
			}
			peaks = append(peaks, peak)
		}
		slices.Sort(peaks)
		rss[l] = peaks[len(peaks)/2]
	}
	size := int64(0)
	if st, err := os.Stat(w.output(ldgo)); err == nil {
		size = st.Size()
	}
	fmt.Printf("\n%s (%d rounds; output %.1f MiB; every output checked; ldgo's output identical with --threads=1, 2 and default)\n",
		w.name, rounds, float64(size)/(1<<20))
	fmt.Printf("  %-12s %10s %10s %10s %10s %12s\n", "linker", "median ms", "min ms", "max ms", "peak RSS", "ldgo / it")
	for _, l := range linkers {
		ts := slices.Clone(times[l])
		slices.Sort(ts)
		var what string
		switch l {
		case ldgo:
		case ldgo1:
			what = fmt.Sprintf("(%.2fx ldgo)", benchtime.Ratio(times[l], times[ldgo]))
		case mold1:
			what = fmt.Sprintf("(%.2fx mold)", benchtime.Ratio(times[l], times[mold]))
		default:
			what = fmt.Sprintf("%.2fx", benchtime.Ratio(times[ldgo], times[l]))
		}
		fmt.Printf("  %-12s %10.1f %10.1f %10.1f %7.0f MiB %12s\n", l.name, benchtime.Ms(benchtime.Median(ts)), benchtime.Ms(ts[0]), benchtime.Ms(ts[len(ts)-1]),
			float64(rss[l])/(1<<20), what)
	}
	return nil
}

// named is the linker called name, nil if there is none.
func named(linkers []*linker, name string) *linker {
	for _, l := range linkers {
		if l.name == name {
			return l
		}
	}
	return nil
}

// deterministic links with ldgo on one thread, on two, and by default
// (the timed runs' output) and requires the same bytes.
func deterministic(w *workload, linkers []*linker) error {
	ldgo := named(linkers, "ldgo")
	want, err := os.ReadFile(w.output(ldgo))
	if err != nil {
		return err
	}
	for _, threads := range []string{"--threads=1", "--threads=2"} {
		out := w.output(ldgo) + threads
		argv := append(slices.Clone(ldgo.argv), threads)
		if _, _, err := benchtime.Run(w.command(argv, "", out)); err != nil {
			return err
		}
		got, err := os.ReadFile(out)
		if err != nil {
			return err
		}
		os.Remove(out)
		if !bytes.Equal(got, want) {
			return fmt.Errorf("%s: ldgo's output with %s differs from its output by default", w.name, threads)
		}
	}
	return nil
}
