package resolve

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"sync"

	"github.com/ldgo/ldgo/link/input"
)

// lineTable is an object's DWARF line table, read for messages only.
type lineTable struct {
	once sync.Once
	rows []dwarf.LineEntry
	ok   bool
}

var lineTables sync.Map // *File → *lineTable

// sourceLine returns "FILE:LINE" for offset off of section sec from the
// object's debug information, as GNU ld names the place of an error, or
// "" when there is none. In a relocatable object the line table's
// addresses are offsets in their sections; it is used only when the
// object has one section of code, so that the offsets are not ambiguous.
func (f *File) sourceLine(sec *input.Section, off uint64) string {
	if sec.Flags&elf.SHF_EXECINSTR == 0 {
		return ""
	}
	v, _ := lineTables.LoadOrStore(f, &lineTable{})
	lt := v.(*lineTable)
	lt.once.Do(func() { lt.rows, lt.ok = readLines(f) })
	if !lt.ok {
		return ""
	}
	var best *dwarf.LineEntry
	for i := range lt.rows {
		r := &lt.rows[i]
		if r.EndSequence || r.Address > off || r.File == nil || r.Line == 0 {
			continue
		}
		if best == nil || r.Address >= best.Address {
			best = r
		}
	}
	if best == nil {
		return ""
	}
	return fmt.Sprintf("%s:%d", best.File.Name, best.Line)
}

func readLines(f *File) (rows []dwarf.LineEntry, ok bool) {
	code := 0
	for _, s := range f.Sections {
		if s != nil && s.Flags&elf.SHF_EXECINSTR != 0 && s.Size > 0 {
			code++
		}
	}
	if code != 1 {
		return nil, false
	}
	// debug/elf applies an object's relocations to its DWARF sections;
	// a damaged file is no reason to fail a message.
	defer func() {
		if recover() != nil {
			rows, ok = nil, false
		}
	}()
	ef, err := elf.NewFile(bytes.NewReader(f.Data))
	if err != nil {
		return nil, false
	}
	d, err := ef.DWARF()
	if err != nil {
		return nil, false
	}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag != dwarf.TagCompileUnit {
			r.SkipChildren()
			continue
		}
		lr, err := d.LineReader(e)
		if err != nil || lr == nil {
			continue
		}
		for {
			var le dwarf.LineEntry
			if err := lr.Next(&le); err != nil {
				break
			}
			rows = append(rows, le)
		}
		r.SkipChildren()
	}
	return rows, len(rows) > 0
}
