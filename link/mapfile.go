package link

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/link/layout"
	"github.com/ldgo/ldgo/link/resolve"
	"github.com/ldgo/ldgo/object"
)

// writeMap writes -Map's file, in GNU ld's layout (its script's lines
// left out): why each archive member is in, then each output section
// with its address and size, its input sections and the global symbols
// they define.
func (l *linker) writeMap(path string, res *resolve.Result, lay *layout.Layout) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cannot open map file %s: %s", path, object.ErrorText(errors.Unwrap(err)))
	}
	w := bufio.NewWriter(f)
	if len(res.Extractions) > 0 {
		fmt.Fprintf(w, "Archive member included to satisfy reference by file (symbol)\n\n")
		for _, e := range res.Extractions {
			fmt.Fprintf(w, "%-30s%s (%s)\n", e.Member, e.Reference, e.Symbol)
		}
		fmt.Fprintln(w)
	}
	bySection := map[*input.Section][]*resolve.Symbol{}
	for _, s := range res.Globals() {
		if s.Kind == resolve.Defined && s.Section != nil {
			bySection[s.Section] = append(bySection[s.Section], s)
		}
	}
	fmt.Fprintf(w, "Linker script and memory map\n\n")
	for _, c := range lay.Chunks {
		h := c.Header()
		fmt.Fprintf(w, "%-15s 0x%016x %#10x\n", h.Name, h.Addr, h.Size)
		o, ok := c.(*layout.Section)
		if !ok {
			continue
		}
		for _, m := range o.Members {
			ins := append([]*input.Section{m}, m.Merged...)
			for _, in := range ins {
				fmt.Fprintf(w, " %-14s 0x%016x %#10x %s\n", in.Name, m.Addr, in.Size, in.File.Name)
				syms := bySection[in]
				slices.SortFunc(syms, func(a, b *resolve.Symbol) int { return cmp.Compare(a.Value, b.Value) })
				for _, s := range syms {
					fmt.Fprintf(w, "                0x%016x                %s\n", s.DefAddr(), s.Name)
				}
			}
		}
		fmt.Fprintln(w)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
