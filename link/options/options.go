// Package options reads ld's command line: the options GNU ld takes (one
// or two dashes for long options, values joined with = or given as the
// next argument, short options with their value attached or not), @file
// response files, and the positional state that applies to the input
// files that follow it (--as-needed, -Bstatic, --whole-archive, groups,
// --push-state/--pop-state).
//
// An option ldgo does not take is an error naming it. Options that change
// nothing in ldgo's output (-plugin with no LTO input, -O1, --no-relax,
// ...) are accepted; options whose effect ldgo does not yet implement are
// refused with a message that says so, never silently ignored.
package options

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Output is the kind of file the link produces.
type Output int

const (
	Exec        Output = iota // position-dependent executable (-no-pie)
	PIE                       // position-independent executable (-pie)
	Shared                    // shared library (-shared)
	Relocatable               // relocatable object (-r)
)

// HashStyle selects the dynamic symbol hash tables written.
type HashStyle int

const (
	HashBoth HashStyle = iota // GNU ld's default: .hash and .gnu.hash
	HashGNU
	HashSysV
)

// Strip says which symbols are left out of the output.
type Strip int

const (
	StripNone  Strip = iota
	StripDebug       // -S: debugging sections and symbols
	StripAll         // -s: every symbol table entry not needed to run
)

// ShlibUndefined says whether the shared libraries' own undefined
// symbols must be defined somewhere in the link.
type ShlibUndefined int

const (
	ShlibUndefinedDefault ShlibUndefined = iota // GNU ld's: checked for executables only
	ShlibUndefinedAllow                         // --allow-shlib-undefined
	ShlibUndefinedError                         // --no-allow-shlib-undefined
)

// InputKind is what an entry of Options.Inputs names.
type InputKind int

const (
	File       InputKind = iota // a path
	Library                     // -lNAME (Name is NAME, or :FILE for -l:FILE)
	GroupStart                  // --start-group
	GroupEnd                    // --end-group
)

// Input is one input-file argument, with the state of the options that
// govern how it is read at its position.
type Input struct {
	Kind InputKind
	Name string
	State
}

// State is what --push-state saves and --pop-state restores.
type State struct {
	AsNeeded     bool // --as-needed
	Static       bool // -Bstatic: -l finds only archives
	WholeArchive bool // --whole-archive
	// CopyDTNeeded (--copy-dt-needed-entries): what the libraries a
	// shared library needs define binds the objects' references, and
	// such a library the output then needs is in its DT_NEEDED.
	CopyDTNeeded bool
}

// Defsym is one --defsym SYMBOL=EXPRESSION, where the expression is a
// number or another symbol's name (optionally plus or minus a number).
type Defsym struct {
	Name   string
	Symbol string // "" for a plain number
	Value  int64
}

// Options is a parsed command line.
type Options struct {
	Output     string // -o; "a.out" by default
	OutputKind Output
	// Static is -static with no -pie: no dynamic sections at all. With
	// -static-pie (or -static and -pie... as gcc passes -static-pie:
	// "-static -pie --no-dynamic-linker"), OutputKind is PIE and
	// NoDynamicLinker is set.
	Static          bool
	DynamicLinker   string // -dynamic-linker
	NoDynamicLinker bool
	Entry           string // -e
	Soname          string // -soname, -h
	Rpath           []string
	RpathLink       []string
	NewDtags        bool // DT_RUNPATH instead of DT_RPATH (Debian's default)
	LibraryPaths    []string
	NoStdlib        bool
	Sysroot         string
	HashStyle       HashStyle
	BuildID         string // "", "sha1", "md5", "uuid" or "0x..." hex
	EhFrameHdr      bool
	ExportDynamic   bool
	Bsymbolic       bool
	BsymbolicFuncs  bool
	GCSections      bool
	PrintGCSections bool
	Undefined       []string // -u
	Defsyms         []Defsym
	Strip           Strip
	DiscardAll      bool // -x
	DiscardNone     bool // --discard-none
	NoUndefined     bool // --no-undefined, -z defs
	// ShlibUndefined is --allow-shlib-undefined or
	// --no-allow-shlib-undefined, the last given; CheckShlibUndefined
	// applies GNU ld's default when neither is.
	ShlibUndefined ShlibUndefined
	AllowMultiple  bool // --allow-multiple-definition, -z muldefs
	FatalWarnings  bool
	Trace          bool     // -t
	TraceSymbols   []string // -y
	Map            string   // -Map
	VersionScripts []string // --version-script
	Scripts        []string // -T, --script, -dT, --default-script: linker scripts (package script)
	Wraps          []string // --wrap
	WhyExtract     string   // --why-extract file ("-": standard output)
	Why            []string // --why SYM: explain SYM's relocations (explain.go)
	Explain        bool     // --explain: explain every dynamic symbol, in the -Map file or on standard output
	EmitRelocs     bool     // --emit-relocs, -q: the input relocations kept in the output
	DynamicLists   []string // --dynamic-list files
	ExportSymbols  []string // --export-dynamic-symbol patterns
	Init, Fini     string   // -init, -fini (default _init, _fini)
	Threads        int      // --threads=N; 0: as many as the machine has
	TimePasses     bool     // --time-passes (and GNU ld's --stats): print each pass's time on standard error
	NoFork         bool     // --no-fork (mold's): the process frees its memory before its exit is reported
	PluginPath     string   // -plugin (not loaded: -flto objects go through lto-wrapper, link/lto.go)
	PluginOpts     []string
	PrintVersion   bool // -v, -V: print the version, then link if there are inputs
	VersionOnly    bool // --version: print the version and stop
	Help           bool
	Verbose        bool

	Z ZOptions

	Inputs []Input
}

// ZOptions are the -z keywords.
type ZOptions struct {
	Now            bool
	Relro          bool // default on, as Debian's GNU ld
	ExecStack      bool
	Text           bool // -z text: a text relocation is an error
	NoText         bool // -z notext: text relocations are allowed silently
	SeparateCode   bool // default on, as GNU ld on x86-64 Linux
	Origin         bool
	NoDelete       bool
	NoDlopen       bool
	InitFirst      bool
	Interpose      bool
	NoDefaultLib   bool
	NoCopyReloc    bool
	Global         bool
	MaxPageSize    uint64
	CommonPageSize uint64
	StackSize      uint64
	DynamicUndefWeak,
	NoDynamicUndefWeak bool
	IBT, SHSTK bool
	IBTPLT     bool // -z ibtplt: an IBT-enabled PLT whatever the inputs
}

// Error is a command-line problem, worded as GNU ld words it.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func errorf(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...)}
}

// Parse reads ld's arguments (without the program name). Response files
// (@file) are expanded first.
func Parse(args []string) (*Options, error) {
	args, err := ExpandResponseFiles(args)
	if err != nil {
		return nil, err
	}
	p := &parser{
		opts: &Options{
			Output:   "a.out",
			NewDtags: true,
			Init:     "_init",
			Fini:     "_fini",
			Z:        ZOptions{Relro: true, SeparateCode: true},
		},
		args: args,
	}
	p.opts.OutputKind = Exec
	if err := p.parse(); err != nil {
		return nil, err
	}
	o := p.opts
	if p.pie && !p.shared && !p.relocatable {
		o.OutputKind = PIE
	}
	if p.shared {
		o.OutputKind = Shared
	}
	if p.relocatable {
		o.OutputKind = Relocatable
	}
	if p.static {
		if o.OutputKind == PIE {
			o.NoDynamicLinker = true
		} else if o.OutputKind == Exec {
			o.Static = true
		}
	}
	if p.groupDepth != 0 && !o.PrintVersion && !o.Help {
		return nil, errorf("group ended before it began (--help for usage)")
	}
	return o, nil
}

type parser struct {
	opts        *Options
	args        []string
	i           int
	state       State
	stack       []State
	pie         bool
	shared      bool
	relocatable bool
	static      bool // -static seen (as opposed to -Bstatic)
	groupDepth  int
}

func (p *parser) input(kind InputKind, name string) {
	p.opts.Inputs = append(p.opts.Inputs, Input{Kind: kind, Name: name, State: p.state})
}

// parse walks the arguments. A word starting with one dash is first
// matched against the long options (as getopt_long_only does), then as a
// short option with its value attached.
func (p *parser) parse() error {
	for p.i < len(p.args) {
		a := p.args[p.i]
		p.i++
		if a == "" || a[0] != '-' || a == "-" {
			p.input(File, a)
			continue
		}
		if a == "--" {
			for ; p.i < len(p.args); p.i++ {
				p.input(File, p.args[p.i])
			}
			return nil
		}
		if err := p.option(a); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) option(a string) error {
	word := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
	name, value, hasValue := strings.Cut(word, "=")
	if o, ok := longOptions[name]; ok {
		if o.arg == noArg && hasValue {
			return errorf("option '%s' doesn't allow an argument", "--"+name)
		}
		if o.arg == requiredArg && !hasValue {
			if p.i >= len(p.args) {
				return errorf("option '%s' requires an argument", a)
			}
			value = p.args[p.i]
			p.i++
		}
		return o.do(p, value)
	}
	// An option whose name is a whole word with no '=' form, such as
	// -Bstatic, was matched above; a short option takes the rest of the
	// word, or the next argument, as its value.
	if a[1] == '-' {
		return errorf("unrecognized option '%s'", a)
	}
	letter := a[1:2]
	o, ok := shortOptions[letter]
	if !ok {
		return errorf("unrecognized option '%s'", a)
	}
	rest := a[2:]
	switch o.arg {
	case noArg:
		if rest != "" {
			return errorf("unrecognized option '%s'", a)
		}
	case requiredArg:
		if rest == "" {
			if p.i >= len(p.args) {
				return errorf("option requires an argument -- '%s'", letter)
			}
			rest = p.args[p.i]
			p.i++
		}
	}
	return o.do(p, rest)
}

type argKind int

const (
	noArg argKind = iota
	requiredArg
	optionalArg // only as --name=value
)

type option struct {
	arg argKind
	do  func(p *parser, v string) error
	// refused marks an option known but not implemented: it is an
	// error naming what is missing, and the usage does not list it.
	refused bool
}

func flag(f func(p *parser)) option {
	return option{arg: noArg, do: func(p *parser, _ string) error { f(p); return nil }}
}

func value(f func(p *parser, v string) error) option { return option{arg: requiredArg, do: f} }

func str(f func(o *Options) *string) option {
	return value(func(p *parser, v string) error { *f(p.opts) = v; return nil })
}

func list(f func(o *Options) *[]string) option {
	return value(func(p *parser, v string) error { *f(p.opts) = append(*f(p.opts), v); return nil })
}

// accepted is an option that changes nothing in ldgo's output.
var accepted = flag(func(*parser) {})

// acceptedValue is an option with a value that changes nothing.
var acceptedValue = value(func(*parser, string) error { return nil })

// unsupported refuses an option whose effect ldgo does not implement.
func unsupported(what string) option {
	o := option{arg: optionalArg, do: func(p *parser, _ string) error {
		return errorf("%s is not supported yet", what)
	}}
	o.refused = true
	return o
}

func unsupportedValue(what string) option {
	o := value(func(p *parser, _ string) error {
		return errorf("%s is not supported yet", what)
	})
	o.refused = true
	return o
}

var longOptions map[string]option
var shortOptions map[string]option

// Names lists the options Parse takes (not those it knows to refuse), long ones with "--" and short
// ones with "-", sorted, for the usage text.
func Names() []string {
	var names []string
	for n, o := range longOptions {
		if !o.refused {
			names = append(names, "--"+n)
		}
	}
	for n, o := range shortOptions {
		if !o.refused {
			names = append(names, "-"+n)
		}
	}
	sort.Strings(names)
	return names
}

func init() {
	output := str(func(o *Options) *string { return &o.Output })
	library := value(func(p *parser, v string) error { p.input(Library, v); return nil })
	libPath := list(func(o *Options) *[]string { return &o.LibraryPaths })
	entry := str(func(o *Options) *string { return &o.Entry })
	undefined := list(func(o *Options) *[]string { return &o.Undefined })
	soname := str(func(o *Options) *string { return &o.Soname })
	dynLinker := value(func(p *parser, v string) error {
		p.opts.DynamicLinker, p.opts.NoDynamicLinker = v, false
		return nil
	})
	exportDynamic := flag(func(p *parser) { p.opts.ExportDynamic = true })
	stripAll := flag(func(p *parser) { p.opts.Strip = StripAll })
	stripDebug := flag(func(p *parser) {
		if p.opts.Strip == StripNone {
			p.opts.Strip = StripDebug
		}
	})
	trace := flag(func(p *parser) { p.opts.Trace = true })
	traceSym := list(func(o *Options) *[]string { return &o.TraceSymbols })
	version := flag(func(p *parser) { p.opts.PrintVersion = true })
	relocatable := flag(func(p *parser) { p.relocatable = true })
	static := flag(func(p *parser) { p.state.Static = true; p.static = true })
	bstatic := flag(func(p *parser) { p.state.Static = true })
	bdynamic := flag(func(p *parser) { p.state.Static = false })
	startGroup := flag(func(p *parser) { p.groupDepth++; p.input(GroupStart, "") })
	endGroup := option{arg: noArg, do: func(p *parser, _ string) error {
		if p.groupDepth == 0 {
			return errorf("group ended before it began (--help for usage)")
		}
		p.groupDepth--
		p.input(GroupEnd, "")
		return nil
	}}
	shared := flag(func(p *parser) { p.shared = true })
	pie := flag(func(p *parser) { p.pie = true })
	rpath := value(func(p *parser, v string) error {
		p.opts.Rpath = append(p.opts.Rpath, v)
		return nil
	})
	zOpt := value(func(p *parser, v string) error { return p.z(v) })
	emulation := value(func(p *parser, v string) error {
		if v != "elf_x86_64" {
			return errorf("unrecognised emulation mode: %s\nSupported emulations: elf_x86_64", v)
		}
		return nil
	})
	optimize := value(func(*parser, string) error { return nil })

	longOptions = map[string]option{
		"output":                   output,
		"library":                  library,
		"library-path":             libPath,
		"entry":                    entry,
		"undefined":                undefined,
		"require-defined":          undefined,
		"soname":                   soname,
		"dynamic-linker":           dynLinker,
		"no-dynamic-linker":        flag(func(p *parser) { p.opts.NoDynamicLinker = true; p.opts.DynamicLinker = "" }),
		"export-dynamic":           exportDynamic,
		"no-export-dynamic":        flag(func(p *parser) { p.opts.ExportDynamic = false }),
		"strip-all":                stripAll,
		"strip-debug":              stripDebug,
		"discard-all":              flag(func(p *parser) { p.opts.DiscardAll = true }),
		"discard-locals":           accepted,
		"discard-none":             flag(func(p *parser) { p.opts.DiscardNone = true }),
		"trace":                    trace,
		"trace-symbol":             traceSym,
		"version":                  flag(func(p *parser) { p.opts.PrintVersion, p.opts.VersionOnly = true, true }),
		"help":                     flag(func(p *parser) { p.opts.Help = true }),
		"verbose":                  option{arg: optionalArg, do: func(p *parser, _ string) error { p.opts.Verbose = true; return nil }},
		"relocatable":              relocatable,
		"static":                   static,
		"Bstatic":                  bstatic,
		"dn":                       bstatic,
		"non_shared":               bstatic,
		"Bdynamic":                 bdynamic,
		"dy":                       bdynamic,
		"call_shared":              bdynamic,
		"start-group":              startGroup,
		"end-group":                endGroup,
		"shared":                   shared,
		"Bshareable":               shared,
		"pie":                      pie,
		"pic-executable":           pie,
		"no-pie":                   flag(func(p *parser) { p.pie = false }),
		"static-pie":               flag(func(p *parser) { p.pie = true; p.static = true; p.state.Static = true }),
		"rpath":                    rpath,
		"rpath-link":               list(func(o *Options) *[]string { return &o.RpathLink }),
		"enable-new-dtags":         flag(func(p *parser) { p.opts.NewDtags = true }),
		"disable-new-dtags":        flag(func(p *parser) { p.opts.NewDtags = false }),
		"as-needed":                flag(func(p *parser) { p.state.AsNeeded = true }),
		"no-as-needed":             flag(func(p *parser) { p.state.AsNeeded = false }),
		"whole-archive":            flag(func(p *parser) { p.state.WholeArchive = true }),
		"no-whole-archive":         flag(func(p *parser) { p.state.WholeArchive = false }),
		"push-state":               flag(func(p *parser) { p.stack = append(p.stack, p.state) }),
		"pop-state":                option{arg: noArg, do: func(p *parser, _ string) error { return p.popState() }},
		"build-id":                 option{arg: optionalArg, do: func(p *parser, v string) error { return p.buildID(v) }},
		"eh-frame-hdr":             flag(func(p *parser) { p.opts.EhFrameHdr = true }),
		"no-eh-frame-hdr":          flag(func(p *parser) { p.opts.EhFrameHdr = false }),
		"hash-style":               value(func(p *parser, v string) error { return p.hashStyle(v) }),
		"Bsymbolic":                flag(func(p *parser) { p.opts.Bsymbolic = true }),
		"Bsymbolic-functions":      flag(func(p *parser) { p.opts.BsymbolicFuncs = true }),
		"Bno-symbolic":             flag(func(p *parser) { p.opts.Bsymbolic, p.opts.BsymbolicFuncs = false, false }),
		"gc-sections":              flag(func(p *parser) { p.opts.GCSections = true }),
		"no-gc-sections":           flag(func(p *parser) { p.opts.GCSections = false }),
		"print-gc-sections":        flag(func(p *parser) { p.opts.PrintGCSections = true }),
		"no-print-gc-sections":     flag(func(p *parser) { p.opts.PrintGCSections = false }),
		"defsym":                   value(func(p *parser, v string) error { return p.defsym(v) }),
		"no-undefined":             flag(func(p *parser) { p.opts.NoUndefined = true }),
		"allow-shlib-undefined":    flag(func(p *parser) { p.opts.ShlibUndefined = ShlibUndefinedAllow }),
		"no-allow-shlib-undefined": flag(func(p *parser) { p.opts.ShlibUndefined = ShlibUndefinedError }),
		"allow-multiple-definition": flag(func(p *parser) {
			p.opts.AllowMultiple = true
		}),
		"undefined-version":           accepted,
		"no-undefined-version":        accepted,
		"fatal-warnings":              flag(func(p *parser) { p.opts.FatalWarnings = true }),
		"no-fatal-warnings":           flag(func(p *parser) { p.opts.FatalWarnings = false }),
		"Map":                         str(func(o *Options) *string { return &o.Map }),
		"init":                        str(func(o *Options) *string { return &o.Init }),
		"fini":                        str(func(o *Options) *string { return &o.Fini }),
		"threads":                     option{arg: optionalArg, do: func(p *parser, v string) error { return p.threads(v) }},
		"no-threads":                  flag(func(p *parser) { p.opts.Threads = 1 }),
		"fork":                        flag(func(p *parser) { p.opts.NoFork = false }),
		"no-fork":                     flag(func(p *parser) { p.opts.NoFork = true }),
		"time-passes":                 flag(func(p *parser) { p.opts.TimePasses = true }),
		"plugin":                      str(func(o *Options) *string { return &o.PluginPath }),
		"plugin-opt":                  list(func(o *Options) *[]string { return &o.PluginOpts }),
		"sysroot":                     str(func(o *Options) *string { return &o.Sysroot }),
		"nostdlib":                    flag(func(p *parser) { p.opts.NoStdlib = true }),
		"z":                           zOpt,
		"m":                           emulation,
		"O":                           optimize,
		"no-copy-dt-needed-entries":   flag(func(p *parser) { p.state.CopyDTNeeded = false }),
		"copy-dt-needed-entries":      flag(func(p *parser) { p.state.CopyDTNeeded = true }),
		"add-needed":                  flag(func(p *parser) { p.state.CopyDTNeeded = true }),
		"no-add-needed":               flag(func(p *parser) { p.state.CopyDTNeeded = false }),
		"demangle":                    option{arg: optionalArg, do: func(*parser, string) error { return nil }},
		"no-demangle":                 accepted,
		"sort-common":                 option{arg: optionalArg, do: func(*parser, string) error { return nil }},
		"warn-common":                 accepted,
		"warn-once":                   accepted,
		"no-warn-mismatch":            accepted,
		"no-warn-search-mismatch":     accepted,
		"warn-execstack":              accepted,
		"no-warn-execstack":           accepted,
		"warn-rwx-segments":           accepted,
		"no-warn-rwx-segments":        accepted,
		"warn-textrel":                accepted,
		"relax":                       accepted,
		"no-relax":                    accepted,
		"color-diagnostics":           option{arg: optionalArg, do: func(*parser, string) error { return nil }},
		"no-color-diagnostics":        accepted,
		"check-sections":              accepted,
		"no-check-sections":           accepted,
		"no-keep-memory":              accepted,
		"reduce-memory-overheads":     accepted,
		"stats":                       flag(func(p *parser) { p.opts.TimePasses = true }),
		"ld-generated-unwind-info":    accepted,
		"no-ld-generated-unwind-info": accepted,
		"compress-debug-sections": value(func(p *parser, v string) error {
			if v != "none" {
				return errorf("--compress-debug-sections=%s is not supported yet", v)
			}
			return nil
		}),
		"icf": value(func(p *parser, v string) error {
			if v != "none" {
				return errorf("--icf=%s is not supported yet", v)
			}
			return nil
		}),
		"flto":                  accepted,
		"flto-partition":        acceptedValue,
		"fuse-ld":               acceptedValue,
		"Qy":                    accepted,
		"qmagic":                accepted,
		"g":                     accepted,
		"EL":                    accepted,
		"no-map-whole-files":    accepted,
		"map-whole-files":       accepted,
		"wrap":                  list(func(o *Options) *[]string { return &o.Wraps }),
		"version-script":        list(func(o *Options) *[]string { return &o.VersionScripts }),
		"dynamic-list":          list(func(o *Options) *[]string { return &o.DynamicLists }),
		"dynamic-list-data":     unsupported("--dynamic-list-data"),
		"export-dynamic-symbol": list(func(o *Options) *[]string { return &o.ExportSymbols }),
		"why-extract":           str(func(o *Options) *string { return &o.WhyExtract }),
		"why":                   list(func(o *Options) *[]string { return &o.Why }),
		"explain":               flag(func(p *parser) { p.opts.Explain = true }),
		"script":                list(func(o *Options) *[]string { return &o.Scripts }),
		"default-script":        list(func(o *Options) *[]string { return &o.Scripts }),
		"dT":                    list(func(o *Options) *[]string { return &o.Scripts }),
		"emit-relocs":           flag(func(p *parser) { p.opts.EmitRelocs = true }),
		"exclude-libs":          unsupportedValue("--exclude-libs"),
		"just-symbols":          unsupportedValue("--just-symbols"),
		"print-map":             unsupported("--print-map"),
		"cref":                  unsupported("--cref"),
		"gdb-index":             unsupported("--gdb-index"),
		"package-metadata":      unsupported("--package-metadata"),
		"Ttext":                 unsupportedValue("-Ttext"),
		"Tdata":                 unsupportedValue("-Tdata"),
		"Tbss":                  unsupportedValue("-Tbss"),
		"Ttext-segment":         unsupportedValue("-Ttext-segment"),
		"section-start":         unsupportedValue("--section-start"),
		"image-base":            unsupportedValue("--image-base"),
		"dependency-file":       unsupportedValue("--dependency-file"),
		"retain-symbols-file":   unsupportedValue("--retain-symbols-file"),
		"unresolved-symbols":    value(func(p *parser, v string) error { return p.unresolved(v) }),
		"oformat":               unsupportedValue("--oformat"),
	}

	shortOptions = map[string]option{
		"o": output,
		"l": library,
		"L": libPath,
		"e": entry,
		"u": undefined,
		"h": soname,
		"I": dynLinker,
		"E": exportDynamic,
		"s": stripAll,
		"S": stripDebug,
		"t": trace,
		"y": traceSym,
		"v": version,
		"V": version,
		"r": relocatable,
		"i": relocatable,
		"x": flag(func(p *parser) { p.opts.DiscardAll = true }),
		"X": accepted,
		"z": zOpt,
		"m": emulation,
		"O": optimize,
		"R": rpath,
		"(": startGroup,
		")": endGroup,
		"T": list(func(o *Options) *[]string { return &o.Scripts }),
		"M": unsupported("--print-map"),
		"q": flag(func(p *parser) { p.opts.EmitRelocs = true }),
		"N": unsupported("-N (--omagic)"),
		"n": unsupported("-n (--nmagic)"),
	}
}

// CheckShlibUndefined reports whether an undefined symbol of a shared
// library in the link, defined nowhere, is an error: by default for
// executables (PIE or not) and not for shared libraries, as GNU ld.
func (o *Options) CheckShlibUndefined() bool {
	switch o.ShlibUndefined {
	case ShlibUndefinedAllow:
		return false
	case ShlibUndefinedError:
		return o.OutputKind != Relocatable
	}
	return o.OutputKind == Exec || o.OutputKind == PIE
}

// unresolved takes --unresolved-symbols=METHOD: which undefined symbols
// are errors, the objects' and the shared libraries', whatever the
// output. GNU ld's ignore-all and ignore-in-object-files make an
// executable whose calls to what is undefined go through PLT entries no
// relocation fills: refused.
func (p *parser) unresolved(v string) error {
	switch v {
	case "report-all":
		p.opts.NoUndefined, p.opts.ShlibUndefined = true, ShlibUndefinedError
	case "ignore-in-shared-libs":
		p.opts.NoUndefined, p.opts.ShlibUndefined = true, ShlibUndefinedAllow
	case "ignore-all", "ignore-in-object-files":
		return errorf("--unresolved-symbols=%s is not supported yet", v)
	default:
		return errorf("bad --unresolved-symbols option: %s", v)
	}
	return nil
}

func (p *parser) popState() error {
	if len(p.stack) == 0 {
		return errorf("no state pushed before popping")
	}
	p.state = p.stack[len(p.stack)-1]
	p.stack = p.stack[:len(p.stack)-1]
	return nil
}

func (p *parser) buildID(v string) error {
	switch v {
	case "", "sha1", "tree":
		p.opts.BuildID = "sha1"
	case "md5", "uuid":
		p.opts.BuildID = v
	case "none":
		p.opts.BuildID = ""
	default:
		hex := strings.TrimPrefix(strings.TrimPrefix(v, "0x"), "0X")
		if len(hex) == len(v) || len(hex) == 0 || len(hex)%2 != 0 || strings.Trim(hex, "0123456789abcdefABCDEF") != "" {
			return errorf("invalid build-id style: %s", v)
		}
		p.opts.BuildID = "0x" + strings.ToLower(hex)
	}
	return nil
}

func (p *parser) hashStyle(v string) error {
	switch v {
	case "gnu":
		p.opts.HashStyle = HashGNU
	case "sysv":
		p.opts.HashStyle = HashSysV
	case "both":
		p.opts.HashStyle = HashBoth
	default:
		return errorf("invalid hash style `%s'", v)
	}
	return nil
}

func (p *parser) threads(v string) error {
	if v == "" {
		p.opts.Threads = 0
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return errorf("invalid number of threads: %s", v)
	}
	p.opts.Threads = n
	return nil
}

func (p *parser) defsym(v string) error {
	name, expr, ok := strings.Cut(v, "=")
	name, expr = strings.TrimSpace(name), strings.TrimSpace(expr)
	if !ok || name == "" || expr == "" {
		return errorf("--defsym:1: syntax error")
	}
	d := Defsym{Name: name}
	sym, off := expr, ""
	if i := strings.LastIndexAny(expr, "+-"); i > 0 {
		sym, off = strings.TrimSpace(expr[:i]), strings.TrimSpace(expr[i:])
	}
	if n, err := strconv.ParseInt(expr, 0, 64); err == nil {
		d.Value = n
		p.opts.Defsyms = append(p.opts.Defsyms, d)
		return nil
	}
	if n, err := strconv.ParseUint(expr, 0, 64); err == nil {
		d.Value = int64(n)
		p.opts.Defsyms = append(p.opts.Defsyms, d)
		return nil
	}
	d.Symbol = sym
	if off != "" {
		n, err := strconv.ParseInt(strings.ReplaceAll(off, " ", ""), 0, 64)
		if err != nil {
			return errorf("--defsym:1: syntax error")
		}
		d.Value = n
	}
	p.opts.Defsyms = append(p.opts.Defsyms, d)
	return nil
}

// z handles one -z keyword.
func (p *parser) z(v string) error {
	z := &p.opts.Z
	key, val, hasVal := strings.Cut(v, "=")
	size := func(dst *uint64) error {
		n, err := strconv.ParseUint(val, 0, 64)
		if !hasVal || err != nil {
			return errorf("invalid value for -z %s: %s", key, val)
		}
		*dst = n
		return nil
	}
	switch key {
	case "now":
		z.Now = true
	case "lazy":
		z.Now = false
	case "relro":
		z.Relro = true
	case "norelro":
		z.Relro = false
	case "execstack":
		z.ExecStack = true
	case "noexecstack":
		z.ExecStack = false
	case "defs":
		p.opts.NoUndefined = true
	case "undefs":
		p.opts.NoUndefined = false
	case "text":
		z.Text, z.NoText = true, false
	case "notext", "textoff":
		z.Text, z.NoText = false, true
	case "separate-code":
		z.SeparateCode = true
	case "noseparate-code":
		z.SeparateCode = false
	case "origin":
		z.Origin = true
	case "nodelete":
		z.NoDelete = true
	case "nodlopen":
		z.NoDlopen = true
	case "initfirst":
		z.InitFirst = true
	case "interpose":
		z.Interpose = true
	case "nodefaultlib":
		z.NoDefaultLib = true
	case "nocopyreloc":
		z.NoCopyReloc = true
	case "global":
		z.Global = true
	case "muldefs":
		p.opts.AllowMultiple = true
	case "max-page-size":
		return size(&z.MaxPageSize)
	case "common-page-size":
		return size(&z.CommonPageSize)
	case "stack-size":
		return size(&z.StackSize)
	case "dynamic-undefined-weak":
		z.DynamicUndefWeak, z.NoDynamicUndefWeak = true, false
	case "nodynamic-undefined-weak":
		z.DynamicUndefWeak, z.NoDynamicUndefWeak = false, true
	case "combreloc", "nocombreloc", "noextern-protected-data", "noindirect-extern-access",
		"common", "nocommon", "nounique", "nounique-symbol", "noreloc-overflow",
		"x86-64-baseline", "x86-64-v2", "x86-64-v3", "x86-64-v4", "nognustack":
		// These change nothing ldgo writes: relocations are always
		// combined, and the ISA level is taken from the inputs.
	case "cet-report", "start-stop-visibility", "lam-u48-report":
		if !hasVal {
			return errorf("unrecognized option '-z %s'", v)
		}
	case "ibt":
		z.IBT = true
	case "ibtplt":
		z.IBTPLT = true
	case "shstk":
		z.SHSTK = true
	default:
		return errorf("unrecognized option '-z %s'", v)
	}
	return nil
}
