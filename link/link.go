package link

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ldgo/ldgo/link/gc"
	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/link/layout"
	"github.com/ldgo/ldgo/link/options"
	"github.com/ldgo/ldgo/link/output"
	"github.com/ldgo/ldgo/link/parallel"
	"github.com/ldgo/ldgo/link/relocatable"
	"github.com/ldgo/ldgo/link/resolve"
	"github.com/ldgo/ldgo/link/scan"
	"github.com/ldgo/ldgo/link/synth"
	"github.com/ldgo/ldgo/link/timing"
	"github.com/ldgo/ldgo/link/versions"
	"github.com/ldgo/ldgo/object"
)

// Version is what -v and --version print: a GNU-compatible linker's
// answer, which configure scripts and build systems recognize.
const Version = "ldgo 0.1 (compatible with GNU ld)"

// Usage is the text of --help: the options taken, which mean what they
// mean to GNU ld (ld(1)); any other is refused by name.
func Usage(prog string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: %s [options] file...\n", prog)
	b.WriteString("ldgo's link editor takes these options of GNU ld, with GNU ld's meanings\n")
	b.WriteString("(see ld(1)); any other is an error. Run as \"ld\" (a link named ld to\n")
	b.WriteString("ldgo) it is a drop-in for gcc -B DIR.\n\nOptions:\n")
	line := " "
	for _, n := range options.Names() {
		if len(line)+1+len(n) > 78 {
			b.WriteString(line + "\n")
			line = " "
		}
		line += " " + n
	}
	b.WriteString(line + "\n")
	return b.String()
}

// Main runs the link editor with ld's arguments and returns its exit
// status. prog is how it was invoked: messages start with it, as GNU
// ld's start with its argv[0]. detach, if not nil, is called once the
// output is complete and only exiting remains, unless --no-fork: the
// command's way to have its exit reported before the kernel has freed
// the link's memory (host.LeaveTeardown).
func Main(prog string, args []string, stdout, stderr io.Writer, detach func()) int {
	opts, err := options.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		if strings.HasPrefix(err.Error(), "unrecognized option") {
			fmt.Fprintf(stderr, "%s: use the --help option for usage information\n", prog)
		}
		return 1
	}
	if opts.Help {
		fmt.Fprint(stdout, Usage(prog))
		return 0
	}
	if opts.PrintVersion {
		fmt.Fprintln(stdout, Version)
		if len(opts.Inputs) == 0 || opts.VersionOnly {
			return 0
		}
	}
	l := &linker{opts: opts, prog: prog, stdout: stdout, stderr: stderr}
	if opts.TimePasses {
		l.timer = timing.New()
	}
	if err := l.link(); err != nil {
		l.report(err)
		return 1
	}
	l.timer.Print(stderr, prog, PeakRSS())
	if detach != nil && !opts.NoFork {
		detach()
	}
	return 0
}

// PeakRSS is the process's peak resident set in bytes.
func PeakRSS() uint64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return uint64(ru.Maxrss) << 10
}

type linker struct {
	warned bool
	timer  *timing.Timer         // --time-passes; nil measures nothing
	opened map[string]input.File // inputs opened before resolution, by path
	opts   *options.Options
	prog   string
	stdout io.Writer
	stderr io.Writer
}

// report prints an error (or several, joined) as GNU ld does: each
// message's first line after the program's name.
func (l *linker) report(err error) {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	last := ""
	for _, e := range errs {
		// GNU ld names the function of a place once for the messages
		// about it in a row.
		if d, ok := e.(*resolve.Diagnostic); ok {
			if c := d.Place.Context(); c != "" {
				if c != last {
					fmt.Fprintf(l.stderr, "%s: %s\n", l.prog, c)
				}
				last = c
				fmt.Fprintf(l.stderr, "%s\n", d.Body())
				continue
			}
		}
		last = ""
		fmt.Fprintf(l.stderr, "%s: %s\n", l.prog, e)
	}
}

// warn prints a warning; with --fatal-warnings the link then fails.
func (l *linker) warn(msg string) {
	fmt.Fprintf(l.stderr, "%s: warning: %s\n", l.prog, msg)
	l.warned = true
}

// link runs the passes.
func (l *linker) link() error {
	opts := l.opts
	threads := parallel.Threads(opts.Threads)

	if opts.EmitRelocs && opts.Strip == options.StripAll && opts.OutputKind != options.Relocatable {
		// The kept relocations need a symbol table; GNU ld keeps
		// the symbols they name, which -s would drop here.
		return errors.New("--emit-relocs with -s (--strip-all) is not supported yet")
	}

	// A failed link prints no times: a pass left open on an error
	// is not ended.
	end := l.timer.Start("read scripts; LTO")
	scripts, err := l.readScripts()
	if err != nil {
		return err
	}
	cleanup, err := l.lto()
	end()
	if err != nil {
		return err
	}
	defer cleanup()

	// Input files and symbol resolution.
	end = l.timer.Start("load inputs")
	res, err := resolve.Load(opts, l.stdout, l.timer, l.opened)
	end()
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		l.warn(w)
	}
	if len(res.Diagnostics) > 0 {
		return errors.Join(res.Diagnostics...)
	}
	if opts.WhyExtract != "" {
		if err := l.whyExtract(res); err != nil {
			return err
		}
	}
	if opts.OutputKind == options.Relocatable {
		exec := false
		for _, f := range res.Files {
			exec = exec || f.ExecStack
		}
		return relocatable.Write(opts.Output, res, exec)
	}
	end = l.timer.Start("exports; garbage collection")
	res.AllocateCommons()
	dynamic := !opts.Static && (opts.OutputKind != options.Exec || len(res.Shlibs) > 0)

	// The symbols the link editor defines, and what the output exports.
	provided := l.provide(res, dynamic)
	l.defsyms(res)
	scripts.define(res, opts)
	// The libraries' undefined references are reported after the
	// objects' (GNU ld finds them writing the symbol table).
	var shlibErrs []error
	if opts.CheckShlibUndefined() {
		shlibErrs = res.ShlibUndefined(opts.GCSections)
	}
	script, err := l.versionScript()
	if err != nil {
		return err
	}
	exports, err := l.exportList()
	if err != nil {
		return err
	}
	if errs := res.DecideExports(opts, dynamic, script, exports); len(errs) > 0 {
		return errors.Join(errs...)
	}
	if opts.GCSections {
		scripts.keep(res)
		gc.Collect(res, opts, l.stderr, l.prog)
	}
	end()
	end = l.timer.Start("sections; string merging")
	sections := layout.Sections(res.Files, opts.Strip != options.StripNone)
	layout.Merge(sections)
	sections, err = scripts.apply(sections)
	end()
	if err != nil {
		return err
	}

	// Relocation scan.
	ctx := &scan.Context{
		Opts:     opts,
		PIC:      opts.OutputKind == options.PIE || opts.OutputKind == options.Shared,
		Dynamic:  dynamic,
		Shared:   opts.OutputKind == options.Shared,
		Versions: script,
	}
	end = l.timer.Start("scan relocations")
	sr := ctx.Scan(res.Files, threads)
	end()
	if errs := append(sr.Errors, shlibErrs...); len(errs) > 0 {
		return errors.Join(errs...)
	}
	if opts.OutputKind == options.Exec || opts.OutputKind == options.PIE {
		if err := res.HiddenReferenced(opts.Output); err != nil {
			return err
		}
	}
	if sr.TextRel {
		if opts.Z.Text {
			return fmt.Errorf("%s: read-only segment has dynamic relocations", sr.TextRelPlace.File.Name)
		}
		if !opts.Z.NoText {
			what := "a PIE"
			if ctx.Shared {
				what = "a shared object"
			}
			l.warn("creating DT_TEXTREL in " + what)
		}
	}

	// Synthetic sections, then layout.
	end = l.timer.Start("synthetic sections; layout")
	set := synth.New(ctx, res, sections)
	set.Build(sr)
	cfg := &layout.Config{
		PageSize:  4096,
		Relro:     opts.Z.Relro,
		Now:       opts.Z.Now,
		ExecStack: opts.Z.ExecStack,
		Interp:    set.Interp != nil,
		StackSize: opts.Z.StackSize,

		NoSeparateCode: !opts.Z.SeparateCode,
	}
	if opts.Z.MaxPageSize != 0 {
		cfg.PageSize = opts.Z.MaxPageSize
	}
	if opts.OutputKind == options.Exec {
		cfg.Base = 0x400000
	}
	chunks := layout.Order(set.Chunks(), cfg)
	set.NameSections(chunks)
	lay := layout.Assign(chunks, cfg)
	set.Placed(lay.TLS)
	for _, p := range provided {
		p.set(lay, set)
	}
	err = scripts.place(res, lay)
	end()
	if err != nil {
		return err
	}

	entry, err := l.entry(res, lay)
	if err != nil {
		return err
	}
	if opts.Map != "" {
		if err := l.writeMap(opts.Map, res, lay); err != nil {
			return err
		}
	}
	if err := l.writeExplanation(res, ctx); err != nil {
		return err
	}
	if l.warned && opts.FatalWarnings {
		return errors.New("warnings are errors (--fatal-warnings)")
	}
	end = l.timer.Start("write output")
	defer end()
	return output.Write(&output.Output{
		Path: opts.Output, Opts: opts, Ctx: ctx, Res: res, Set: set, Layout: lay, Entry: entry, Threads: threads,
		Timer: l.timer,
	})
}

// whyExtract writes --why-extract's table, as lld and mold write it:
// for each archive member, the file and the symbol that brought it in.
func (l *linker) whyExtract(res *resolve.Result) error {
	var b strings.Builder
	b.WriteString("reference\textracted\tsymbol\n")
	for _, e := range res.Extractions {
		fmt.Fprintf(&b, "%s\t%s\t%s\n", e.Reference, e.Member, e.Symbol)
	}
	if l.opts.WhyExtract == "-" {
		_, err := io.WriteString(l.stdout, b.String())
		return err
	}
	if err := os.WriteFile(l.opts.WhyExtract, []byte(b.String()), 0o666); err != nil {
		return fmt.Errorf("cannot open --why-extract= file %s: %s", l.opts.WhyExtract, object.ErrorText(errors.Unwrap(err)))
	}
	return nil
}

// versionScript reads --version-script's file, nil if none.
func (l *linker) versionScript() (*versions.Script, error) {
	if len(l.opts.VersionScripts) == 0 {
		return nil, nil
	}
	if len(l.opts.VersionScripts) > 1 {
		return nil, errors.New("more than one --version-script is not supported yet")
	}
	path := l.opts.VersionScripts[0]
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open version script %s: %s", path, object.ErrorText(errors.Unwrap(err)))
	}
	return versions.Parse(path, string(text))
}

// exportList reads --dynamic-list's files and --export-dynamic-symbol's
// patterns, nil if none.
func (l *linker) exportList() (*versions.Script, error) {
	if len(l.opts.DynamicLists) == 0 && len(l.opts.ExportSymbols) == 0 {
		return nil, nil
	}
	list := versions.Patterns(l.opts.ExportSymbols)
	for _, path := range l.opts.DynamicLists {
		text, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("cannot open dynamic list %s: %s", path, object.ErrorText(errors.Unwrap(err)))
		}
		s, err := versions.Parse(path, string(text))
		if err != nil {
			return nil, err
		}
		list.Add(s)
	}
	return list, nil
}

// entry is the entry point's address: -e's symbol (or number), _start by
// default; GNU ld warns and takes .text's start without one.
func (l *linker) entry(res *resolve.Result, lay *layout.Layout) (uint64, error) {
	name := l.opts.Entry
	if name == "" {
		if l.opts.OutputKind == options.Shared {
			return 0, nil
		}
		name = "_start"
	}
	if s := res.Table.Lookup(name); s != nil && s.DefinedHere() {
		return s.Addr(), nil
	}
	var n uint64
	if _, err := fmt.Sscanf(name, "%v", &n); err == nil && l.opts.Entry != "" {
		return n, nil
	}
	var text uint64
	for _, c := range lay.Chunks {
		if h := c.Header(); h.Name == ".text" {
			text = h.Addr
		}
	}
	if l.opts.OutputKind != options.Shared {
		l.warn(fmt.Sprintf("cannot find entry symbol %s; defaulting to %016x", name, text))
	}
	return text, nil
}

// defsyms defines --defsym's symbols that are numbers: absolute
// symbols. Those that name another symbol are provided (provide.go).
func (l *linker) defsyms(res *resolve.Result) {
	for _, d := range l.opts.Defsyms {
		if d.Symbol != "" {
			continue
		}
		if s := res.Define(d.Name); s.Kind == resolve.Linker {
			s.Value = uint64(d.Value)
			s.LinkerAbs = true
		}
	}
}
