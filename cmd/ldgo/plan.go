package main

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/bindcache"
	"github.com/ldgo/ldgo/plan"
	"github.com/ldgo/ldgo/rtld"
)

var cmdPlan = &command{
	name:     "plan",
	synopsis: "[OPTIONS] PROG [ARGS...]",
	summary:  "write the launch plan of PROG for ldgo run, or show or check it",
	about: `Writes the launch plan of PROG: everything ldgo run needs to start it,
already resolved — the objects to map (path, identity, segments), every
word relocation writes as an offset in an object and a value relative
to an object's base, the lazy PLT slots and their targets, the TLS
layout, the initializer and finalizer order, the entry point — without
running it (ldgo's file image, relocated twice with the objects placed
differently: see DESIGN.md). The plan is valid for the files it was made
from (the bind cache's identity: status, change time, build-id) and the
search settings (LD_LIBRARY_PATH, LD_PRELOAD, LD_BIND_NOW, ldgo itself).
ARGS are accepted as ldgo run takes them and do not change the plan.
Set-id programs never get one. ldgo run does not use plans yet.`,
	options: []option{
		{name: "show", help: "print the plan (the one kept, or else a new one)\ninstead of writing it"},
		{name: "check", help: "say whether the plan kept is valid, and why not;\nexit 1 if it is not"},
		{name: "json", help: "with --show: print JSON (doc/json.md)"},
		// The analysis commands' --library-path, --preload and
		// --inhibit-cache.
		analysisOptions[0], analysisOptions[1], analysisOptions[2],
	},
	footer: `Plans are kept in $XDG_CACHE_HOME/ldgo/plans (or ~/.cache/ldgo/plans),
beside the bind cache, one per program.
`,
	run: runPlan,
}

func runPlan(c *command, args []string, stdout, stderr io.Writer) int {
	values, operands, status, done := c.parse(args, false, stdout, stderr)
	if done {
		return status
	}
	if len(operands) == 0 {
		return c.usageError(stderr, "missing program")
	}
	_, show := values["show"]
	_, check := values["check"]
	_, asJSON := values["json"]
	if show && check {
		return c.usageError(stderr, "--show and --check exclude each other")
	}
	if asJSON && !show {
		return c.usageError(stderr, "--json goes with --show")
	}
	opts := analysisOptionsFrom(values)
	prog, err := rtld.ProgramPath(operands[0], os.Environ())
	if err != nil {
		fmt.Fprintf(stderr, "ldgo plan: %s: %s\n", operands[0], describeErr(err))
		return 1
	}
	// A script is run by its interpreter, as ldgo run runs it.
	for range 4 {
		interp, _, ok := rtld.Script(prog)
		if !ok {
			break
		}
		prog = interp
	}
	opts.Progname = prog
	popts := analyze.PlanOptions{Options: opts.Options, BindNow: os.Getenv("LD_BIND_NOW") != ""}
	search, err := bindcache.Settings(popts.LibraryPath, popts.Preload, popts.InhibitCache, popts.BindNow)
	if err != nil {
		fmt.Fprintf(stderr, "ldgo plan: %v\n", err)
		return 1
	}
	dir := plan.Dir(os.Getenv)
	abs := prog
	if p, err := analyze.AbsProgram(prog); err == nil {
		abs = p
	}

	if check {
		p, err := plan.Load(dir, abs)
		if err != nil {
			fmt.Fprintf(stdout, "%s: no usable launch plan: %s\n", prog, describeErr(err))
			return 1
		}
		if err := plan.Check(p, search); err != nil {
			fmt.Fprintf(stdout, "%s: %v\n", prog, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: launch plan valid (%s)\n", prog, plan.File(dir, abs))
		return 0
	}

	where := ""
	var p *plan.Plan
	if show {
		if kept, err := plan.Load(dir, abs); err == nil && plan.Check(kept, search) == nil {
			p, where = kept, plan.File(dir, abs)
		}
	}
	if p == nil {
		if p, err = analyze.Plan(prog, popts); err != nil {
			fmt.Fprintln(stderr, planError(prog, err))
			return 1
		}
	}
	if show {
		if asJSON {
			writeJSON(stdout, planJSON(operands[0], p, where))
		} else {
			printPlan(stdout, p, where)
		}
		return 0
	}
	path, err := plan.Store(dir, p)
	if err != nil {
		fmt.Fprintf(stderr, "ldgo plan: %s\n", describeErr(err))
		return 1
	}
	fmt.Fprintf(stdout, "%s: launch plan written to %s (%d objects, %d writes, %d lazy slots)\n", prog, path, len(p.Objects), len(p.Writes), len(p.Lazy))
	return 0
}

// planError words a failure to make a plan: a program that cannot be
// loaded gets glibc's message.
func planError(prog string, err error) string {
	if errors.Is(err, plan.ErrSetID) {
		return "ldgo plan: " + err.Error()
	}
	return "ldgo plan: " + analyze.Describe(prog, err)
}

func protString(p uint8) string {
	b := []byte("---")
	for i, c := range []struct {
		bit  elf.ProgFlag
		char byte
	}{{elf.PF_R, 'r'}, {elf.PF_W, 'w'}, {elf.PF_X, 'x'}} {
		if elf.ProgFlag(p)&c.bit != 0 {
			b[i] = c.char
		}
	}
	return string(b)
}

// printPlan prints p readably: its objects with their segments, the
// writes and lazy slots of each object counted by kind, the order of
// initializers and finalizers.
func printPlan(out io.Writer, p *plan.Plan, where string) {
	if where == "" {
		where = "not kept"
	}
	fmt.Fprintf(out, "launch plan of %s (%s)\n", p.Program, where)
	for _, s := range p.Search {
		fmt.Fprintf(out, "  search %s\n", s)
	}
	writes, lazy, unresolved := planCounts(p)
	fmt.Fprintf(out, "\n%d objects:\n", len(p.Objects))
	for i, o := range p.Objects {
		fmt.Fprintf(out, "  %d %s %s", i, o.Kind, o.Path)
		if o.ID.Content != "" {
			fmt.Fprintf(out, " %s", o.ID.Content)
		}
		fmt.Fprintln(out)
		for _, s := range o.Segments {
			fmt.Fprintf(out, "      segment %s offset %#x vaddr %#x filesz %#x memsz %#x\n", protString(s.Prot), s.Off, s.Vaddr, s.Filesz, s.Memsz)
		}
		if o.Relro.Size > 0 {
			fmt.Fprintf(out, "      relro %#x size %#x\n", o.Relro.Addr, o.Relro.Size)
		}
		if o.TLS.ModID != 0 {
			fmt.Fprintf(out, "      tls module %d", o.TLS.ModID)
			if o.TLS.Static {
				fmt.Fprintf(out, ", static offset %#x", o.TLS.Offset)
			}
			fmt.Fprintln(out)
		}
		var kinds []string
		for k := plan.Absolute; k < plan.Unresolved; k++ {
			if n := writes[i][k]; n > 0 {
				kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
			}
		}
		if len(kinds) > 0 {
			fmt.Fprintf(out, "      writes: %s\n", strings.Join(kinds, ", "))
		}
		if o.Lazy {
			fmt.Fprintf(out, "      lazy slots: %d (%d unresolved)\n", lazy[i], unresolved[i])
		}
		if o.TextRel {
			fmt.Fprintln(out, "      text relocations")
		}
	}
	fmt.Fprintf(out, "\n%d writes, %d lazy slots\n", len(p.Writes), len(p.Lazy))
	for _, list := range []struct {
		name string
		fns  []plan.Fn
	}{{"init", p.Init}, {"fini", p.Fini}} {
		fmt.Fprintf(out, "\n%s order:\n", list.name)
		for _, f := range list.fns {
			what := "function"
			if f.Count > 0 {
				what = fmt.Sprintf("array of %d", f.Count)
			}
			fmt.Fprintf(out, "  %d %s at %#x (%s)\n", f.Object, p.Objects[f.Object].Path, f.Off, what)
		}
	}
	fmt.Fprintf(out, "\nentry %#x, %d program headers at %#x\n", p.Entry, p.Phnum, p.Phdr)
	for _, n := range p.Names {
		fmt.Fprintf(out, "  %s set at %#x in %d %s\n", nameKinds[n.Kind], n.Off, n.Object, p.Objects[n.Object].Path)
	}
	if len(p.Warnings) > 0 {
		fmt.Fprintf(out, "\nwarnings printed as it starts:\n")
		for _, w := range p.Warnings {
			when := ""
			if w.Verbose {
				when = " (with LD_WARN)"
			}
			fmt.Fprintf(out, "  %s%s\n", w.Msg, when)
		}
	}
}

// nameKinds name plan.NameKind's values as --show and --json do.
var nameKinds = map[plan.NameKind]string{plan.ShortName: "short-name", plan.FullName: "full-name", plan.Environ: "environ"}

// planCounts counts each object's writes by kind, and its lazy slots.
func planCounts(p *plan.Plan) (writes [][plan.NumTargetKinds]int, lazy, unresolved []int) {
	writes = make([][plan.NumTargetKinds]int, len(p.Objects))
	lazy, unresolved = make([]int, len(p.Objects)), make([]int, len(p.Objects))
	for _, w := range p.Writes {
		writes[w.Object][w.Value.Kind]++
	}
	for _, l := range p.Lazy {
		lazy[l.Object]++
		if l.Target.Kind == plan.Unresolved {
			unresolved[l.Object]++
		}
	}
	return writes, lazy, unresolved
}

type planDoc struct {
	header
	Path    string       `json:"path"`
	Kept    string       `json:"kept,omitempty"`
	Search  []string     `json:"search"`
	Objects []planObject `json:"objects"`
	Writes  int          `json:"writes"`
	Lazy    int          `json:"lazy_slots"`
	Init    []planFn     `json:"init"`
	Fini    []planFn     `json:"fini"`
	Entry   uint64       `json:"entry"`
	Phdr    uint64       `json:"phdr"`
	Phnum   uint64       `json:"phnum"`
	Names   []planName   `json:"names"`
	// Relocation's warnings the start prints (verbose: with LD_WARN only).
	StartWarnings []planWarning `json:"start_warnings"`
}

type planWarning struct {
	Message string `json:"message"`
	Verbose bool   `json:"verbose,omitempty"`
}

type planName struct {
	Object int    `json:"object"`
	Offset uint64 `json:"offset"`
	Kind   string `json:"kind"`
}

type planObject struct {
	Index      int            `json:"index"`
	Kind       string         `json:"kind"`
	Path       string         `json:"path"`
	Content    string         `json:"content,omitempty"`
	Segments   []planSegment  `json:"segments"`
	TLSModule  uint64         `json:"tls_module,omitempty"`
	TLSOffset  *uint64        `json:"tls_offset,omitempty"`
	Writes     map[string]int `json:"writes_by_kind"`
	LazySlots  int            `json:"lazy_slots"`
	Unresolved int            `json:"unresolved,omitempty"`
}

type planSegment struct {
	Prot   string `json:"prot"`
	Offset uint64 `json:"offset"`
	Vaddr  uint64 `json:"vaddr"`
	Filesz uint64 `json:"filesz"`
	Memsz  uint64 `json:"memsz"`
}

type planFn struct {
	Object int    `json:"object"`
	Offset uint64 `json:"offset"`
	Count  uint64 `json:"count,omitempty"`
}

func planJSON(given string, p *plan.Plan, where string) planDoc {
	doc := planDoc{header: header{Schema: jsonSchema, Command: "plan", Program: given}, Path: p.Program, Kept: where, Search: p.Search,
		Writes: len(p.Writes), Lazy: len(p.Lazy), Entry: p.Entry, Phdr: p.Phdr, Phnum: p.Phnum,
		Init: []planFn{}, Fini: []planFn{}, Names: []planName{}, StartWarnings: []planWarning{}}
	for _, w := range p.Warnings {
		doc.StartWarnings = append(doc.StartWarnings, planWarning{Message: w.Msg, Verbose: w.Verbose})
	}
	for _, n := range p.Names {
		doc.Names = append(doc.Names, planName{Object: int(n.Object), Offset: n.Off, Kind: nameKinds[n.Kind]})
	}
	writes, lazy, unresolved := planCounts(p)
	for i, o := range p.Objects {
		po := planObject{Index: i, Kind: o.Kind.String(), Path: o.Path, Content: o.ID.Content, Segments: []planSegment{},
			TLSModule: o.TLS.ModID, Writes: map[string]int{}, LazySlots: lazy[i], Unresolved: unresolved[i]}
		if o.TLS.Static {
			off := o.TLS.Offset
			po.TLSOffset = &off
		}
		for _, s := range o.Segments {
			po.Segments = append(po.Segments, planSegment{Prot: protString(s.Prot), Offset: s.Off, Vaddr: s.Vaddr, Filesz: s.Filesz, Memsz: s.Memsz})
		}
		for k, n := range writes[i] {
			if n > 0 {
				po.Writes[plan.TargetKind(k).String()] = n
			}
		}
		doc.Objects = append(doc.Objects, po)
	}
	for _, l := range []struct {
		fns []plan.Fn
		out *[]planFn
	}{{p.Init, &doc.Init}, {p.Fini, &doc.Fini}} {
		for _, f := range l.fns {
			*l.out = append(*l.out, planFn{Object: int(f.Object), Offset: f.Off, Count: f.Count})
		}
	}
	return doc
}
