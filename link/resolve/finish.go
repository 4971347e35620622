package resolve

import (
	"debug/elf"
	"fmt"

	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/link/options"
	"github.com/ldgo/ldgo/link/versions"
)

// Globals returns every global symbol an object of the link names, in
// the order of first appearance (objects in link order, symbols in
// table order): the deterministic order of every table made from them.
func (res *Result) Globals() []*Symbol {
	if res.globals != nil {
		return res.globals
	}
	seen := map[*Symbol]bool{}
	for _, f := range res.Files {
		for _, s := range f.Syms[f.FirstGlobal:] {
			if !seen[s] {
				seen[s] = true
				res.globals = append(res.globals, s)
			}
		}
	}
	for _, s := range res.extra {
		if !seen[s] {
			seen[s] = true
			res.globals = append(res.globals, s)
		}
	}
	return res.globals
}

// AllocateCommons turns each common block into a definition in a .bss
// section of its own, in the object that gave its largest size.
func (res *Result) AllocateCommons() {
	for _, s := range res.Globals() {
		if s.Kind != Common {
			continue
		}
		f := s.File
		sec := &input.Section{
			File: f.Object, Index: uint32(len(f.Sections)), Name: ".bss", Type: elf.SHT_NOBITS,
			Flags: elf.SHF_ALLOC | elf.SHF_WRITE, Align: s.CommonAlign, Size: s.Size,
		}
		f.Sections = append(f.Sections, sec)
		s.Kind = Defined
		s.Section = sec
		s.Value = 0
	}
}

// Provide defines name as a symbol of the link editor if an object
// refers to it and nothing defines it (as GNU ld's PROVIDE), and returns
// it; the caller sets its value once addresses are known. It returns nil
// when the name is not wanted.
func (res *Result) Provide(name string, vis elf.SymVis) *Symbol {
	s := res.Table.Lookup(name)
	if s == nil || !s.Referenced || (s.Kind != Undefined && s.Kind != Shared) {
		return nil
	}
	s.Kind = Linker
	s.Shlib = nil
	s.Version = ""
	s.Bind = elf.STB_GLOBAL
	s.Type = elf.STT_NOTYPE
	if vis != elf.STV_DEFAULT {
		s.Vis = vis
	}
	return s
}

// Define defines a symbol of the link editor whether or not anything
// refers to it (for --defsym), and returns it.
func (res *Result) Define(name string) *Symbol {
	s := res.Table.Intern(name)
	if s.Kind == Defined || s.Kind == Common {
		return s
	}
	s.Kind = Linker
	s.Bind = elf.STB_GLOBAL
	s.Shlib = nil
	s.Version = ""
	res.extra = append(res.extra, s)
	res.globals = nil
	return s
}

// DecideExports decides, for every global symbol, whether the output's
// .dynsym has it (as a definition it exports or a name it imports) and
// whether references to it bind at run time. dynamic says the output has
// dynamic sections at all.
//
// A version script (nil if none) gives each definition its version and
// keeps those it names local from the dynamic symbol table.
//
// exports (nil if none) are --dynamic-list's and --export-dynamic-symbol's
// names: an executable exports them; a shared library binds every other
// symbol to itself.
func (res *Result) DecideExports(opts *options.Options, dynamic bool, script, exports *versions.Script) []error {
	var errs []error
	shared := opts.OutputKind == options.Shared
	for _, s := range res.Globals() {
		visible := s.Vis == elf.STV_DEFAULT || s.Vis == elf.STV_PROTECTED
		switch s.Kind {
		case Defined, Common:
			if !dynamic || !visible {
				break
			}
			if script != nil {
				if s.OutVersion != "" {
					if script.Lookup(s.OutVersion) == nil {
						errs = append(errs, fmt.Errorf("%s: version node not found for symbol %s", s.File.Name, s.Name))
					}
				} else if v, local, matched := script.Match(s.Name); matched && local {
					break
				} else if v != nil {
					s.OutVersion = v.Name
				}
			}
			listed := false
			if exports != nil {
				_, _, listed = exports.Match(s.Name)
			}
			if shared || opts.ExportDynamic || s.InShlib || listed {
				s.Exported = true
				s.Dynamic = true
			}
			if shared && s.Vis == elf.STV_DEFAULT && !opts.Bsymbolic && (exports == nil || listed) &&
				!(opts.BsymbolicFuncs && (s.Type == elf.STT_FUNC || s.Type == elf.STT_GNU_IFUNC)) {
				s.Preemptible = true
			}
		case Linker:
			// -E exports what the link editor defines in an
			// executable, as the symbols of GNU ld's script are.
			if dynamic && !shared && s.Vis == elf.STV_DEFAULT && opts.ExportDynamic {
				s.Exported = true
				s.Dynamic = true
			}
		case Shared:
			if s.Referenced {
				s.Dynamic = true
				s.Preemptible = true
			}
		case Undefined:
			// An undefined symbol of a shared library is left to the
			// dynamic linker (--allow-shlib-undefined is the default
			// there); so is an undefined weak symbol of an executable
			// when a GOT or PLT entry or a dynamic relocation refers to
			// it (the relocation scan says: NeedDynamic), as GNU ld
			// leaves it; other references to it are to address 0.
			// A static PIE (no dynamic linker) binds them to 0 itself.
			// -z defs (--no-undefined) makes a shared library's
			// undefined references errors, as an executable's. In an
			// executable a name a shared library of the link refers to
			// strongly is not weak, as in GNU ld: its references are
			// undefined.
			weak := !s.StrongRef && (shared || s.ShlibRef == nil)
			if dynamic && s.Referenced && (shared && (!opts.NoUndefined || weak) || weak && !opts.NoDynamicLinker) && visible {
				s.Dynamic = shared
				s.Preemptible = true
			}
		}
	}
	return errs
}

// AddExtra adds a symbol no object names (a copy-relocated symbol's
// alias in its library) to Globals.
func (res *Result) AddExtra(s *Symbol) {
	res.extra = append(res.extra, s)
	res.globals = nil
}
