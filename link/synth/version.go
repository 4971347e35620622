package synth

import (
	"debug/elf"

	"github.com/ldgo/ldgo/link/layout"
	"github.com/ldgo/ldgo/link/resolve"
	"github.com/ldgo/ldgo/link/versions"
	"github.com/ldgo/ldgo/object"
)

// Version indices of .gnu.version.
const (
	verNdxLocal  = 0
	verNdxGlobal = 1
)

// Versym is .gnu.version: each dynamic symbol's version index.
type Versym struct {
	Hdr     layout.Header
	dynsym  *DynSym
	verneed *Verneed
	verdef  *Verdef
}

func newVersym(dynsym *DynSym, vn *Verneed, vd *Verdef) *Versym {
	return &Versym{Hdr: layout.Header{Name: ".gnu.version", Type: elf.SHT_GNU_VERSYM, Flags: elf.SHF_ALLOC, Align: 2, Entsize: 2, Link: dynsym}, dynsym: dynsym, verneed: vn, verdef: vd}
}

func (v *Versym) Header() *layout.Header { return &v.Hdr }

func (v *Versym) size() { v.Hdr.Size = uint64(len(v.dynsym.Syms)+1) * 2 }

func (v *Versym) Write(b []byte) {
	le.PutUint16(b, verNdxLocal)
	for i, s := range v.dynsym.Syms {
		ndx := uint16(verNdxGlobal)
		switch {
		case s.Kind == resolve.Shared:
			if n, ok := v.verneed.index[verKey{s.Shlib, s.Version}]; ok {
				ndx = n
			}
		case s.OutVersion != "" && v.verdef != nil:
			if ver := v.verdef.script.Lookup(s.OutVersion); ver != nil {
				ndx = uint16(ver.Index)
				if s.OutHidden {
					ndx |= object.VersymHidden
				}
			}
		}
		le.PutUint16(b[2*(i+1):], ndx)
	}
}

// Verdef is .gnu.version_d: the versions the output defines, from its
// version script, after the base version (the output's own name).
type Verdef struct {
	Hdr    layout.Header
	script *versions.Script
	base   string
	strtab *StrTab
}

func newVerdef(strtab *StrTab, script *versions.Script, base string) *Verdef {
	v := &Verdef{Hdr: layout.Header{Name: ".gnu.version_d", Type: elf.SHT_GNU_VERDEF, Flags: elf.SHF_ALLOC, Align: 8, Link: strtab},
		script: script, base: base, strtab: strtab}
	strtab.Add(base)
	size := 20 + 8
	for _, ver := range script.Versions {
		strtab.Add(ver.Name)
		for _, p := range ver.Parents {
			strtab.Add(p)
		}
		size += 20 + 8*(1+len(ver.Parents))
	}
	v.Hdr.Size = uint64(size)
	v.Hdr.Info = uint32(1 + len(script.Versions))
	return v
}

func (v *Verdef) Header() *layout.Header { return &v.Hdr }

// Count is the number of Verdef entries (DT_VERDEFNUM).
func (v *Verdef) Count() int { return 1 + len(v.script.Versions) }

func (v *Verdef) Write(b []byte) {
	const verFlgBase = 1
	off := 0
	put := func(name string, flags, index uint16, parents []string, last bool) {
		e := b[off:]
		names := append([]string{name}, parents...)
		le.PutUint16(e, 1) // vd_version
		le.PutUint16(e[2:], flags)
		le.PutUint16(e[4:], index)
		le.PutUint16(e[6:], uint16(len(names)))
		le.PutUint32(e[8:], object.SysVHash(name))
		le.PutUint32(e[12:], 20)
		size := 20 + 8*len(names)
		if !last {
			le.PutUint32(e[16:], uint32(size))
		}
		for i, n := range names {
			a := e[20+8*i:]
			le.PutUint32(a, v.strtab.Offset(n))
			if i < len(names)-1 {
				le.PutUint32(a[4:], 8)
			}
		}
		off += size
	}
	put(v.base, verFlgBase, verNdxGlobal, nil, len(v.script.Versions) == 0)
	for i, ver := range v.script.Versions {
		put(ver.Name, 0, uint16(ver.Index), ver.Parents, i == len(v.script.Versions)-1)
	}
}

type verKey struct {
	lib  *resolve.Shlib
	name string
}

// Verneed is .gnu.version_r: for each library the output imports
// versioned symbols from, the versions it needs.
type Verneed struct {
	Hdr    layout.Header
	libs   []*resolve.Shlib
	vers   map[*resolve.Shlib][]string
	index  map[verKey]uint16
	strtab *StrTab
}

func newVerneed(strtab *StrTab) *Verneed {
	return &Verneed{Hdr: layout.Header{Name: ".gnu.version_r", Type: elf.SHT_GNU_VERNEED, Flags: elf.SHF_ALLOC, Align: 8, Link: strtab},
		vers: map[*resolve.Shlib][]string{}, index: map[verKey]uint16{}, strtab: strtab}
}

func (v *Verneed) Header() *layout.Header { return &v.Hdr }

// build collects the versions the imports need, in the order of the
// libraries and of first use; indices start after the output's own
// version definitions (first).
func (v *Verneed) build(syms []*resolve.Symbol, libs []*resolve.Shlib, first uint16) {
	for _, s := range syms {
		if s.Kind != resolve.Shared || s.Version == "" {
			continue
		}
		k := verKey{s.Shlib, s.Version}
		if _, ok := v.index[k]; ok {
			continue
		}
		v.index[k] = 0
		v.vers[s.Shlib] = append(v.vers[s.Shlib], s.Version)
	}
	next := first
	n := 0
	for _, l := range libs {
		vs := v.vers[l]
		if len(vs) == 0 {
			continue
		}
		v.libs = append(v.libs, l)
		v.strtab.Add(l.NeededName)
		for _, name := range vs {
			v.index[verKey{l, name}] = next
			next++
			v.strtab.Add(name)
			n++
		}
	}
	v.Hdr.Size = uint64(len(v.libs))*16 + uint64(n)*16
	v.Hdr.Info = uint32(len(v.libs))
}

// Count is the number of Verneed entries (DT_VERNEEDNUM).
func (v *Verneed) Count() int { return len(v.libs) }

func (v *Verneed) Write(b []byte) {
	off := 0
	for i, l := range v.libs {
		vs := v.vers[l]
		e := b[off:]
		le.PutUint16(e, 1) // vn_version
		le.PutUint16(e[2:], uint16(len(vs)))
		le.PutUint32(e[4:], v.strtab.Offset(l.NeededName))
		le.PutUint32(e[8:], 16)
		next := uint32(16 + 16*len(vs))
		if i == len(v.libs)-1 {
			next = 0
		}
		le.PutUint32(e[12:], next)
		for j, name := range vs {
			a := e[16+16*j:]
			le.PutUint32(a, object.SysVHash(name))
			le.PutUint16(a[4:], 0)
			le.PutUint16(a[6:], v.index[verKey{l, name}])
			le.PutUint32(a[8:], v.strtab.Offset(name))
			if j < len(vs)-1 {
				le.PutUint32(a[12:], 16)
			}
		}
		off += 16 + 16*len(vs)
	}
}
