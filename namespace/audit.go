package namespace

import (
	"debug/elf"
	"errors"

	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/search"
)

// Audit sees the loading as glibc's LD_AUDIT interface reports it
// (rtld-audit(7)); rtld's audit.go calls the audit libraries. The
// library search's part, la_objsearch, is search.Config.ObjSearch.
type Audit interface {
	// Begin is called once the program and the dynamic linker are in
	// the namespace, before anything is searched for: glibc loads its
	// audit libraries there.
	Begin(ns *Namespace) error
	// Opened is called for each object as it enters the namespace
	// (la_objopen): loaded or adopted, at start-up or by dlopen; the
	// vDSO after the preloads, as glibc reports it.
	Opened(ns *Namespace, m *linkmap.Map)
	// BoundNow is called after each JUMP_SLOT relocation of m bound
	// before the program runs (la_symbind with LA_SYMB_NOPLTENTER and
	// LA_SYMB_NOPLTEXIT): def's symbol index defines it, and the GOT
	// entry is at addr, which the audit may change.
	BoundNow(m, def *linkmap.Map, index uint32, addr uint64)
}

// OpenAudit loads the audit library name and what it needs into a
// namespace of its own, as glibc's dlmopen(LM_ID_NEWLM) does for each
// one, and relocates nothing. The objects already in the process that it
// may adopt (libc, and the dynamic linker, found by a search as glibc
// finds it there) are given as copies: the program's namespace keeps its
// own maps of them. Serials start after firstSerial, so that they name no
// object of another namespace. The search is the program's: glibc's
// knowledge of which directories exist is one for all namespaces, and the
// audit library is searched for on the program's behalf. report, if not
// nil, sees the loading as the audit libraries loaded before see it
// (glibc reports a second one's loading to the first).
func OpenAudit(name string, cfg Config, mapper Mapper, program *Namespace, firstSerial uint64, report Audit) (*Namespace, error) {
	cfg.Audit = report
	adoptable := make([]*linkmap.Map, 0, len(cfg.Adoptable)+1)
	for _, a := range cfg.Adoptable {
		adoptable = append(adoptable, copyMap(a))
	}
	if r := copyMap(cfg.Rtld); r != nil {
		if st, err := object.StatFile(r.Name); err == nil {
			r.ID = st.ID
			r.Kind, r.Rtld = linkmap.Library, true
			adoptable = append(adoptable, r)
		}
	}
	cfg.Adoptable, cfg.Rtld = adoptable, nil
	ns := &Namespace{cfg: cfg, mapper: mapper, requesters: make(map[*linkmap.Map]*search.Requester), serial: firstSerial, forAudit: true}
	s := program.Searcher
	ns.Searcher = s
	expanded, err := s.ExpandNeeded(name, program.requesters[program.Main])
	if err != nil {
		return nil, &LoadError{Name: name, Err: err}
	}
	m, _, err := ns.mapObject(nil, expanded, linkmap.Loaded, false)
	if err != nil {
		return nil, err
	}
	if m.Adopted || m.Rtld {
		return nil, &LoadError{Name: name, Err: errors.New("is already loaded by the system's dynamic linker")}
	}
	m.Dlopened = true
	ns.Main = m
	if err := ns.mapDeps(m, nil); err != nil {
		return nil, err
	}
	for _, x := range ns.Chain {
		if x.Rtld {
			ns.Rtld = x
		}
		x.Scope = [][]*linkmap.Map{m.Searchlist}
		if x.Obj.Dyn.Symbolic {
			x.Scope = append([][]*linkmap.Map{{x}}, x.Scope...)
		}
	}
	for _, p := range ns.CheckVersions() {
		if p.Fatal() {
			return nil, &LoadError{Name: p.File.DisplayName(cfg.Progname), Err: errors.New(p.Message)}
		}
	}
	return ns, nil
}

// copyMap is a map of the same object for another namespace.
func copyMap(m *linkmap.Map) *linkmap.Map {
	if m == nil {
		return nil
	}
	c := *m
	c.Names = append([]string(nil), m.Names...)
	c.Serial, c.Loader, c.OpenedBy, c.Global = 0, nil, nil, false
	c.Scope, c.Searchlist, c.Needed, c.Initfini, c.Reldeps = nil, nil, nil, nil, nil
	c.LookupCache.Valid = false
	return &c
}

// applyAudited applies a JUMP_SLOT relocation bound now and shows it to
// the audit: written at once, not batched, so that the audit reads and may
// change what it wrote.
func (r *relocator) applyAudited(rel object.Rela, entry uint64) {
	if r.writer != nil {
		r.flush()
	}
	w := r.writer
	r.writer = nil
	r.res = lookup.Result{}
	r.applyOne(rel, entry)
	r.writer = w
	if r.err == nil && r.res.Map != nil {
		r.ns.cfg.Audit.BoundNow(r.m, r.res.Map, r.res.Index, r.m.Addr(rel.Off))
	}
}

// opened tells the audit of an object entered in the namespace.
func (ns *Namespace) opened(m *linkmap.Map) {
	if a := ns.cfg.Audit; a != nil {
		a.Opened(ns, m)
	}
}

// SlotDefinition is the definition PLT slot i of m binds to, as Fixup
// finds it, looked up again without tracing or counting: for the audit,
// which names it to la_symbind. ok is false when there is none.
func (ns *Namespace) SlotDefinition(m *linkmap.Map, i int) (def *linkmap.Map, index uint32, ok bool) {
	tab, err := m.Obj.Relas(m.Obj.Dyn.JmpRel)
	if err != nil || i < 0 || i >= tab.Len() {
		return nil, 0, false
	}
	rel := tab.At(i)
	if rel.Type != elf.R_X86_64_JMP_SLOT || symbolInTable(m, rel.Sym) != nil {
		return nil, 0, false
	}
	ref := m.Obj.Symbol(rel.Sym)
	var req lookup.Request
	if !slotRequest(&req, m, rel.Sym, &ref) {
		return m, rel.Sym, true
	}
	res, err := ns.Linker.Helper().Symbol(m.Scope, &req)
	if err != nil || res.Map == nil {
		return nil, 0, false
	}
	return res.Map, res.Index, true
}
