package search

import (
	"bytes"
	"encoding/binary"
	"os"
	"slices"
	"testing"
)

// fuzzCaps are capabilities the fuzzed lookups run with: this machine's and
// ones that make every kind of entry usable or unusable.
var fuzzCaps = []*Caps{
	HostCaps(),
	{IsaLevel: ISABaseline | ISAV2 | ISAV3 | ISAV4, Platform: "haswell", Hwcap: HwcapX86_64 | HwcapX86AVX512_1, HwcapMask: HwcapImportant, Prepend: []string{"zz", "x86-64-v3"}},
	{Platform: "xeon_phi", Mask: []string{}},
	{},
}

// FuzzParseCache feeds ParseCache damaged caches; Entries and Lookup must
// not panic on what it accepts, and Lookup may only return the path of an
// entry.
//
// The seeds are small: the fuzzer minimizes every input that finds new
// coverage, which takes its whole minimization time on a cache of tens of
// kilobytes.
func FuzzParseCache(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	names := []string{"libc.so.6", "libz.so.1", "liba.so.1", "libb.so.1", "", "lib\xff.so.1", "libx.so.4294967296"}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCache(data)
		if err != nil {
			return
		}
		entries := c.Entries()
		var paths []string
		lookups := slices.Clone(names)
		for i, e := range entries {
			paths = append(paths, e.Path)
			if i < 8 {
				lookups = append(lookups, e.Name)
			}
		}
		for _, caps := range fuzzCaps {
			for _, n := range lookups {
				if p := c.Lookup(n, caps); p != "" && !slices.Contains(paths, p) {
					t.Fatalf("Lookup(%q) = %q, which is no entry's path", n, p)
				}
			}
		}
	})
}

// fuzzSeeds returns copies of the real cache truncated where it matters
// (header, entry table, strings), the real cache cut down to a few entries
// in each format glibc reads, and the tests' crafted caches.
func fuzzSeeds() [][]byte {
	var seeds [][]byte
	le := binary.LittleEndian
	if data, err := os.ReadFile(DefaultCacheFile); err == nil {
		for _, n := range []int{0, 16, 20, 47, 48, 49, 72, 73, 200, 1024} {
			if n <= len(data) {
				seeds = append(seeds, slices.Clone(data[:n]))
			}
		}
		// Truncated, with the entry count cut to fit: the strings are
		// past the end.
		if len(data) > 2048 && bytes.HasPrefix(data, []byte(newMagic)) {
			cut := slices.Clone(data[:2048])
			le.PutUint32(cut[20:], (2048-newHeaderSize)/newEntrySize)
			seeds = append(seeds, cut)
		}
		if c, err := ParseCache(data); err == nil {
			all := c.Entries()
			var some []cacheEntry
			for i := 0; i < len(all) && len(some) < 12; i += 1 + len(all)/12 {
				e := all[i]
				some = append(some, cacheEntry{flags: e.Flags, key: e.Name, value: e.Path, hwcap: e.Hwcap})
			}
			seeds = append(seeds, newCacheFile(some, []string{"x86-64-v2", "x86-64-v3", "x86-64-v4"}, 2))
			seeds = append(seeds, oldCacheFile(some, false))
			seeds = append(seeds, oldCacheFile(some, true))
		}
	}
	hw := []cacheEntry{
		{flags: cacheDefaultID, key: "libb.so.1", value: "/b-v3", hwcap: hwcapsEntry(1, 0)},
		{flags: cacheDefaultID, key: "libb.so.1", value: "/b-v2", hwcap: hwcapsEntry(0, 1)},
		{flags: cacheDefaultID, key: "libb.so.1", value: "/b-x86_64", hwcap: HwcapX86_64},
		{flags: cacheDefaultID, key: "libb.so.1", value: "/b"},
		{flags: 1, key: "liba.so.1", value: "/a"},
	}
	seeds = append(seeds, newCacheFile(hw, []string{"x86-64-v2", "x86-64-v3"}, 2))
	seeds = append(seeds, newCacheFile(hw, nil, 0))
	seeds = append(seeds, oldCacheFile(hw, true))
	return seeds
}

// oldCacheFile lays out an old-format cache (ld.so-1.7.0) with the
// entries, followed, when compat is set, by a new-format table as ldconfig
// -c compat writes it.
func oldCacheFile(entries []cacheEntry, compat bool) []byte {
	le := binary.LittleEndian
	n := len(entries)
	out := make([]byte, oldHeaderSize+n*oldEntrySize)
	copy(out, oldMagic)
	le.PutUint32(out[12:], uint32(n))
	strtab := len(out)
	var strs []byte
	if compat {
		for len(out)%8 != 0 {
			out = append(out, 0)
		}
		newOff := len(out)
		table := newCacheFile(entries, nil, 2)
		out = append(out, table...)
		// The old entries use the new table's strings.
		for i := range entries {
			b := table[newHeaderSize+i*newEntrySize:]
			key, value := int(le.Uint32(b[4:])), int(le.Uint32(b[8:]))
			le.PutUint32(out[oldHeaderSize+i*oldEntrySize+4:], uint32(newOff+key-strtab))
			le.PutUint32(out[oldHeaderSize+i*oldEntrySize+8:], uint32(newOff+value-strtab))
		}
	} else {
		for i, e := range entries {
			b := out[oldHeaderSize+i*oldEntrySize:]
			le.PutUint32(b[4:], uint32(len(strs)))
			strs = append(append(strs, e.key...), 0)
			le.PutUint32(b[8:], uint32(len(strs)))
			strs = append(append(strs, e.value...), 0)
		}
		out = append(out, strs...)
	}
	for i, e := range entries {
		le.PutUint32(out[oldHeaderSize+i*oldEntrySize:], uint32(e.flags))
	}
	return out
}
