package search

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// DefaultCacheFile is where ldconfig writes the cache glibc reads.
const DefaultCacheFile = "/etc/ld.so.cache"

// Magic strings of the two cache formats glibc reads: the old libc5 one
// (possibly with a new-format cache following it) and the new one.
const (
	oldMagic = "ld.so-1.7.0"
	newMagic = "glibc-ld.so.cache1.1"
)

const (
	oldHeaderSize = 16 // magic (11 bytes, padded) + nlibs
	oldEntrySize  = 12 // flags, key, value
	newHeaderSize = 48
	newEntrySize  = 24 // flags, key, value, osversion, hwcap

	// cacheDefaultID is the flags value of an x86-64 ELF library
	// (FLAG_ELF_LIBC6 | FLAG_X8664_LIB64). It is the only value x86-64's
	// _dl_cache_check_flags accepts: unlike the generic definition, it
	// rejects flags 1 (FLAG_ELF), as ld.so does (TestCraftedCacheVsGlibc).
	cacheDefaultID = 0x0303

	hwcapExtension     = uint64(1) << 62 // DL_CACHE_HWCAP_EXTENSION
	hwcapISALevelMask  = 1<<10 - 1
	hwcapTLSMask       = uint64(1) << 63
	firstPlatformBit   = 48
	platformsCount     = 4
	hwcapPlatformMask  = (uint64(1)<<platformsCount - 1) << firstPlatformBit
	extensionMagic     = 0xeaa42174 // (uint32_t) -358342284
	extensionTagHwcaps = 1
)

// x86Platforms are glibc's platform names for the cache's platform bits;
// x86-64 uses the last two.
var x86Platforms = [platformsCount]string{"i586", "i686", "haswell", "xeon_phi"}

// Cache is an ld.so.cache file as glibc's _dl_load_cache_lookup reads it.
type Cache struct {
	data []byte
	// entries and strtab locate the table search_cache walks: the new
	// format's when present, else the old one's.
	entries   []byte
	entrySize int
	nlibs     int
	strtab    []byte
	isNew     bool
	// hwcaps are the string-table offsets of the glibc-hwcaps
	// subdirectory names, from the new format's extension section.
	hwcaps []uint32
}

// CacheEntry is one library in the cache.
type CacheEntry struct {
	Name  string // the SONAME ldconfig found
	Path  string
	Flags int32
	Hwcap uint64
	// Hwcaps names the glibc-hwcaps subdirectory of the entry, if any.
	Hwcaps string
}

// ErrCacheFormat reports a file glibc would not use as a cache.
var ErrCacheFormat = errors.New("not a usable ld.so.cache file")

// LoadCache reads the cache at path.
func LoadCache(path string) (*Cache, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseCache(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseCache checks a cache file's contents with glibc's checks. A file
// glibc would ignore yields ErrCacheFormat.
func ParseCache(data []byte) (*Cache, error) {
	le := binary.LittleEndian
	c := &Cache{data: data}
	size := uint64(len(data))
	switch {
	case size > newHeaderSize && bytes.HasPrefix(data, []byte(newMagic)):
		nlibs := uint64(le.Uint32(data[20:]))
		if (size-newHeaderSize)/newEntrySize < nlibs || !endianOK(data[28]) {
			return nil, ErrCacheFormat
		}
		c.setNew(data, nlibs)
	case size > oldHeaderSize && bytes.HasPrefix(data, []byte(oldMagic)):
		nlibs := uint64(le.Uint32(data[12:]))
		if (size-oldHeaderSize)/oldEntrySize < nlibs {
			return nil, ErrCacheFormat
		}
		off := (oldHeaderSize + nlibs*oldEntrySize + 7) &^ 7
		if size >= off+newHeaderSize && bytes.HasPrefix(data[off:], []byte(newMagic)) {
			if !endianOK(data[off+28]) {
				return nil, ErrCacheFormat
			}
			// The new table's string offsets count from the start of
			// the new header; it is read in place.
			inner := data[off:]
			n := uint64(le.Uint32(inner[20:]))
			if (uint64(len(inner))-newHeaderSize)/newEntrySize < n {
				return nil, ErrCacheFormat
			}
			c.setNew(inner, n)
			break
		}
		c.entries = data[oldHeaderSize : oldHeaderSize+nlibs*oldEntrySize]
		c.entrySize = oldEntrySize
		c.nlibs = int(nlibs)
		c.strtab = data[oldHeaderSize+nlibs*oldEntrySize:]
	default:
		return nil, ErrCacheFormat
	}
	return c, nil
}

// endianOK is cache_file_new_matches_endian for a little-endian machine.
func endianOK(flags byte) bool {
	return flags == 0 || flags&3 == 2
}

// setNew uses the new-format table at the start of table. glibc measures
// the entries' string offsets from the start of the new header (bounding
// them, less strictly, by the whole file's size).
func (c *Cache) setNew(table []byte, nlibs uint64) {
	c.isNew = true
	c.entries = table[newHeaderSize : newHeaderSize+nlibs*newEntrySize]
	c.entrySize = newEntrySize
	c.nlibs = int(nlibs)
	c.strtab = table
	c.hwcaps = loadHwcapsExtension(table, c.data)
}

// loadHwcapsExtension returns the glibc-hwcaps section of the extension
// directory (cache_extension_load) that the new header at the start of
// table points to, or nil when absent or malformed. Unlike the entries'
// strings, the extension's offsets count from the start of the file: in a
// file holding both formats ld.so (and ldconfig -p) read them so.
func loadHwcapsExtension(table, file []byte) []uint32 {
	le := binary.LittleEndian
	size := uint64(len(file))
	extOff := uint64(le.Uint32(table[32:]))
	if extOff == 0 || extOff%4 != 0 || extOff+8 > size {
		return nil
	}
	if le.Uint32(file[extOff:]) != extensionMagic {
		return nil
	}
	count := uint64(le.Uint32(file[extOff+4:]))
	if extOff+8+count*16 > size {
		return nil
	}
	var base, length uint64
	found := false
	for i := uint64(0); i < count; i++ {
		s := file[extOff+8+16*i:]
		tag, off, n := le.Uint32(s), uint64(le.Uint32(s[8:])), uint64(le.Uint32(s[12:]))
		if off+n > size {
			return nil
		}
		if tag == extensionTagHwcaps {
			base, length, found = off, n, true
		}
	}
	// glibc requires no alignment and ignores a partial last element.
	if !found || length < 4 {
		return nil
	}
	out := make([]uint32, length/4)
	for i := range out {
		out[i] = le.Uint32(file[base+4*uint64(i):])
	}
	return out
}

// hwcapsName returns the glibc-hwcaps subdirectory name at a string offset
// of the extension, which counts from the start of the file.
func (c *Cache) hwcapsName(off uint32) (string, bool) {
	if uint64(off) >= uint64(len(c.data)) {
		return "", false
	}
	s := c.data[off:]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return string(s), true
}

type rawEntry struct {
	flags      int32
	key, value uint32
	hwcap      uint64
}

func (c *Cache) entry(i int) rawEntry {
	le := binary.LittleEndian
	b := c.entries[i*c.entrySize:]
	e := rawEntry{flags: int32(le.Uint32(b)), key: le.Uint32(b[4:]), value: le.Uint32(b[8:])}
	if c.entrySize == newEntrySize {
		e.hwcap = le.Uint64(b[16:])
	}
	return e
}

// str returns the string at off, or ok false when off is out of bounds
// (_dl_cache_verify_ptr).
func (c *Cache) str(off uint32) (string, bool) {
	if uint64(off) >= uint64(len(c.strtab)) {
		return "", false
	}
	s := c.strtab[off:]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return string(s), true
}

// Entries lists the cache's libraries in file order, as `ldconfig -p`
// does.
func (c *Cache) Entries() []CacheEntry {
	var out []CacheEntry
	for i := 0; i < c.nlibs; i++ {
		e := c.entry(i)
		name, ok1 := c.str(e.key)
		path, ok2 := c.str(e.value)
		if !ok1 || !ok2 {
			continue
		}
		ce := CacheEntry{Name: name, Path: path, Flags: e.flags, Hwcap: e.hwcap}
		if isHwcapsEntry(e.hwcap) {
			if idx := uint32(e.hwcap); int(idx) < len(c.hwcaps) {
				ce.Hwcaps, _ = c.hwcapsName(c.hwcaps[idx])
			}
		}
		out = append(out, ce)
	}
	return out
}

func isHwcapsEntry(hwcap uint64) bool {
	return (hwcap>>32)&^hwcapISALevelMask == hwcapExtension>>32
}

// Lookup finds name the way glibc's search_cache does for a process with
// the given capabilities: a binary search on the library name compared
// with _dl_cache_libcmp, then, among the entries with that name, the best
// usable glibc-hwcaps entry, or else the first usable plain one.
func (c *Cache) Lookup(name string, caps *Caps) string {
	platform := ^uint64(0)
	for i := 2; i < platformsCount; i++ {
		if caps.Platform == x86Platforms[i] {
			platform = 1 << (firstPlatformBit + i)
		}
	}
	exclude := ^((caps.Hwcap & caps.HwcapMask) | hwcapPlatformMask | hwcapTLSMask)
	var prio []uint32
	if c.isNew && len(c.hwcaps) > 0 {
		prio = c.hwcapsPriorities(caps)
	}

	left, right := 0, c.nlibs-1
	best := ""
	found := false
	var bestPriority uint32
	for left <= right {
		middle := (left + right) / 2
		key, ok := c.str(c.entry(middle).key)
		if !ok {
			return ""
		}
		cmp := LibCompare(name, key)
		if cmp == 0 {
			left = middle
			for middle > 0 {
				k, ok := c.str(c.entry(middle - 1).key)
				if !ok || LibCompare(name, k) != 0 {
					break
				}
				middle--
			}
			for ; middle <= right; middle++ {
				e := c.entry(middle)
				if middle > left {
					k, ok := c.str(e.key)
					if !ok || LibCompare(name, k) != 0 {
						break
					}
				}
				if e.flags != cacheDefaultID {
					continue
				}
				value, ok := c.str(e.value)
				if !ok {
					continue
				}
				named := false
				if c.entrySize == newEntrySize {
					named = isHwcapsEntry(e.hwcap)
					if named {
						// ld.so shifts a 32-bit 1 with the
						// x86 shift instruction, which uses
						// the count modulo 32.
						level := uint32(1) << ((e.hwcap >> 32) & hwcapISALevelMask & 31)
						if level&caps.IsaLevel != level {
							continue
						}
					}
					if !named && found {
						break
					}
					if e.hwcap&exclude != 0 && !named {
						continue
					}
					if e.hwcap&hwcapPlatformMask != 0 && e.hwcap&hwcapPlatformMask != platform {
						continue
					}
					if named {
						var p uint32
						if idx := uint32(e.hwcap); int(idx) < len(prio) {
							p = prio[idx]
						}
						if p == 0 || found && p >= bestPriority {
							continue
						}
						bestPriority = p
					}
				}
				best, found = value, true
				if !named && e.flags == cacheDefaultID {
					break
				}
			}
			break
		}
		if cmp < 0 {
			left = middle + 1
		} else {
			right = middle - 1
		}
	}
	return best
}

// hwcapsPriorities ranks the cache's glibc-hwcaps names by the process's
// preference: 0 for unusable, 1 for the best (glibc_hwcaps_priorities_init,
// a merge of two name-sorted lists).
func (c *Cache) hwcapsPriorities(caps *Caps) []uint32 {
	right := caps.priorities()
	out := make([]uint32, len(c.hwcaps))
	l, r := 0, 0
	for l < len(c.hwcaps) && r < len(right) {
		name, ok := c.hwcapsName(c.hwcaps[l])
		if !ok {
			// A name past the end of the file: ld.so 2.36 dies
			// of SIGSEGV on such a cache. Leaving the name unusable
			// is the nearest useful result.
			l++
			continue
		}
		switch {
		case name == right[r].name:
			out[l] = right[r].priority
			l++
			r++
		case nameLess(name, right[r].name):
			l++
		default:
			r++
		}
	}
	return out
}

// LibCompare orders library names as ldconfig sorts the cache: runs of
// digits compare as numbers, and a digit sorts after any other character
// (_dl_cache_libcmp). It reproduces the C code's arithmetic exactly, since
// ld.so's binary search depends on it: bytes are signed chars (x86-64), so
// bytes from 0x80 up sort before ASCII, and numbers are accumulated and
// subtracted in a 32-bit int that wraps ("libfoo.so.4294967306" equals
// "libfoo.so.10"). A NUL ends a name, as in C.
func LibCompare(a, b string) int {
	at := func(s string, k int) int32 {
		if k < len(s) {
			return int32(int8(s[k]))
		}
		return 0
	}
	isDigit := func(c int32) bool { return c >= '0' && c <= '9' }
	i, j := 0, 0
	for {
		c1, c2 := at(a, i), at(b, j)
		switch {
		case c1 == 0:
			return int(c1 - c2)
		case isDigit(c1):
			if !isDigit(c2) {
				return 1
			}
			var v1, v2 int32
			for ; isDigit(at(a, i)); i++ {
				v1 = v1*10 + at(a, i) - '0'
			}
			for ; isDigit(at(b, j)); j++ {
				v2 = v2*10 + at(b, j) - '0'
			}
			if v1 != v2 {
				return int(v1 - v2)
			}
		case isDigit(c2):
			return -1
		case c1 != c2:
			return int(c1 - c2)
		default:
			i++
			j++
		}
	}
}
