package link

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"

	"github.com/ldgo/ldgo/link/layout"
	"github.com/ldgo/ldgo/link/options"
	"github.com/ldgo/ldgo/link/resolve"
	"github.com/ldgo/ldgo/link/script"
	"github.com/ldgo/ldgo/object"
)

// linkScripts are the -T and -dT scripts of a link, and what they
// define.
type linkScripts struct {
	scripts []*script.Script
	laid    []*layout.Scripted
	// syms are the symbols the scripts' assignments define, in script
	// order, each with its assignment and, inside an output section,
	// its place there.
	syms []scriptSymbol
}

type scriptSymbol struct {
	sym    *resolve.Symbol
	assign *script.Assign
	// in is the output section description holding the assignment;
	// nil outside output sections.
	in   *script.OutputSection
	path string
}

// readScripts parses -T's and -dT's scripts; ENTRY sets the entry point
// unless -e did or the script INSERTs.
func (l *linker) readScripts() (*linkScripts, error) {
	ls := &linkScripts{}
	for _, path := range l.opts.Scripts {
		text, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("cannot open linker script file %s: %s", path, object.ErrorText(errors.Unwrap(err)))
		}
		s, err := script.Parse(path, string(text))
		if err != nil {
			return nil, err
		}
		// GNU ld reads an INSERT script before its default script,
		// whose entry point then wins.
		if s.Entry != "" && l.opts.Entry == "" && s.Insert == nil {
			l.opts.Entry = s.Entry
		}
		ls.scripts = append(ls.scripts, s)
	}
	return ls, nil
}

// keep marks the input sections the scripts' KEEP names, before garbage
// collection.
func (ls *linkScripts) keep(res *resolve.Result) {
	for _, f := range res.Files {
		for _, sec := range f.Sections {
			if sec != nil && !sec.Discarded && layout.KeptByScript(ls.scripts, f.Name, sec) {
				sec.Keep = true
			}
		}
	}
}

// apply gives the scripts' output sections their input sections.
func (ls *linkScripts) apply(sections []*layout.Section) ([]*layout.Section, error) {
	for _, s := range ls.scripts {
		out, laid, err := layout.ApplyScript(sections, s)
		if err != nil {
			return nil, err
		}
		sections = out
		ls.laid = append(ls.laid, laid)
	}
	return sections, nil
}

// define defines the symbols the scripts assign, before exports are
// decided: an assignment defines its symbol (unless an object does),
// PROVIDE only one that is referenced and not defined.
func (ls *linkScripts) define(res *resolve.Result, opts *options.Options) {
	add := func(a *script.Assign, in *script.OutputSection, path string) {
		if a.Name == "." {
			return
		}
		vis := elf.STV_DEFAULT
		if a.Hidden {
			vis = elf.STV_HIDDEN
		}
		var s *resolve.Symbol
		if a.Provide {
			s = res.Provide(a.Name, vis)
		} else if s = res.Define(a.Name); s.Kind == resolve.Linker {
			s.Vis = vis
			s.Type = elf.STT_NOTYPE
		} else {
			s = nil
		}
		if s == nil {
			return
		}
		s.LinkerAbs = in == nil && a.Value.Absolute()
		// GNU ld exports a script's symbols from a shared library.
		if opts.OutputKind == options.Shared && vis == elf.STV_DEFAULT {
			s.Exported, s.Dynamic = true, true
		}
		ls.syms = append(ls.syms, scriptSymbol{s, a, in, path})
	}
	for _, s := range ls.scripts {
		for _, a := range s.Assigns {
			add(a, nil, s.Path)
		}
		for _, o := range s.Sections {
			for _, it := range o.Items {
				if a, ok := it.(*script.Assign); ok {
					add(a, o, s.Path)
				}
			}
		}
	}
}

// mark finds where an assignment inside an output section fell.
func (ls *linkScripts) mark(desc *script.OutputSection, a *script.Assign) (*layout.Section, uint64) {
	for _, laid := range ls.laid {
		for _, ss := range laid.Sections {
			if ss.Desc != desc {
				continue
			}
			for _, m := range ss.Marks {
				if m.Assign == a {
					return ss.Out, m.Offset
				}
			}
		}
	}
	return nil, 0
}

// scriptEnv evaluates a script's expressions once addresses are known.
type scriptEnv struct {
	res *resolve.Result
	lay *layout.Layout
	dot uint64
	has bool
}

func (e *scriptEnv) Dot() (uint64, bool) { return e.dot, e.has }

func (e *scriptEnv) Symbol(name string) (uint64, bool) {
	s := e.res.Table.Lookup(name)
	if s == nil || !s.DefinedHere() {
		return 0, false
	}
	return s.Addr(), true
}

func (e *scriptEnv) Section(name string) (addr, size, align uint64, ok bool) {
	if c := find(e.lay, name); c != nil {
		h := c.Header()
		return h.Addr, h.Size, h.Align, true
	}
	return 0, 0, 0, false
}

func (e *scriptEnv) Constant(name string) (uint64, bool) {
	switch name {
	case "MAXPAGESIZE", "COMMONPAGESIZE":
		return 4096, true
	}
	return 0, false
}

// place sets the scripts' symbols and data once the output is laid out,
// and checks their ASSERTs.
func (ls *linkScripts) place(res *resolve.Result, lay *layout.Layout) error {
	for _, ss := range ls.syms {
		env := &scriptEnv{res: res, lay: lay}
		var in layout.Chunk
		switch {
		case ss.in != nil:
			if out, off := ls.mark(ss.in, ss.assign); out != nil {
				env.dot, env.has = out.Hdr.Addr+off, true
				in = out
				if out.Hdr.Index == 0 {
					in = nil
				}
			}
		case ss.assign.After != nil:
			if c := find(lay, ss.assign.After.Name); c != nil {
				h := c.Header()
				env.dot, env.has = h.Addr+h.Size, true
				in = c
			}
		}
		v, err := ss.assign.Value.Eval(env)
		if err != nil {
			return &script.Error{Path: ss.path, Line: ss.assign.Line, Msg: err.Error()}
		}
		if ss.assign.Op != "=" {
			old := ss.sym.Value
			switch ss.assign.Op {
			case "+=":
				v = old + v
			case "-=":
				v = old - v
			case "*=":
				v = old * v
			case "/=":
				if v != 0 {
					v = old / v
				}
			case "<<=":
				v = old << v
			case ">>=":
				v = old >> v
			case "&=":
				v = old & v
			case "|=":
				v = old | v
			}
		}
		ss.sym.Value = v
		ss.sym.OutIndex = 0
		if !ss.sym.LinkerAbs {
			if in == nil {
				in = chunkAt(lay, v)
			}
			if in != nil {
				ss.sym.OutIndex = in.Header().Index
			} else if len(lay.Chunks) > 0 {
				ss.sym.OutIndex = lay.Chunks[0].Header().Index
			}
		}
	}
	for i, s := range ls.scripts {
		env := &scriptEnv{res: res, lay: lay}
		for _, ss := range ls.laid[i].Sections {
			for _, d := range ss.Data {
				v, err := d.Cmd.Value.Eval(env)
				if err != nil {
					return &script.Error{Path: s.Path, Line: d.Cmd.Line, Msg: err.Error()}
				}
				d.Fill(v)
			}
		}
		for _, a := range s.Asserts {
			v, err := a.Value.Eval(env)
			if err != nil {
				return &script.Error{Path: s.Path, Line: a.Line, Msg: err.Error()}
			}
			if v == 0 {
				return errors.New(a.Message)
			}
		}
	}
	return nil
}

// chunkAt returns the loaded chunk holding addr (or ending there).
func chunkAt(lay *layout.Layout, addr uint64) layout.Chunk {
	for _, c := range lay.Chunks {
		if h := c.Header(); h.Alloc() && h.Addr <= addr && addr <= h.Addr+h.Size {
			return c
		}
	}
	return nil
}
