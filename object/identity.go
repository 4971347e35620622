package object

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Identity tells one version of an object apart from every other: what
// anything that keeps what it learnt from an object (the bind cache's
// bindings, a launch plan) records of it, and compares with ==, before
// trusting what it kept. Two identities are equal only if the bytes can
// be the same.
//
// The file's status is one half. Its change time (ctime) is set by the
// kernel on every write, truncation, chmod, link or rename of the inode,
// and no user can set it back (touch, cp -p, rsync -t and package
// managers set only the modification time); another file renamed over
// the path, or one made after it was removed, is another inode, or the
// same number with a ctime of its own.
//
// The content is the other half, for where the status cannot be
// trusted: file systems whose ctime is not a change time (FAT keeps
// none; FUSE and network file systems report what they are told; a
// squashfs or ISO image remounted with another build holds the same
// inode numbers and times), an object the system's ld.so loaded that
// the path may no longer name, and objects read from memory, the vDSO
// above all, which have no file and change with the kernel. It is the
// object's GNU build-id, which the linker derives from everything it
// wrote, read from the bytes in use; for an object without one, a hash
// of everything binding to or from it depends on (see ContentID).
// Neither half alone would do: tools that edit a linked file (patchelf,
// objcopy) keep its build-id, and a status can stay the same over other
// bytes; for a stale identity both must fail at once.
type Identity struct {
	FileStatus // zero for an object not read from a file (the vDSO)
	Content    string
}

// IdentityOf is the identity of o, read from a file whose status was st.
func IdentityOf(st FileStatus, o *Object) Identity {
	return Identity{FileStatus: st, Content: o.ContentID()}
}

// FileStatus is what a file's status says of the version of its bytes:
// the half of an Identity that costs nothing to read.
type FileStatus struct {
	ID    FileID
	Size  int64
	Mtime int64 // nanoseconds
	Ctime int64 // nanoseconds
}

// StatusOf is the status of a file as fstat or stat gave it.
func StatusOf(st *unix.Stat_t) FileStatus {
	return FileStatus{
		ID:    FileID{Dev: st.Dev, Ino: st.Ino},
		Size:  st.Size,
		Mtime: st.Mtim.Sec*1e9 + st.Mtim.Nsec,
		Ctime: st.Ctim.Sec*1e9 + st.Ctim.Nsec,
	}
}

// StatFile returns the status of the file at path.
func StatFile(path string) (FileStatus, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return FileStatus{}, fmt.Errorf("%s: %w", path, err)
	}
	return StatusOf(&st), nil
}

// String is the status as "dev:ino:size:mtime:ctime".
func (s FileStatus) String() string { return string(s.Append(nil)) }

// Append appends the status as String gives it to b.
func (s FileStatus) Append(b []byte) []byte {
	b = strconv.AppendUint(b, s.ID.Dev, 10)
	b = strconv.AppendUint(append(b, ':'), s.ID.Ino, 10)
	b = strconv.AppendInt(append(b, ':'), s.Size, 10)
	b = strconv.AppendInt(append(b, ':'), s.Mtime, 10)
	return strconv.AppendInt(append(b, ':'), s.Ctime, 10)
}

// ntGNUBuildID is the note type of a GNU build-id.
const ntGNUBuildID = 3

// minBuildID is the shortest build-id taken as one: the linker's styles
// give 16 (md5, uuid) or 20 (sha1) bytes, and anything much shorter is
// not derived from the contents.
const minBuildID = 8

// BuildID returns the object's GNU build-id (NT_GNU_BUILD_ID in a
// PT_NOTE segment), or nil when it has none that can be read.
func (o *Object) BuildID() []byte {
	for _, p := range o.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		b, err := o.src.Bytes(p.Vaddr, p.Filesz)
		if err != nil {
			continue
		}
		// Notes are padded to the segment's alignment: 8 for
		// .note.gnu.property's segment, 4 for the others.
		mask := uint64(3)
		if p.Align == 8 {
			mask = 7
		}
		for uint64(len(b)) >= 12 {
			namesz, descsz, typ := uint64(le.Uint32(b)), uint64(le.Uint32(b[4:])), le.Uint32(b[8:])
			b = b[12:]
			name, desc := (namesz+mask)&^mask, (descsz+mask)&^mask
			if name > uint64(len(b)) || desc > uint64(len(b))-name {
				break
			}
			if typ == ntGNUBuildID && namesz == 4 && string(b[:4]) == "GNU\x00" && descsz >= minBuildID {
				return b[name : name+descsz : name+descsz]
			}
			b = b[name+desc:]
		}
	}
	return nil
}

const buildIDPrefix = "build-id:"

// ContentID names the version of the object's bytes that bindings
// depend on: "build-id:" and its GNU build-id in hex, or, for an object
// without one, "dynamic:" and a SHA-256 of its dynamic section's tags,
// dynamic symbol table, string table and symbol versions — what a
// reference names and what a lookup finds in it. (The hash reads tables
// that a run replaying its bindings from the cache does not, and so is
// made only where there is no build-id; its code is left out: a binding
// names a symbol, not the bytes at its address.)
func (o *Object) ContentID() string {
	if id := o.BuildID(); id != nil {
		// One allocation: this is on every cached run's path.
		b := make([]byte, 0, len(buildIDPrefix)+hex.EncodedLen(len(id)))
		b = hex.AppendEncode(append(b, buildIDPrefix...), id)
		return unsafe.String(&b[0], len(b))
	}
	h := sha256.New()
	var word [16]byte
	for _, t := range o.Dyn.Tags {
		if t.Tag == elf.DT_DEBUG {
			continue // the debugger's pointer, written at run time
		}
		binary.LittleEndian.PutUint64(word[:], uint64(t.Tag))
		binary.LittleEndian.PutUint64(word[8:], t.Val)
		h.Write(word[:])
	}
	section := func(b []byte) {
		binary.LittleEndian.PutUint64(word[:], uint64(len(b)))
		h.Write(word[:8])
		h.Write(b)
	}
	section(o.symtab)
	section(o.versym)
	binary.LittleEndian.PutUint64(word[:], uint64(len(o.strtab)))
	h.Write(word[:8])
	io.WriteString(h, o.strtab)
	fmt.Fprintf(h, "%#v\n%#v\n", o.Verdefs, o.Verneeds)
	return "dynamic:" + hex.EncodeToString(h.Sum(nil)[:16])
}
