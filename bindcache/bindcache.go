// Package bindcache keeps, for a program, what every symbol reference of a
// run bound to, so that a later run over the same objects binds without
// searching: the pre-relocation idea of QUICKSTART and prelink, kept safe
// under address-space randomization by recording definitions as (object,
// symbol) rather than addresses.
//
// A binding is kept for every relocation that names a symbol, in the
// order the run made them: a run over the same objects relocates in the
// same order and replays them one after the other, reading no symbol
// table.
//
// An entry is keyed by the path and identity (object.Identity: device,
// inode, size, modification and change times, and build-id or a hash of
// the dynamic symbols) of every object the run loaded, in load order,
// and by what steers the search (library path, preloads, the status of
// /etc/ld.so.cache and of ldgo itself, options). A file that is not a
// regular file of the user's that only the user may write (see
// OpenCacheFile), or that is truncated, corrupt, of another format or
// for another key, is ignored, never trusted: Load reports that there is
// nothing, and the run searches.
package bindcache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/object"
)

// Object is one loaded object: its serial, which bindings name it by,
// its path and its identity.
type Object struct {
	Serial uint64
	Path   string
	ID     object.Identity
}

// Key is what an entry is valid for.
type Key struct {
	Program string // the program's path as run
	Objects []Object
	// Search holds everything else that steers the search, one
	// "name=value" string each.
	Search []string
}

const magic = "ldgo bind cache 5\n"

// text is the key as stored: one line per item, no empty line.
func (k *Key) text() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "program %q\n", k.Program)
	for _, s := range k.Search {
		fmt.Fprintf(&b, "search %q\n", s)
	}
	for _, o := range k.Objects {
		// As Fprintf's "object %d %q %s %q\n" would write it, a little
		// faster: there is a line for every object on every run.
		line := append(b.AvailableBuffer(), "object "...)
		line = strconv.AppendUint(line, o.Serial, 10)
		line = strconv.AppendQuote(append(line, ' '), o.Path)
		line = o.ID.FileStatus.Append(append(line, ' '))
		line = strconv.AppendQuote(append(line, ' '), o.ID.Content)
		b.Write(append(line, '\n'))
	}
	return b.Bytes()
}

// Dir is where entries are kept: $XDG_CACHE_HOME/ldgo/bindings, or
// $HOME/.cache/ldgo/bindings; "" when neither is set.
func Dir(getenv func(string) string) string {
	if d := getenv("XDG_CACHE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "ldgo", "bindings")
	}
	if h := getenv("HOME"); filepath.IsAbs(h) {
		return filepath.Join(h, ".cache", "ldgo", "bindings")
	}
	return ""
}

// file is the entry's file: one per program and search settings.
func file(dir string, k *Key) string {
	return filepath.Join(dir, FileName(k.Program, k.Search))
}

// FileName is the name of the file in ldgo's cache (an entry; a launch
// plan) kept for program run with the search settings search.
func FileName(program string, search []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%q\n%q\n", program, strings.Join(search, "\x00"))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Settings are the search settings an entry (or a launch plan) is kept
// for, besides the files: the library path, the preloads, whether
// /etc/ld.so.cache is used and bindNow, and the status of ldgo itself
// (another build may answer otherwise) and of /etc/ld.so.cache.
func Settings(libraryPath string, preload []string, inhibitCache, bindNow bool) ([]string, error) {
	s := []string{
		"library-path=" + libraryPath,
		"preload=" + strings.Join(preload, " "),
		fmt.Sprintf("inhibit-cache=%v", inhibitCache),
		// Binding now relocates the PLT slots in another order, and a
		// record is replayed in the order it was made.
		fmt.Sprintf("bind-now=%v", bindNow),
	}
	self, err := object.StatFile("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	s = append(s, "ldgo="+self.String())
	if st, err := object.StatFile("/etc/ld.so.cache"); err == nil {
		s = append(s, "ld.so.cache="+st.String())
	}
	return s, nil
}

// The file's last four bytes are the CRC-32 (IEEE) of the rest: damage
// is found, and checking is cheap next to the lookups it saves. (The
// Castagnoli polynomial's tables take a fifth of a millisecond to make,
// and its sum of a large entry is slower here than this one's.)

// maxFile bounds what Load reads: an entry is lookup.RecordSize bytes a
// reference.
const maxFile = 64 << 20

// ErrNoEntry is Load's answer when there is no usable entry.
var ErrNoEntry = errors.New("no usable bind cache entry")

// Entry is a loaded cache entry: the bindings of a run, in the order they
// were made, read in place from the mapped file.
type Entry struct {
	data []byte        // the whole mapped file
	recs lookup.Record // the bindings
}

// Bindings returns the entry's record; it is valid until Close.
func (e *Entry) Bindings() lookup.Record { return e.recs }

// Close unmaps the entry; it must not be used afterwards.
func (e *Entry) Close() error {
	if e.data == nil {
		return nil
	}
	err := unix.Munmap(e.data)
	e.data, e.recs = nil, nil
	return err
}

// Load returns the entry recorded for k in dir. The file is mapped, not
// read: a large program's entry is half a megabyte, and copying it would
// cost more than replaying it.
func Load(dir string, k *Key) (*Entry, error) {
	if dir == "" {
		return nil, ErrNoEntry
	}
	fd, st, err := OpenCacheFile(file(dir, k))
	if err != nil {
		return nil, ErrNoEntry
	}
	defer unix.Close(fd)
	if st.Size > maxFile || st.Size < int64(len(magic)+4+4) {
		return nil, ErrNoEntry
	}
	data, err := unix.Mmap(fd, 0, int(st.Size), unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_POPULATE)
	if err != nil {
		return nil, ErrNoEntry
	}
	e := &Entry{data: data}
	if !e.check(k) {
		e.Close()
		return nil, ErrNoEntry
	}
	return e, nil
}

// OpenCacheFile opens a file of ldgo's cache for reading (a bind-cache
// entry; a launch plan), the careful way: whatever is found at the path
// is only read if it is what ldgo writes there. It is opened without
// blocking, for a FIFO put in its place would wait for a writer forever,
// and not through a symbolic link; then it must be a regular file, owned
// by the user, that no one else may write. It returns the descriptor,
// which the caller closes, and the file's status.
func OpenCacheFile(path string) (int, *unix.Stat_t, error) {
	const flags = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOFOLLOW | unix.O_NOCTTY
	fd, err := unix.Open(path, flags, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(path, flags, 0)
	}
	if err != nil {
		return -1, nil, fmt.Errorf("%s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("%s: %w", path, err)
	}
	var why string
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		why = "not a regular file"
	case st.Uid != uint32(os.Geteuid()):
		why = fmt.Sprintf("owned by user %d, not by this one", st.Uid)
	case st.Mode&0o022 != 0:
		why = fmt.Sprintf("writable by others (mode %#o)", st.Mode&0o777)
	default:
		return fd, &st, nil
	}
	unix.Close(fd)
	return -1, nil, fmt.Errorf("%s: %s", path, why)
}

// check verifies the entry's checksum and key and finds its bindings.
func (e *Entry) check(k *Key) bool {
	body, sum := e.data[:len(e.data)-4], e.data[len(e.data)-4:]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(sum) {
		return false
	}
	want := append([]byte(magic), k.text()...)
	want = append(want, '\n')
	if !bytes.HasPrefix(body, want) {
		return false
	}
	rest := body[len(want):]
	if len(rest) < 4 {
		return false
	}
	n := binary.LittleEndian.Uint32(rest)
	rest = rest[4:]
	if uint64(len(rest)) != uint64(n)*lookup.RecordSize {
		return false
	}
	e.recs = rest
	return true
}

// Store writes the bindings of a run for k in dir, atomically: a
// concurrent Load sees the old entry or the new one, whole.
func Store(dir string, k *Key, rec lookup.Record) error {
	if dir == "" {
		return ErrNoEntry
	}
	var b bytes.Buffer
	b.WriteString(magic)
	b.Write(k.text())
	b.WriteByte('\n')
	var word [8]byte
	binary.LittleEndian.PutUint32(word[:], uint32(rec.Len()))
	b.Write(word[:4])
	b.Write(rec[:rec.Len()*lookup.RecordSize])
	binary.LittleEndian.PutUint32(word[:], crc32.ChecksumIEEE(b.Bytes()))
	b.Write(word[:4])
	return WriteCacheFile(dir, FileName(k.Program, k.Search), b.Bytes())
}

// WriteCacheFile writes data as the file name of ldgo's cache directory
// dir (made, for the user only, if it is not there), atomically: it is
// written to a temporary file, only the user's to write, and renamed, so
// that a concurrent reader sees the old file or the new one, whole.
func WriteCacheFile(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
