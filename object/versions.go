package object

// Version is one entry of an object's version table (glibc's
// r_found_version): a version this object needs from File, or, with File
// empty, one it defines.
type Version struct {
	Name   string
	Hash   uint32 // zero for an unused index
	Hidden bool   // VERSYM_HIDDEN on a needed version
	File   string // the needed file (vn_file); "" for a defined version
}

// Verdef is one DT_VERDEF entry.
type Verdef struct {
	Index uint16 // vd_ndx
	Flags uint16 // VER_FLG_BASE, VER_FLG_WEAK
	Hash  uint32
	Name  string // the first Verdaux name
}

// Verneed is one DT_VERNEED entry: the versions needed from one file.
type Verneed struct {
	File string
	Aux  []Vernaux
}

// Vernaux is one version needed from a Verneed's file.
type Vernaux struct {
	Name  string
	Hash  uint32
	Flags uint16 // VER_FLG_WEAK
	Other uint16 // the version index symbols use, with the hidden bit
}

const (
	verFlgBase = 0x1
	verFlgWeak = 0x2
	// VersymHidden marks a version index whose symbol only an exact
	// versioned reference may bind to.
	VersymHidden = 0x8000
)

// Base reports whether v is the object's base version (its own name).
func (v *Verdef) Base() bool { return v.Flags&verFlgBase != 0 }

// Weak reports whether a needed version may be missing without error.
func (a *Vernaux) Weak() bool { return a.Flags&verFlgWeak != 0 }

// Entries in the version chains advance by at least their own size; a
// hostile offset that does not is refused rather than followed forever.
const (
	verdefSize  = 20
	verdauxSize = 8
	verneedSize = 16
	vernauxSize = 16
)

func (o *Object) readVersions() error {
	d := &o.Dyn
	if d.hasVerneed {
		if err := o.readVerneed(d.verneedAddr); err != nil {
			return err
		}
	}
	if d.hasVerdef {
		if err := o.readVerdef(d.verdefAddr); err != nil {
			return err
		}
	}
	// The table glibc's _dl_check_map_versions builds.
	high := 0
	for _, vn := range o.Verneeds {
		for _, a := range vn.Aux {
			high = max(high, int(a.Other&0x7fff))
		}
	}
	for _, vd := range o.Verdefs {
		high = max(high, int(vd.Index&0x7fff))
	}
	if high == 0 {
		return nil
	}
	o.Versions = make([]Version, high+1)
	for _, vn := range o.Verneeds {
		for _, a := range vn.Aux {
			o.Versions[a.Other&0x7fff] = Version{Name: a.Name, Hash: a.Hash, Hidden: a.Other&VersymHidden != 0, File: vn.File}
		}
	}
	for _, vd := range o.Verdefs {
		if vd.Base() {
			// The base version's name is not available for matching
			// a versioned symbol.
			continue
		}
		o.Versions[vd.Index&0x7fff] = Version{Name: vd.Name, Hash: vd.Hash}
	}
	return nil
}

// record returns the size bytes at offset off of b, or nil when they are
// not all inside b.
func record(b []byte, off uint64, size int) []byte {
	if off > uint64(len(b)) || uint64(len(b))-off < uint64(size) {
		return nil
	}
	return b[off : off+uint64(size)]
}

// readVerneed reads the DT_VERNEED records at addr. The records chain
// through offsets from the first, so they are read within the segment that
// holds the first, where a linker writes the whole table: offsets then
// cannot wrap around the address space or leave the bytes that bound the
// walk. readVerdef does the same for DT_VERDEF.
func (o *Object) readVerneed(addr uint64) error {
	b := o.segmentTail(addr)
	// Each Verneed and Vernaux record has 16 bytes of its own, so there
	// are no more of them than the bytes hold. Hostile offsets could lead
	// every Verneed record to the same long Vernaux chain and so read
	// (and keep) the square of that many.
	budget := len(b) / verneedSize
	outside := func() error { return o.errorf("version needs outside the loaded segments") }
	for off := uint64(0); ; {
		r := record(b, off, verneedSize)
		if r == nil {
			return outside()
		}
		if budget--; budget < 0 {
			return o.errorf("Verneed records share their bytes")
		}
		if v := le.Uint16(r); v != 1 {
			return o.errorf("unsupported version %d of Verneed record", v)
		}
		vn := Verneed{File: o.keep(le.Uint32(r[4:]))}
		aux, next := off+uint64(le.Uint32(r[8:])), le.Uint32(r[12:])
		for {
			a := record(b, aux, vernauxSize)
			if a == nil {
				return outside()
			}
			if budget--; budget < 0 {
				return o.errorf("Vernaux records share their bytes")
			}
			vn.Aux = append(vn.Aux, Vernaux{
				Hash:  le.Uint32(a),
				Flags: le.Uint16(a[4:]),
				Other: le.Uint16(a[6:]),
				Name:  o.keep(le.Uint32(a[8:])),
			})
			anext := le.Uint32(a[12:])
			if anext == 0 {
				break
			}
			if anext < vernauxSize {
				return o.errorf("Vernaux record overlaps the next")
			}
			aux += uint64(anext)
		}
		o.Verneeds = append(o.Verneeds, vn)
		if next == 0 {
			return nil
		}
		if next < verneedSize {
			return o.errorf("Verneed record overlaps the next")
		}
		off += uint64(next)
	}
}

func (o *Object) readVerdef(addr uint64) error {
	b := o.segmentTail(addr)
	outside := func() error { return o.errorf("version definitions outside the loaded segments") }
	for off := uint64(0); ; {
		r := record(b, off, verdefSize)
		if r == nil {
			return outside()
		}
		if v := le.Uint16(r); v != 1 {
			return o.errorf("unsupported version %d of Verdef record", v)
		}
		vd := Verdef{
			Flags: le.Uint16(r[2:]),
			Index: le.Uint16(r[4:]),
			Hash:  le.Uint32(r[8:]),
		}
		a := record(b, off+uint64(le.Uint32(r[12:])), verdauxSize)
		if a == nil {
			return outside()
		}
		vd.Name = o.keep(le.Uint32(a))
		o.Verdefs = append(o.Verdefs, vd)
		next := le.Uint32(r[16:])
		if next == 0 {
			return nil
		}
		if next < verdefSize {
			return o.errorf("Verdef record overlaps the next")
		}
		off += uint64(next)
	}
}

// HasVerdef reports whether the object defines versions (DT_VERDEF).
func (o *Object) HasVerdef() bool { return o.Dyn.hasVerdef }

// DefinesVersion reports whether the object's DT_VERDEF has a version with
// this name and hash, as glibc's match_symbol checks a needed version.
func (o *Object) DefinesVersion(name string, hash uint32) bool {
	for _, vd := range o.Verdefs {
		if vd.Hash == hash && vd.Name == name {
			return true
		}
	}
	return false
}

// SymbolVersion returns the version a symbol is defined or referenced at,
// and whether it is hidden, or nil when it has none.
func (o *Object) SymbolVersion(i uint32) (*Version, bool) {
	vs := o.Versym(i)
	ndx := int(vs & 0x7fff)
	if ndx < len(o.Versions) && o.Versions[ndx].Hash != 0 {
		return &o.Versions[ndx], vs&VersymHidden != 0
	}
	return nil, vs&VersymHidden != 0
}
