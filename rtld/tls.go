package rtld

import (
	"errors"
	"fmt"

	"github.com/ldgo/ldgo/host"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/namespace"
	"github.com/ldgo/ldgo/object"
)

// The program's static TLS is laid out as glibc would lay it out in a
// native run (namespace.StaticTLSLayout over the objects loaded at
// start-up, libc included, with glibc's surplus), so that every block
// has glibc's offset and every thread pointer glibc's alignment, and an
// object opened later is refused static TLS exactly when glibc would
// refuse it. Where ldgo's process has the room (host.TLSArea), the blocks
// lie at those offsets: all of them in the reserve at the end of ldgo's
// own block when the whole layout, surplus included, fits there; when it
// does not, the program's block stays at its offset (the program's
// local-exec accesses were linked to it), and the libraries' blocks and
// the surplus move past ldgo's own variables by a shift that keeps every
// alignment. When the process has not the room, or its thread pointers
// are less aligned than the layout needs, ldgo must start again with a
// static TLS module that gives it both (StaticTLSNeeded).

// staticTLS is the program's static TLS.
type staticTLS struct {
	// native is glibc's account of it: what is used, where the surplus
	// ends, the alignment.
	native namespace.StaticTLS
	// shift is how much farther below the thread pointer than glibc's
	// offset the libraries' blocks lie.
	shift uint64
	// state is where ldgo's per-thread state moves, when the program's
	// block covers it, or 0.
	state uint64
	// blocks are the blocks placed at start-up.
	blocks []host.TLSBlock
}

// StaticTLSNeeded is returned by Run when this process cannot hold the
// program's static TLS: ldgo must start again with a static TLS module of
// Size bytes aligned to Align (host.TLSModule) preloaded.
type StaticTLSNeeded struct {
	Size, Align uint64
}

func (e *StaticTLSNeeded) Error() string {
	return fmt.Sprintf("ldgo run: the program needs a static TLS module of %d bytes aligned to %d", e.Size, e.Align)
}

// placeTLS gives the program and every library ldgo loads that has a
// PT_TLS segment its TLS block in static TLS, as glibc gives every object
// loaded at start-up, and accounts for the surplus (see above). surplus
// is glibc's dl_tls_static_surplus for the program's environment.
func placeTLS(ns *namespace.Namespace, proc *Process, prog string, area host.TLSArea, areaErr error, surplus uint64) error {
	var maps []*linkmap.Map
	var segs []*object.TLS
	ours := false
	for _, m := range ns.Chain {
		if m.Vdso || m.Faked || m.Obj == nil || m.Obj.TLS == nil {
			continue
		}
		maps, segs = append(maps, m), append(segs, m.Obj.TLS)
		ours = ours || !m.Adopted
	}
	offs, native := namespace.StaticTLSLayout(segs, surplus)
	t := &proc.tls
	t.native = native
	if areaErr != nil {
		if ours {
			return &Error{Msg: fmt.Sprintf("%s: ldgo run: cannot set up static TLS: %v", prog, areaErr)}
		}
		// Static TLS is only refused to objects opened later.
		t.native.End = t.native.Used
		return nil
	}
	var exe uint64 // the program's offset: all of its block lies above it
	if len(maps) > 0 && maps[0] == ns.Main {
		exe = offs[0]
	}
	need := native.End
	if native.End > area.Reserve {
		t.shift = roundUp(area.Own-min(exe, area.Own), native.Align)
		need += t.shift
		if exe > area.Reserve {
			t.state = roundUp(need+host.ThreadStateSize, 64)
			need = t.state
		}
	}
	if need > area.Capacity || native.Align > area.Align {
		align := max(native.Align, 64)
		// The module's block ends where ldgo's begins, at an offset its
		// alignment divides: glibc puts it right below.
		return &StaticTLSNeeded{Size: roundUp(max(need, area.Own+64), align) - area.Own, Align: align}
	}
	for i, m := range maps {
		if m.Adopted {
			continue // libc's block is where glibc's ld.so put it
		}
		off := offs[i]
		if m != ns.Main {
			off += t.shift
		}
		t.blocks = append(t.blocks, tlsBlock(m, off))
		registerTLS(m, off)
	}
	return nil
}

// allocate gives the block of an object opened later that needs static
// TLS its offset, or says, in glibc's words, that there is no room.
func (t *staticTLS) allocate(m *linkmap.Map) (uint64, error) {
	off, ok := t.native.Allocate(m.Obj.TLS)
	if !ok {
		return 0, &namespace.LoadError{Name: m.Name, Err: errors.New("cannot allocate memory in static TLS block")}
	}
	return off + t.shift, nil
}

// publishStaticTLS makes the static TLS blocks placeTLS laid out what
// every thread gets, their images as relocation left them (a pointer in
// .tdata is relocated like any other).
func publishStaticTLS(proc *Process, prog string) error {
	// With no block now, a failure only means that a library dlopen
	// loads later cannot have static TLS.
	if err := host.SetStaticTLS(proc.tls.blocks, proc.tls.state); err != nil && len(proc.tls.blocks) > 0 {
		return &Error{Msg: fmt.Sprintf("%s: ldgo run: cannot set up static TLS: %v", prog, err)}
	}
	return nil
}

// tlsBlock is m's static TLS block, off below the thread pointer.
func tlsBlock(m *linkmap.Map, off uint64) host.TLSBlock {
	t := m.Obj.TLS
	return host.TLSBlock{Image: m.Base + t.Image.Addr, FileSize: t.Image.Size, MemSize: t.BlockSize, TPOffset: off}
}

// registerTLS gives m a TLS module id, which serves general-dynamic
// accesses (the program's own included: a library may reach the program's
// variables so): its static block tpoff below the thread pointer, or with
// tpoff 0 blocks allocated per thread.
func registerTLS(m *linkmap.Map, tpoff uint64) {
	t := m.Obj.TLS
	m.TLSOffset, m.HasStaticTLS = tpoff, tpoff != 0
	m.TLSModID = host.RegisterTLS(m.Base+t.Image.Addr, t.Image.Size, t.BlockSize, t.Align, tpoff)
}

func roundUp(x, align uint64) uint64 { return (x + align - 1) / align * align }
