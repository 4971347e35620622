package layout

import (
	"debug/elf"
	"slices"
	"strconv"
	"strings"

	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/link/resolve"
)

// outputNames maps input section name prefixes to output sections, as
// GNU ld's default script does; the first match wins.
var outputNames = []struct{ prefix, out string }{
	{".text", ".text"},
	{".gnu.linkonce.t.", ".text"},
	{".rodata", ".rodata"},
	{".gnu.linkonce.r.", ".rodata"},
	{".data.rel.ro", ".data.rel.ro"},
	{".data", ".data"},
	{".gnu.linkonce.d.", ".data"},
	{".bss", ".bss"},
	{".gnu.linkonce.b.", ".bss"},
	{".tdata", ".tdata"},
	{".gnu.linkonce.td.", ".tdata"},
	{".tbss", ".tbss"},
	{".gnu.linkonce.tb.", ".tbss"},
	{".init_array", ".init_array"},
	{".ctors", ".init_array"},
	{".fini_array", ".fini_array"},
	{".dtors", ".fini_array"},
	{".preinit_array", ".preinit_array"},
	{".gcc_except_table", ".gcc_except_table"},
	{".lrodata", ".lrodata"},
	{".ldata", ".ldata"},
	{".lbss", ".lbss"},
}

// OutputName returns the output section an input section named name
// joins. Names that no rule maps (orphans) keep their own.
func OutputName(name string) string {
	for _, r := range outputNames {
		if name == r.prefix || strings.HasPrefix(name, r.prefix) && (strings.HasSuffix(r.prefix, ".") || name[len(r.prefix)] == '.') {
			// .text.foo, but not .textfoo
			return r.out
		}
	}
	return name
}

// Sections groups the live input sections of files into output
// sections, in the order they are first met, their members in link
// order (sorted by priority where GNU ld's script sorts them). .eh_frame
// sections are left out: the synthetic .eh_frame takes them.
//
// stripDebug leaves out the debugging sections (-S, -s).
func Sections(files []*resolve.File, stripDebug bool) []*Section {
	byName := map[string]*Section{}
	var out []*Section
	for _, f := range files {
		for _, s := range f.Sections {
			if s == nil || s.Discarded || s.Name == ".eh_frame" && s.Type != elf.SHT_NOBITS {
				continue
			}
			if strings.HasPrefix(s.Name, ".gnu.warning") || s.Name == ".gnu_debuglink" {
				continue
			}
			if stripDebug && s.Flags&elf.SHF_ALLOC == 0 && isDebug(s.Name) {
				continue
			}
			name := OutputName(s.Name)
			if s.Flags&elf.SHF_ALLOC == 0 && s.Type != elf.SHT_PROGBITS && s.Type != elf.SHT_NOTE {
				continue
			}
			key := name
			if s.Flags&elf.SHF_ALLOC == 0 {
				key = "\x00" + name // non-alloc sections never join alloc ones
			}
			o := byName[key]
			if o == nil {
				o = &Section{Hdr: Header{Name: name, Type: s.Type, Flags: s.Flags &^ (elf.SHF_GROUP | elf.SHF_MERGE | elf.SHF_STRINGS), Entsize: s.Entsize}}
				if s.Flags&elf.SHF_MERGE != 0 && s.Flags&elf.SHF_STRINGS != 0 && s.Flags&elf.SHF_ALLOC == 0 {
					// Unmerged non-alloc strings (.comment, .debug_str)
					// are still strings.
					o.Hdr.Flags |= elf.SHF_MERGE | elf.SHF_STRINGS
				}
				byName[key] = o
				out = append(out, o)
			}
			if o.Hdr.Entsize != s.Entsize {
				o.Hdr.Entsize = 0
			}
			if s.Type == elf.SHT_PROGBITS || s.Type == elf.SHT_INIT_ARRAY || s.Type == elf.SHT_FINI_ARRAY {
				if o.Hdr.Type == elf.SHT_NOBITS {
					o.Hdr.Type = elf.SHT_PROGBITS
				}
			}
			o.Hdr.Flags |= s.Flags &^ (elf.SHF_GROUP | elf.SHF_MERGE | elf.SHF_STRINGS | elf.SHF_INFO_LINK | elf.SHF_LINK_ORDER)
			o.Members = append(o.Members, s)
			s.InOutput = true
		}
	}
	for _, o := range out {
		sortMembers(o)
		o.pack()
	}
	return out
}

// isDebug reports whether a section holds debugging information.
func isDebug(name string) bool {
	for _, p := range []string{".debug", ".zdebug", ".stab", ".gdb_index", ".line"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// sortMembers orders an output section's members as GNU ld's default
// script does: .init_array.N and .fini_array.N by priority before the
// unnumbered ones, .text's hot and cold parts grouped.
func sortMembers(o *Section) {
	switch o.Hdr.Name {
	case ".init_array", ".fini_array", ".preinit_array":
		sortStableBy(o.Members, func(s *input.Section) int { return initPriority(s.Name) })
	case ".text":
		sortStableBy(o.Members, func(s *input.Section) int { return textGroup(s.Name) })
	}
}

// sortStableBy sorts members by key, keeping their order among equal
// keys; each key is computed once (a C++ program's .text has a hundred
// thousand members).
func sortStableBy(members []*input.Section, key func(*input.Section) int) {
	type keyed struct {
		key int
		sec *input.Section
	}
	ks := make([]keyed, len(members))
	sorted := true
	for i, m := range members {
		ks[i] = keyed{key(m), m}
		sorted = sorted && (i == 0 || ks[i-1].key <= ks[i].key)
	}
	if sorted {
		return
	}
	slices.SortStableFunc(ks, func(a, b keyed) int { return a.key - b.key })
	for i, k := range ks {
		members[i] = k.sec
	}
}

// initPriority is the priority of an .init_array.N or .ctors.N section;
// unnumbered sections come last.
func initPriority(name string) int {
	for _, p := range []string{".init_array.", ".fini_array.", ".preinit_array."} {
		if n, ok := strings.CutPrefix(name, p); ok {
			if v, err := strconv.Atoi(n); err == nil {
				return v
			}
		}
	}
	for _, p := range []string{".ctors.", ".dtors."} {
		if n, ok := strings.CutPrefix(name, p); ok {
			if v, err := strconv.Atoi(n); err == nil {
				return 65535 - v
			}
		}
	}
	return 1 << 20
}

func textGroup(name string) int {
	switch {
	case name == ".text.unlikely" || strings.HasPrefix(name, ".text.unlikely.") || strings.HasSuffix(name, "_unlikely"):
		return 0
	case name == ".text.exit" || strings.HasPrefix(name, ".text.exit."):
		return 1
	case name == ".text.startup" || strings.HasPrefix(name, ".text.startup."):
		return 2
	case name == ".text.hot" || strings.HasPrefix(name, ".text.hot."):
		return 3
	}
	return 4
}

// rank orders output sections as GNU ld's default script places them.
// relro says the section is read-only after relocation when RELRO is on.
func rank(h *Header, now bool) (r int, relro bool) {
	alloc := h.Flags&elf.SHF_ALLOC != 0
	write := h.Flags&elf.SHF_WRITE != 0
	exec := h.Flags&elf.SHF_EXECINSTR != 0
	tls := h.Flags&elf.SHF_TLS != 0
	if !alloc {
		switch h.Name {
		case ".comment":
			return 1000, false
		case ".symtab":
			return 1100, false
		case ".strtab":
			return 1101, false
		case ".shstrtab":
			return 1102, false
		}
		return 1001, false
	}
	switch h.Name {
	case ".interp":
		return 10, false
	case ".note.gnu.property":
		return 20, false
	case ".note.gnu.build-id":
		return 21, false
	case ".hash":
		return 30, false
	case ".gnu.hash":
		return 31, false
	case ".dynsym":
		return 32, false
	case ".dynstr":
		return 33, false
	case ".gnu.version":
		return 34, false
	case ".gnu.version_d":
		return 35, false
	case ".gnu.version_r":
		return 36, false
	case ".rela.dyn":
		return 37, false
	case ".rela.plt":
		return 38, false
	case ".init":
		return 50, false
	case ".plt":
		return 51, false
	case ".plt.got":
		return 52, false
	case ".plt.sec":
		return 53, false
	case ".text":
		return 54, false
	case ".fini":
		return 56, false
	case ".rodata":
		return 60, false
	case ".eh_frame_hdr":
		return 62, false
	case ".eh_frame":
		return 63, false
	case ".gcc_except_table":
		return 64, false
	case ".tdata":
		return 70, true
	case ".tbss":
		return 71, true
	case ".preinit_array":
		return 72, true
	case ".init_array":
		return 73, true
	case ".fini_array":
		return 74, true
	case ".data.rel.ro":
		return 75, true
	case ".dynamic":
		return 76, true
	case ".got":
		return 77, true
	case ".got.plt":
		if now {
			return 78, true
		}
		return 80, false
	case ".data":
		return 81, false
	case ".bss":
		return 90, false
	}
	switch {
	case h.Type == elf.SHT_NOTE && !write:
		return 22, false
	case tls && h.Type == elf.SHT_NOBITS:
		return 71, true
	case tls:
		return 70, true
	case exec:
		return 55, false
	case !write:
		return 61, false
	case h.Type == elf.SHT_NOBITS:
		return 91, false
	}
	return 82, false
}

// IsCIdentifier reports whether a section name is a C identifier: the
// link editor then defines __start_NAME and __stop_NAME at its bounds,
// and --gc-sections keeps it.
func IsCIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}
