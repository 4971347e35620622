package layout

import (
	"debug/elf"
	"fmt"
	"slices"
	"strings"

	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/link/script"
)

// scriptObject owns the sections a linker script's data commands make.
var scriptObject = &input.Object{Name: "<linker script>"}

// Scripted is a linker script's output sections as laid out: where its
// symbol assignments and data commands fall.
type Scripted struct {
	Script   *script.Script
	Sections []*ScriptSection
}

// ScriptSection is one output section a script describes.
type ScriptSection struct {
	Desc *script.OutputSection
	Out  *Section
	// Marks are the symbol assignments inside the section, each at
	// its offset.
	Marks []Mark
	// Data are the data commands, each with the section of its bytes
	// (filled once addresses are known).
	Data []DataSlot
}

// Mark is an assignment inside an output section, at Offset in it.
type Mark struct {
	Assign *script.Assign
	Offset uint64
}

// DataSlot is a data command's bytes.
type DataSlot struct {
	Cmd *script.Data
	Sec *input.Section
}

// Fill writes the value of a data command, little-endian.
func (d DataSlot) Fill(v uint64) {
	for i := range d.Sec.Data {
		d.Sec.Data[i] = byte(v >> (8 * i))
	}
}

// KeptByScript reports whether a KEEP of the scripts names the section:
// garbage collection must then keep it.
func KeptByScript(scripts []*script.Script, file string, sec *input.Section) bool {
	for _, s := range scripts {
		for _, o := range s.Sections {
			for _, it := range o.Items {
				if in, ok := it.(*script.Input); ok && in.Keep && matches(in, file, sec.Name) {
					return true
				}
			}
		}
	}
	return false
}

func matches(in *script.Input, file, name string) bool {
	if !script.Match(in.File, file) {
		return false
	}
	for _, ex := range in.Exclude {
		if script.Match(ex, file) {
			return false
		}
	}
	for _, p := range in.Patterns {
		if script.Match(p, name) {
			return true
		}
	}
	return false
}

// ApplyScript gives a linker script's output sections the input sections
// its patterns name, taking them from the default output sections, and
// lays each out with its data and assignments. It returns the output
// sections (those the script left empty are dropped by Order) and where
// the script's commands fall.
//
// An input section goes to the first of the script's patterns that
// names it, as in GNU ld. With INSERT the script joins GNU ld's default
// one at the insertion point, so a default rule placed before that point
// (.data's, for INSERT AFTER .data) takes its sections first; without
// INSERT the script's patterns come first.
func ApplyScript(sections []*Section, s *script.Script) ([]*Section, *Scripted, error) {
	sc := &Scripted{Script: s}
	var discard []*script.OutputSection
	for _, desc := range s.Sections {
		if desc.Discard {
			discard = append(discard, desc)
		}
	}
	// Input sections by the script output section that takes them.
	taken := map[*script.Input][]*input.Section{}
	for _, o := range sections {
		var keep []*input.Section
		for _, m := range o.Members {
			if in := firstMatch(s, m, o); in != nil {
				taken[in] = append(taken[in], m)
				continue
			}
			keep = append(keep, m)
		}
		if len(keep) != len(o.Members) {
			o.Members = keep
			o.pack()
		}
	}
	for _, desc := range discard {
		for _, it := range desc.Items {
			if in, ok := it.(*script.Input); ok {
				for _, m := range taken[in] {
					m.Discarded = true
					m.InOutput = false
				}
			}
		}
	}
	for _, desc := range s.Sections {
		if desc.Discard {
			continue
		}
		ss, err := lay(desc, taken, s)
		if err != nil {
			return nil, nil, err
		}
		if s.Insert != nil {
			ss.Out.Insert = s.Insert
		}
		sc.Sections = append(sc.Sections, ss)
		// A section of the default layout of the same name is the
		// script's: it takes its place, and what the script's patterns
		// left of it follows what they took.
		if i := slices.IndexFunc(sections, func(o *Section) bool { return o.Hdr.Name == desc.Name && o.Hdr.Alloc() }); i >= 0 {
			rest := sections[i]
			off := ss.Out.Hdr.Size
			for _, m := range rest.Members {
				off = alignUp(off, m.Align)
				m.Offset = off
				off += m.Size
				ss.Out.Hdr.Align = max(ss.Out.Hdr.Align, m.Align)
				ss.Out.Members = append(ss.Out.Members, m)
			}
			ss.Out.Hdr.Size = off
			ss.Out.Hdr.Flags |= rest.Hdr.Flags
			sections[i] = ss.Out
			continue
		}
		sections = append(sections, ss.Out)
	}
	return sections, sc, nil
}

// firstMatch returns the script's input section description that takes
// m, a member of the default output section o, or nil.
func firstMatch(s *script.Script, m *input.Section, o *Section) *script.Input {
	if s.Insert != nil && hasDefaultRule(m.Name) {
		// GNU ld's default script places its rules of the sections
		// before the insertion point first.
		target, _ := rank(&Header{Name: s.Insert.Name, Flags: elf.SHF_ALLOC}, false)
		r, _ := rank(&o.Hdr, false)
		if r < target || r == target && s.Insert.After {
			return nil
		}
	}
	for _, desc := range s.Sections {
		for _, it := range desc.Items {
			if in, ok := it.(*script.Input); ok && matches(in, m.File.Name, m.Name) {
				return in
			}
		}
	}
	return nil
}

// hasDefaultRule reports whether GNU ld's default script names the
// input section (rather than leaving it an orphan).
func hasDefaultRule(name string) bool {
	if OutputName(name) != name {
		return true
	}
	for _, r := range outputNames {
		if r.prefix == name {
			return true
		}
	}
	return false
}

// relEnv evaluates the location counter inside an output section as an
// offset from the section's start; nothing else has a value yet.
type relEnv struct {
	dot   uint64
	align *uint64
}

func (e relEnv) Dot() (uint64, bool)                    { return e.dot, true }
func (relEnv) Symbol(string) (uint64, bool)             { return 0, false }
func (relEnv) Section(string) (_, _, _ uint64, ok bool) { return 0, 0, 0, false }
func (relEnv) Constant(name string) (uint64, bool)      { return constant(name) }
func (e relEnv) Aligned(n uint64)                       { *e.align = max(*e.align, n) }

func constant(name string) (uint64, bool) {
	switch name {
	case "MAXPAGESIZE", "COMMONPAGESIZE":
		return 4096, true
	}
	return 0, false
}

// lay makes the output section desc describes of the input sections
// taken for its patterns, its data commands and its assignments to the
// location counter, each at its offset.
func lay(desc *script.OutputSection, taken map[*script.Input][]*input.Section, s *script.Script) (*ScriptSection, error) {
	out := &Section{Hdr: Header{Name: desc.Name, Type: elf.SHT_PROGBITS}}
	ss := &ScriptSection{Desc: desc, Out: out}
	errorf := func(line int, format string, args ...any) error {
		return &script.Error{Path: s.Path, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	align := uint64(1)
	if desc.Align != nil {
		v, err := desc.Align.Eval(relEnv{align: &align})
		if err != nil {
			return nil, errorf(desc.Line, "%v", err)
		}
		align = max(align, v)
	}
	var off uint64
	inputs, nobits := false, true
	for _, it := range desc.Items {
		switch it := it.(type) {
		case *script.Input:
			ms := taken[it]
			switch it.Sort {
			case "name":
				slices.SortStableFunc(ms, func(a, b *input.Section) int { return strings.Compare(a.Name, b.Name) })
			case "init_priority":
				slices.SortStableFunc(ms, func(a, b *input.Section) int { return initPriority(a.Name) - initPriority(b.Name) })
			}
			for _, m := range ms {
				off = alignUp(off, m.Align)
				m.Offset = off
				off += m.Size
				align = max(align, m.Align)
				m.InOutput = true
				out.Members = append(out.Members, m)
				out.Hdr.Flags |= m.Flags &^ (elf.SHF_GROUP | elf.SHF_MERGE | elf.SHF_STRINGS | elf.SHF_INFO_LINK | elf.SHF_LINK_ORDER)
				inputs = true
				if m.Type != elf.SHT_NOBITS {
					nobits = false
					out.Hdr.Type = m.Type
				}
			}
		case *script.Data:
			sec := &input.Section{File: scriptObject, Name: desc.Name, Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC,
				Align: 1, Size: uint64(it.Size), Data: make([]byte, it.Size), Offset: off, InOutput: true, Generated: true}
			off += uint64(it.Size)
			out.Members = append(out.Members, sec)
			ss.Data = append(ss.Data, DataSlot{it, sec})
			nobits = false
			out.Hdr.KeepEmpty = true
		case *script.Assign:
			out.Hdr.KeepEmpty = true
			if it.Name != "." {
				ss.Marks = append(ss.Marks, Mark{it, off})
				continue
			}
			v, err := it.Value.Eval(relEnv{dot: off, align: &align})
			if err != nil {
				return nil, errorf(it.Line, "%v", err)
			}
			if it.Op == "+=" {
				v += off
			} else if it.Op != "=" {
				return nil, errorf(it.Line, "%s on the location counter is not supported by ldgo's linker scripts", it.Op)
			}
			if v < off {
				return nil, errorf(it.Line, "cannot move location counter backwards (from %016x to %016x)", off, v)
			}
			off = v
		}
	}
	if !inputs || len(ss.Data) > 0 {
		// GNU ld: data commands make a section writable, unless
		// (READONLY).
		out.Hdr.Flags |= elf.SHF_ALLOC | elf.SHF_WRITE
	}
	out.Hdr.Flags |= elf.SHF_ALLOC
	if desc.ReadOnly {
		out.Hdr.Flags &^= elf.SHF_WRITE
	}
	switch {
	case desc.NoLoad || inputs && nobits:
		out.Hdr.Type = elf.SHT_NOBITS
	case strings.HasPrefix(desc.Name, ".note"):
		out.Hdr.Type = elf.SHT_NOTE
	}
	out.Hdr.Size = off
	out.Hdr.Align = align
	return ss, nil
}

// placeInserted moves the sections of an INSERT script to just after
// (or before) the section INSERT names, in output order; a writable one
// placed among RELRO sections is RELRO too.
func placeInserted(chunks []Chunk) []Chunk {
	var moved []*Section
	rest := chunks[:0:0]
	for _, c := range chunks {
		if s, ok := c.(*Section); ok && s.Insert != nil {
			moved = append(moved, s)
			continue
		}
		rest = append(rest, c)
	}
	for _, s := range moved {
		i := slices.IndexFunc(rest, func(c Chunk) bool { return c.Header().Name == s.Insert.Name })
		if i < 0 {
			// GNU ld: the section INSERT names must exist; here, one
			// the output lacks leaves the section where its flags put it.
			r, _ := rank(&s.Hdr, false)
			i = slices.IndexFunc(rest, func(c Chunk) bool { cr, _ := rank(c.Header(), false); return cr > r })
			if i < 0 {
				i = len(rest)
			}
		} else {
			if s.Hdr.Flags&elf.SHF_WRITE != 0 {
				s.Hdr.Relro = rest[i].Header().Relro
			}
			if s.Insert.After {
				// After the target, and after what else the script
				// inserted there before this one.
				i++
				for i < len(rest) && isMoved(moved, rest[i]) {
					i++
				}
			}
		}
		rest = slices.Insert(rest, i, Chunk(s))
	}
	return rest
}

func isMoved(moved []*Section, c Chunk) bool {
	s, ok := c.(*Section)
	return ok && slices.Contains(moved, s)
}
