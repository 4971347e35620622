// Package analyze runs the linking engine over files without running
// anything: it loads a program's objects into a file image as glibc's
// ld.so would in trace mode (ldd), relocates them there, and records every
// decision — which file each library is and why, every symbol binding,
// every undefined symbol and missing version — for the list, tree, verify
// and bindings commands.
package analyze

import (
	"debug/elf"
	"errors"
	"fmt"

	"github.com/ldgo/ldgo/image"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/namespace"
	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/reloc"
	"github.com/ldgo/ldgo/search"
	"github.com/ldgo/ldgo/sysroot"
)

// Options are the inputs of an analysis; they mirror ld.so's.
type Options struct {
	// LibraryPath is LD_LIBRARY_PATH (or --library-path); LibraryPathSet
	// says it was given at all.
	LibraryPath     string
	LibraryPathWhat string // "LD_LIBRARY_PATH" or "--library-path"
	// Preload lists LD_PRELOAD (and --preload) objects.
	Preload      []string
	PreloadWhat  string // "LD_PRELOAD" or "--preload"
	InhibitCache bool
	// PreloadFile is /etc/ld.so.preload unless set otherwise; "-" for none.
	PreloadFile string
	// Progname is how the program is named in output (as given).
	Progname string
	// AsLdd takes the program's $ORIGIN from the path as given, as ldd
	// (which runs ld.so with the program as its argument) does, rather
	// than from the file it resolves to, as running it does.
	AsLdd bool
	// Root is the tree the program is analysed in (--root): every file,
	// the cache and the preload file are read there, as the tree's own
	// ld.so would read them after chroot. Nil is the host.
	Root *sysroot.Root
}

// Analysis is a program's objects loaded into a file image.
type Analysis struct {
	NS  *namespace.Namespace
	img *image.File
	// Warnings are glibc's non-fatal messages met while loading.
	Warnings []string
	// Verbose has Bind pass on the warnings glibc gives only with
	// LD_WARN set, as ldd sets it.
	Verbose bool
	// Err is the error that stopped loading, if any (a fatal one, such
	// as an invalid ELF file, not a missing library).
	Err error
}

// Binding is one successful symbol lookup, as LD_DEBUG=bindings shows it.
type Binding struct {
	Ref, Def  *linkmap.Map
	Name      string
	Version   string
	Protected bool
	// Lazy marks a PLT reference bound at its first call.
	Lazy bool
}

// Problem is one reference that cannot be satisfied.
type Problem struct {
	Map *linkmap.Map
	Err error
}

// Load reads the program at path and everything it needs.
func Load(path string, opts Options) (*Analysis, error) {
	return load(path, opts, placements[0], nil)
}

// load is Load with the objects placed by pl, relocated through the
// environment env makes of the file image's (nil: the file image's).
func load(path string, opts Options, pl placement, env func(*fileEnv) reloc.Env) (*Analysis, error) {
	a := &Analysis{img: image.NewFile()}
	cfg := namespace.Config{
		Search: search.Config{
			LibraryPath:     opts.LibraryPath,
			LibraryPathWhat: opts.LibraryPathWhat,
			InhibitCache:    opts.InhibitCache,
			Root:            opts.Root,
		},
		Preload:       opts.Preload,
		PreloadWhat:   opts.PreloadWhat,
		PreloadFile:   "/etc/ld.so.preload",
		Trace:         true,
		Progname:      opts.Progname,
		OriginAsGiven: opts.AsLdd,
		Vdso:          vdsoMap(pl.vdsoShift),
		CommandRtld:   CommandRtld,
		Warn:          func(msg string) { a.Warnings = append(a.Warnings, msg) },
	}
	if cfg.Search.LibraryPathWhat == "" {
		cfg.Search.LibraryPathWhat = "LD_LIBRARY_PATH"
	}
	if opts.PreloadFile == "-" {
		cfg.PreloadFile = ""
	} else if opts.PreloadFile != "" {
		cfg.PreloadFile = opts.PreloadFile
	}
	fm := &fileMapper{img: a.img, next: pl.lib, pl: pl}
	progname := cfg.Progname
	if progname == "" {
		progname = path
	}
	fe := &fileEnv{File: a.img, progname: progname}
	fm.env = fe
	if env != nil {
		fm.env = env(fe)
	}
	ns, err := namespace.Open(path, cfg, fm)
	if ns == nil {
		return nil, err
	}
	a.NS = ns
	a.Err = err
	ns.LayoutStaticTLS()
	return a, nil
}

// CommandRtld is the dynamic linker ldd runs (its RTLDLIST for x86-64),
// which loads a shared object given as the program.
const CommandRtld = "/lib64/ld-linux-x86-64.so.2"

// Static reports whether the program has no dynamic section.
func (a *Analysis) Static() bool { return a.NS.Main.Obj.Dynamic.Size == 0 }

// Result is what binding every relocation found.
type Result struct {
	Bindings []Binding
	Problems []Problem
	Warnings []string
	Stats    namespace.Stats
}

// Bind relocates every object in the file image, as `ldd -r` has glibc do
// (IFUNC resolvers not run, errors collected), and returns the bindings in
// glibc's order. Without now, PLT slots are bound lazily: they are listed
// after the load-time bindings, in relocation order, marked Lazy.
func (a *Analysis) Bind(now bool) *Result {
	res := &Result{}
	ns := a.NS
	lazy := false
	// Every relocation but the relative ones may bind: size the list
	// once, by the tables that are there (their sizes are the file's
	// word, not a count to trust).
	n := 0
	for _, m := range ns.Chain {
		if o := m.Obj; o != nil && !m.Faked {
			rela, _ := o.Relas(o.Dyn.Rela)
			jmprel, _ := o.Relas(o.Dyn.JmpRel)
			n += rela.Len() - int(min(o.Dyn.RelaCount, uint64(rela.Len()))) + jmprel.Len()
		}
	}
	res.Bindings = make([]Binding, 0, n)
	ns.Linker.OnBind = func(b lookup.Binding) {
		var v string
		if b.Version != nil {
			v = b.Version.Name
		}
		res.Bindings = append(res.Bindings, Binding{Ref: b.Ref, Def: b.Def, Name: b.Name, Version: v, Protected: b.Protected, Lazy: lazy})
	}
	defer func() { ns.Linker.OnBind = nil }()
	opts := namespace.RelocOptions{
		Lazy:      !now,
		SkipIFunc: true,
		Continue:  true,
		OnError: func(m *linkmap.Map, err error) {
			res.Problems = append(res.Problems, Problem{Map: m, Err: err})
		},
		OnWarning: func(m *linkmap.Map, w *reloc.Warning) {
			res.Warnings = append(res.Warnings, w.Msg)
		},
		Verbose: a.Verbose,
	}
	if ns.Main.Initfini == nil {
		return res
	}
	ns.RelocateAll(opts)
	res.Stats = ns.Stats()
	if now {
		return res
	}
	lazy = true
	order := ns.Main.Initfini
	for i := len(order) - 1; i >= 0; i-- {
		m := order[i]
		if m.Rtld || m.Faked || m.Adopted || !m.Obj.Dyn.HasJmpRel || m.Obj.Dyn.BindNow {
			continue
		}
		for slot := 0; slot < namespace.PLTSlots(m); slot++ {
			if _, _, _, err := ns.Fixup(m, slot, true); err != nil {
				var le *namespace.LoadError
				if errors.As(err, &le) && le.Occasion == "" {
					continue // not a PLT slot: reported by the load-time pass
				}
				res.Problems = append(res.Problems, Problem{Map: m, Err: err})
			}
		}
	}
	return res
}

// userTop is the end of a process's address space.
const userTop = 1 << 47

// placement says where the file image puts objects: a program linked at
// fixed addresses where it was linked, a PIE program at pie, libraries
// from lib up, each gap bytes further from the one before than it needs,
// the vDSO vdsoShift below where this process has it. For a plan, the
// n-th object's TLS module id is moved by n times modStep and its static
// TLS offset by n times tlsStep.
type placement struct {
	pie, lib, gap, vdsoShift uint64
	modStep, tlsStep         uint64
}

// placements are the file image's placements: the first, the analysis
// commands', puts the program where the kernel puts it without
// randomization (as gdb does) and libraries from 0x7f0000000000 up; the
// others move every object by a different amount, which a launch plan
// needs (see Plan).
var placements = [...]placement{
	{pie: 0x555555554000, lib: 0x7f0000000000},
	{pie: 0x655555554000, lib: 0x200000000000, gap: 1 << 32, vdsoShift: 0x100000000000},
	{pie: 0x455555550000, lib: 0x100000000000, gap: 3 << 30, vdsoShift: 0x180000000000, modStep: 1 << 16, tlsStep: 1 << 24},
}

// fileMapper places objects in the file image.
type fileMapper struct {
	img  *image.File
	next uint64
	pl   placement
	env  reloc.Env
	// placedProgram is set once the first object, the program, has a
	// place: a PIE program goes where the kernel would put it.
	placedProgram bool
}

func (fm *fileMapper) Map(f *object.File, name string) (uint64, *object.Object, error) {
	lo, hi := f.LoadBounds()
	var base uint64
	library := false
	switch {
	case f.Type == elf.ET_EXEC:
		base = 0
	case !fm.placedProgram && f.Interp != "":
		base = fm.pl.pie - lo
	default:
		base, library = fm.next-lo, true
	}
	if hi-lo > userTop || base+hi > userTop || base+hi < base {
		// The kernel has no room for it: glibc's mmap fails.
		return 0, nil, errors.New("failed to map segment from shared object")
	}
	if library {
		fm.next += (hi-lo+0x1fffff)&^0x1fffff + fm.pl.gap
	}
	fm.placedProgram = true
	data := f.Data()
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		fm.img.Add(image.Segment{
			Addr:     base + p.Vaddr,
			Size:     p.Memsz,
			Data:     data[p.Off : p.Off+p.Filesz],
			Writable: p.Flags&elf.PF_W != 0,
		})
	}
	return base, f.Object, nil
}

func (fm *fileMapper) Env() reloc.Env { return fm.env }

// fileEnv is the relocation environment of the file image: static TLS as
// glibc would lay it out; TLS descriptors and IFUNC resolvers are not run.
type fileEnv struct {
	*image.File
	progname string // how the program is named in messages
}

func (e *fileEnv) StaticTLSOffset(def *linkmap.Map) (uint64, error) {
	if !def.HasStaticTLS {
		return 0, &namespace.LoadError{Name: def.DisplayName(e.progname), Err: errors.New("cannot allocate memory in static TLS block")}
	}
	return def.TLSOffset, nil
}

func (e *fileEnv) TLSDescriptor(def *linkmap.Map, off uint64) (uint64, uint64, error) {
	return 0, off, nil
}

// Describe formats a namespace error the way glibc prints it.
func Describe(progname string, err error) string {
	var le *namespace.LoadError
	if errors.As(err, &le) {
		occ := le.Occasion
		if occ == "" {
			occ = "error while loading shared libraries"
		}
		return fmt.Sprintf("%s: %s: %s", progname, occ, le.Error())
	}
	return fmt.Sprintf("%s: %v", progname, err)
}

// vdsoMap is the vDSO as the program would get it: the one this process
// has, placed shift below it. Without one, the list simply lacks it.
func vdsoMap(shift uint64) *linkmap.Map {
	obj, base, err := object.ReadVDSO()
	if err != nil {
		return nil
	}
	return &linkmap.Map{Obj: obj, Name: object.VDSOName, Names: []string{object.VDSOName}, Base: base - shift, Kind: linkmap.Library, Vdso: true}
}

// Close releases the files the analysis mapped.
func (a *Analysis) Close() {
	seen := map[*object.File]bool{}
	for _, m := range a.NS.Chain {
		if m.File != nil && !seen[m.File] {
			seen[m.File] = true
			m.File.Close()
		}
	}
	if r := a.NS.Rtld; r != nil && r.File != nil && !seen[r.File] {
		r.File.Close()
	}
}
