package search

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func ldconfigPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("ldconfig"); err == nil {
		return p
	}
	for _, p := range []string{"/sbin/ldconfig", "/usr/sbin/ldconfig"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("ldconfig not installed")
	return ""
}

// ldconfigEntry is one line of `ldconfig -p`.
type ldconfigEntry struct{ name, desc, path string }

var ldconfigLine = regexp.MustCompile(`^\t(.*) \((.*)\) => (.*)$`)

// ldconfigPrint runs `ldconfig -p` on a cache file and returns its entries
// and the number of libraries it announces.
func ldconfigPrint(t *testing.T, file string) ([]ldconfigEntry, int) {
	t.Helper()
	out, err := exec.Command(ldconfigPath(t), "-p", "-C", file).Output()
	if err != nil {
		t.Fatalf("ldconfig -p -C %s: %v", file, err)
	}
	lines := strings.Split(string(out), "\n")
	n := -1
	if f := strings.Fields(lines[0]); len(f) > 0 {
		n, _ = strconv.Atoi(f[0])
	}
	var entries []ldconfigEntry
	for _, l := range lines[1:] {
		if m := ldconfigLine.FindStringSubmatch(l); m != nil {
			entries = append(entries, ldconfigEntry{m[1], m[2], m[3]})
		}
	}
	return entries, n
}

// describe words an entry's flags and hwcap as ldconfig's print_entry
// does, for the flag values these tests meet.
func describe(e CacheEntry) string {
	types := map[int32]string{0: "libc4", 1: "ELF", 2: "libc5", 3: "libc6"}
	required := map[int32]string{0: "", 0x0300: ",x86-64", 0x0800: ",x32"}
	typ, ok := types[e.Flags&0xff]
	if !ok {
		typ = "unknown"
	}
	req, ok := required[e.Flags&0xff00]
	if !ok {
		req = "," + strconv.Itoa(int(e.Flags&0xff00))
	}
	s := typ + req
	switch {
	case e.Hwcaps != "":
		s += fmt.Sprintf(", hwcap: %q", e.Hwcaps)
	case e.Hwcap != 0:
		s += fmt.Sprintf(", hwcap: %#016x", e.Hwcap)
	}
	return s
}

// checkEntriesVsLdconfig compares Entries() with `ldconfig -p`.
func checkEntriesVsLdconfig(t *testing.T, file string, c *Cache) {
	t.Helper()
	want, n := ldconfigPrint(t, file)
	got := c.Entries()
	if n != len(got) {
		t.Errorf("ldconfig -p counts %d libraries; Entries() has %d", n, len(got))
	}
	for i := 0; i < max(len(got), len(want)); i++ {
		switch {
		case i >= len(got):
			t.Fatalf("entry %d: ldconfig -p lists %v; Entries() has no more", i, want[i])
		case i >= len(want):
			t.Fatalf("entry %d: Entries() has %+v; ldconfig -p lists no more", i, got[i])
		}
		g := ldconfigEntry{got[i].Name, describe(got[i]), got[i].Path}
		if unreliableHwcaps(c, got[i]) {
			g.desc, _, _ = strings.Cut(g.desc, ", hwcap: ")
			want[i].desc, _, _ = strings.Cut(want[i].desc, ", hwcap: ")
		}
		if g != want[i] {
			t.Fatalf("entry %d: Entries() has %q; ldconfig -p lists %q", i, g, want[i])
		}
	}
}

// unreliableHwcaps says whether ldconfig -p's words for e's hwcap are
// not to be trusted: in a compat cache, glibc 2.36's ldconfig -p reads a
// glibc-hwcaps entry's subdirectory name from outside the file's string
// table (seen printing "", or parts of the system cache's paths, varying
// run to run), while ld.so's lookups in the same file, which
// checkLookupsVsGlibc compares, are right.
func unreliableHwcaps(c *Cache, e CacheEntry) bool {
	compat := c.isNew && bytes.HasPrefix(c.data, []byte(oldMagic))
	return compat && e.Hwcap&(1<<62) != 0
}

// checkSorted checks that the file's entries are in the order glibc's
// binary search needs and ldconfig writes: descending by LibCompare.
func checkSorted(t *testing.T, entries []CacheEntry) {
	t.Helper()
	for i := 1; i < len(entries); i++ {
		a, b := entries[i-1].Name, entries[i].Name
		if c := LibCompare(a, b); c < 0 || c == 0 && a != b {
			t.Errorf("ldconfig wrote %q before %q, but LibCompare gives %d", a, b, c)
		}
	}
}

// TestCacheEntriesVsLdconfig compares the real cache's entries with
// `ldconfig -p` and checks their order.
func TestCacheEntriesVsLdconfig(t *testing.T) {
	c, err := LoadCache(DefaultCacheFile)
	if err != nil {
		t.Skip(err)
	}
	checkEntriesVsLdconfig(t, DefaultCacheFile, c)
	checkSorted(t, c.Entries())
}

// glibcPreloadSearches runs /bin/true under the real ld.so with names in
// LD_PRELOAD (in list mode, so nothing runs) and returns ld.so's searches.
// With cache set, it runs in a private mount namespace where cache is
// bind-mounted over /etc/ld.so.cache.
func glibcPreloadSearches(t *testing.T, cache string, names []string) []*ldSearch {
	t.Helper()
	env := []string{"LD_DEBUG=libs", "LD_PRELOAD=" + strings.Join(names, " "), "LD_TRACE_LOADED_OBJECTS=1"}
	if cache == "" {
		return runDebug(t, "", env, "/bin/true").searches
	}
	requireMountNamespace(t)
	script := `mount --bind "$0" /etc/ld.so.cache && exec env -i "$@" /bin/true`
	argv := append([]string{"unshare", "-m", "sh", "-c", script, cache}, env...)
	run := runDebug(t, "", []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, argv...)
	if len(run.searches) == 0 {
		t.Fatalf("no search under the cache %s: %v\n%s", cache, run.exitErr, run.stderr)
	}
	return run.searches
}

var (
	mountNSOnce sync.Once
	mountNSErr  error
)

// requireMountNamespace skips the test unless this process may bind-mount
// a file in a private mount namespace (unshare -m, as root). The mount
// never leaves that namespace.
func requireMountNamespace(t *testing.T) {
	t.Helper()
	mountNSOnce.Do(func() {
		if _, err := os.Stat("/bin/true"); err != nil {
			mountNSErr = err
			return
		}
		out, err := exec.Command("unshare", "-m", "sh", "-c", "mount --bind /bin/true /bin/true").CombinedOutput()
		if err != nil {
			mountNSErr = fmt.Errorf("%v: %s", err, out)
		}
	})
	if mountNSErr != nil {
		t.Skip("cannot bind-mount a cache in a private mount namespace:", mountNSErr)
	}
}

// checkLookupsVsGlibc looks every name up in the cache file as glibc's
// ld.so does and compares with Lookup. Names glibc does not search for
// (because an object loaded before has that name) are retried in further
// runs. It returns how many names were compared.
func checkLookupsVsGlibc(t *testing.T, file string, c *Cache, names []string) int {
	t.Helper()
	system := ""
	if file != DefaultCacheFile {
		system = file
	}
	left := slices.Clone(names)
	compared := 0
	for len(left) > 0 {
		searches := glibcPreloadSearches(t, system, left)
		var next []string
		done := make(map[string]bool)
		for _, s := range searches {
			want, ok := s.cacheResult()
			if !ok || !slices.Contains(left, s.name) || done[s.name] {
				continue
			}
			done[s.name] = true
			compared++
			if got := c.Lookup(s.name, HostCaps()); got != want {
				t.Errorf("Lookup(%q) = %q; glibc's cache lookup gives %q", s.name, got, want)
			}
		}
		for _, n := range left {
			if !done[n] {
				next = append(next, n)
			}
		}
		if len(next) == len(left) {
			t.Logf("glibc did not search for %q (already loaded under that name)", next)
			break
		}
		left = next
	}
	return compared
}

func distinctNames(c *Cache) []string {
	var names []string
	for _, e := range c.Entries() {
		if !slices.Contains(names, e.Name) {
			names = append(names, e.Name)
		}
	}
	return names
}

// TestCacheLookupVsGlibc looks up every library name of the real cache, and
// a few that are not in it, and compares with the real ld.so's cache
// lookup.
func TestCacheLookupVsGlibc(t *testing.T) {
	c, err := LoadCache(DefaultCacheFile)
	if err != nil {
		t.Skip(err)
	}
	if _, err := os.Stat("/bin/true"); err != nil {
		t.Skip(err)
	}
	names := append(distinctNames(c), "libldgo-not-there.so.1", "libc.so", "libc.so.5", "libz.so.0")
	n := checkLookupsVsGlibc(t, DefaultCacheFile, c, names)
	t.Logf("compared %d of %d names with glibc", n, len(names))
	if n < len(names)/2 {
		t.Errorf("only %d of %d names compared", n, len(names))
	}
}

// TestLibCompareProperties states what _dl_cache_libcmp is known to do.
func TestLibCompareProperties(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		sign int
	}{
		{"libfoo.so.10", "libfoo.so.9", 1},
		{"libfoo.so.9", "libfoo.so.10", -1},
		{"libfoo.so.1", "libfoo.so.1", 0},
		{"libfoo.so.01", "libfoo.so.1", 0}, // numbers, not strings
		{"libfoo.so", "libfoo.so.1", -1},   // a prefix sorts first
		{"libfoo2.so", "libfoox.so", 1},    // a digit sorts after a non-digit
		{"libfoox.so", "libfoo2.so", -1},
		{"libfoo.so.1.10", "libfoo.so.1.9", 1},
		{"liba.so", "libb.so", -1},
		{"", "", 0},
		{"", "a", -1},
		{"a", "", 1},
	} {
		got := LibCompare(tc.a, tc.b)
		if got > 0 && tc.sign <= 0 || got < 0 && tc.sign >= 0 || got == 0 && tc.sign != 0 {
			t.Errorf("LibCompare(%q, %q) = %d; want sign %d", tc.a, tc.b, got, tc.sign)
		}
	}
}

// sonameTemplate is the SONAME of a library built once and copied under
// other names: its bytes in .dynstr are overwritten, which is all ldconfig
// and ld.so read.
const sonameTemplate = "libldgoSONAMEXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX.so"

// withSoname returns an edit that renames the template library.
func withSoname(name string) func([]byte) {
	return func(data []byte) {
		i := bytes.Index(data, []byte(sonameTemplate+"\x00"))
		if i < 0 || len(name) > len(sonameTemplate) {
			panic("cannot rename the template library to " + name)
		}
		copy(data[i:], name)
		clear(data[i+len(name) : i+len(sonameTemplate)])
	}
}

// weirdNames are library names whose order under _dl_cache_libcmp is
// delicate: non-ASCII bytes (char is signed on x86-64), digit runs longer
// than an int, numbers with leading zeros, digits against other bytes.
var weirdNames = []string{
	"libw\xc3\xa9.so.1",
	"libwz.so.1",
	"libwA.so.1",
	"libw_.so.1",
	"libw~.so.1",
	"libw\x7f.so.1",
	"libw\xff.so.1",
	"libw1.so.1",
	"libw.so.4294967296",
	"libw.so.99999999999",
	"libw.so.10",
	"libw.so.9",
	"libw.so.012",
	"libw.so.1.2",
	"libw.so",
	"libw-1.so",
}

// TestLdconfigCachesVsGlibc has ldconfig write caches in its three formats
// for a directory holding glibc-hwcaps subdirectories and libraries with
// delicate names, then compares Entries() with `ldconfig -p`, the order
// ldconfig chose with LibCompare, and Lookup with the real ld.so's lookup
// in each cache.
func TestLdconfigCachesVsGlibc(t *testing.T) {
	f := newFixture(t)
	ldconfig := ldconfigPath(t)
	tmpl := f.lib("template/"+sonameTemplate, sonameTemplate)
	hw := f.lib("L/libhw.so.1", "libhw.so.1")
	f.copy(hw, "L/glibc-hwcaps/x86-64-v2/libhw.so.1", nil)
	f.copy(hw, "L/glibc-hwcaps/x86-64-v3/libhw.so.1", nil)
	f.copy(tmpl, "L/glibc-hwcaps/x86-64-v2/libhwonly.so.1", withSoname("libhwonly.so.1"))
	for _, n := range weirdNames {
		f.copy(tmpl, "L/"+n, withSoname(n))
	}
	conf := f.write("ld.so.conf", []byte(f.path("L")+"\n"))
	names := append([]string{"libhw.so.1", "libhwonly.so.1", "libc.so.6", "libz.so.1", "libw.so.4294967306", "libw.so.12", "libw.so.0", "libw\xc3.so.1"}, weirdNames...)
	for _, format := range []string{"new", "old", "compat"} {
		t.Run(format, func(t *testing.T) {
			file := f.path("ld.so.cache." + format)
			if out, err := exec.Command(ldconfig, "-X", "-f", conf, "-C", file, "-c", format).CombinedOutput(); err != nil {
				t.Fatalf("ldconfig: %v\n%s", err, out)
			}
			c, err := LoadCache(file)
			if err != nil {
				t.Fatal(err)
			}
			checkEntriesVsLdconfig(t, file, c)
			checkSorted(t, c.Entries())
			checkLookupsVsGlibc(t, file, c, names)
		})
	}
}

// cacheEntry is an entry of a cache file written by the tests.
type cacheEntry struct {
	flags      int32
	key, value string
	hwcap      uint64
	// badKey and badValue replace the string offsets by ones past the
	// end of the file.
	badKey, badValue bool
}

// newCacheFile lays out a new-format cache file (glibc-ld.so.cache1.1)
// with the entries in the order given, and a glibc-hwcaps extension
// naming hwcaps when it is not nil. endian is the header's flags byte.
func newCacheFile(entries []cacheEntry, hwcaps []string, endian byte) []byte {
	le := binary.LittleEndian
	const header, entrySize = 48, 24
	strOff := header + len(entries)*entrySize
	var strs []byte
	offsets := make(map[string]uint32)
	str := func(s string) uint32 {
		if off, ok := offsets[s]; ok {
			return off
		}
		off := uint32(strOff + len(strs))
		strs = append(append(strs, s...), 0)
		offsets[s] = off
		return off
	}
	out := make([]byte, strOff)
	copy(out, "glibc-ld.so.cache1.1")
	le.PutUint32(out[20:], uint32(len(entries)))
	out[28] = endian
	for i, e := range entries {
		b := out[header+i*entrySize:]
		le.PutUint32(b, uint32(e.flags))
		le.PutUint32(b[4:], str(e.key))
		le.PutUint32(b[8:], str(e.value))
		le.PutUint64(b[16:], e.hwcap)
	}
	var hwOffs []uint32
	for _, h := range hwcaps {
		hwOffs = append(hwOffs, str(h))
	}
	out = append(out, strs...)
	le.PutUint32(out[24:], uint32(len(strs)))
	if hwcaps != nil {
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
		le.PutUint32(out[32:], uint32(len(out)))
		ext := make([]byte, 8+16)
		le.PutUint32(ext, extensionMagic)
		le.PutUint32(ext[4:], 1)
		le.PutUint32(ext[8:], extensionTagHwcaps)
		le.PutUint32(ext[16:], uint32(len(out)+len(ext)))
		le.PutUint32(ext[20:], uint32(4*len(hwOffs)))
		out = append(out, ext...)
		for _, off := range hwOffs {
			out = le.AppendUint32(out, off)
		}
	}
	end := uint32(len(out)) + 1000
	for i, e := range entries {
		b := out[header+i*entrySize:]
		if e.badKey {
			le.PutUint32(b[4:], end)
		}
		if e.badValue {
			le.PutUint32(b[8:], end)
		}
	}
	return out
}

// hwcapsEntry is the hwcap field of an entry in glibc-hwcaps subdirectory
// number index of the extension, for ISA level isa.
func hwcapsEntry(index uint32, isa uint64) uint64 {
	return hwcapExtension | isa<<32 | uint64(index)
}

// TestCraftedCacheVsGlibc writes caches with the entry kinds ldconfig can
// produce or a damaged file may hold (other flags, legacy hwcap bits,
// platform bits, glibc-hwcaps entries with unknown or unusable names and ISA
// levels, entries out of order, bad string offsets) and compares Lookup with
// the real ld.so reading the same file as /etc/ld.so.cache, and Entries()
// with `ldconfig -p` where ldconfig can print the file.
func TestCraftedCacheVsGlibc(t *testing.T) {
	f := newFixture(t)
	const x8664 = cacheDefaultID
	hwcaps := []string{"x86-64-v2", "x86-64-v3", "x86-64-v4", "zz-unknown"}
	groups := map[string][]cacheEntry{
		"libflag1.so.1": {{flags: 1, value: "/c/flag1-elf"}},
		"libflag2.so.1": {{flags: 1, value: "/c/flag2-elf"}, {flags: x8664, value: "/c/flag2"}},
		"libflag3.so.1": {{flags: 0x0803, value: "/c/flag3-x32"}, {flags: 3, value: "/c/flag3-libc6"}, {flags: x8664, value: "/c/flag3"}},
		"libhw.so.1": {
			{flags: x8664, value: "/c/hw-v2", hwcap: hwcapsEntry(0, 0)},
			{flags: x8664, value: "/c/hw-v3", hwcap: hwcapsEntry(1, 0)},
			{flags: x8664, value: "/c/hw-v4", hwcap: hwcapsEntry(2, 0)},
			{flags: x8664, value: "/c/hw-unknown", hwcap: hwcapsEntry(3, 0)},
			{flags: x8664, value: "/c/hw"},
		},
		"libhwrev.so.1": {
			{flags: x8664, value: "/c/hwrev-unknown", hwcap: hwcapsEntry(3, 0)},
			{flags: x8664, value: "/c/hwrev-v2", hwcap: hwcapsEntry(0, 0)},
			{flags: x8664, value: "/c/hwrev-v3", hwcap: hwcapsEntry(1, 0)},
			{flags: x8664, value: "/c/hwrev"},
		},
		"libhwisa.so.1": {
			{flags: x8664, value: "/c/hwisa-v4-level5", hwcap: hwcapsEntry(2, 5)},
			{flags: x8664, value: "/c/hwisa-v3-level36", hwcap: hwcapsEntry(1, 36)},
			{flags: x8664, value: "/c/hwisa-v2-level33", hwcap: hwcapsEntry(0, 33)},
			{flags: x8664, value: "/c/hwisa"},
		},
		"libhwlvl.so.1": {
			{flags: x8664, value: "/c/hwlvl-v4-level3", hwcap: hwcapsEntry(2, 3)},
			{flags: x8664, value: "/c/hwlvl-v3-level2", hwcap: hwcapsEntry(1, 2)},
		},
		"libhwidx.so.1": {
			{flags: x8664, value: "/c/hwidx-99", hwcap: hwcapsEntry(99, 0)},
			{flags: x8664, value: "/c/hwidx"},
		},
		"libhwonly.so.1": {{flags: x8664, value: "/c/hwonly-v2", hwcap: hwcapsEntry(0, 0)}},
		"libhwflag.so.1": {
			{flags: 1, value: "/c/hwflag-elf-v4", hwcap: hwcapsEntry(2, 0)},
			{flags: x8664, value: "/c/hwflag-v2", hwcap: hwcapsEntry(0, 0)},
		},
		"libleg.so.1":   {{flags: x8664, value: "/c/leg-x86_64", hwcap: HwcapX86_64}, {flags: x8664, value: "/c/leg"}},
		"libleg2.so.1":  {{flags: x8664, value: "/c/leg2-avx512_1", hwcap: HwcapX86AVX512_1}, {flags: x8664, value: "/c/leg2-sse2", hwcap: HwcapX86SSE2}, {flags: x8664, value: "/c/leg2-tls", hwcap: hwcapTLSMask}, {flags: x8664, value: "/c/leg2"}},
		"libleg3.so.1":  {{flags: x8664, value: "/c/leg3-bit40", hwcap: 1 << 40}, {flags: x8664, value: "/c/leg3-bit62-61", hwcap: 3 << 61}, {flags: x8664, value: "/c/leg3"}},
		"libplat.so.1":  {{flags: x8664, value: "/c/plat-haswell", hwcap: 1 << 50}, {flags: x8664, value: "/c/plat-i686", hwcap: 1 << 49}, {flags: x8664, value: "/c/plat"}},
		"libmixed.so.1": {{flags: x8664, value: "/c/mixed"}, {flags: x8664, value: "/c/mixed-v4", hwcap: hwcapsEntry(2, 0)}},
		"libelf.so.1":   {{flags: 1, value: "/c/elf"}, {flags: x8664, value: "/c/elf-v3", hwcap: hwcapsEntry(1, 0)}},
		"libdup.so.1":   {{flags: x8664, value: "/c/dup-1"}, {flags: x8664, value: "/c/dup-2"}},
		"libdup.so.01":  {{flags: x8664, value: "/c/dup-01"}},
		"libnum.so.10":  {{flags: x8664, value: "/c/num10"}},
		"libnum.so.9":   {{flags: x8664, value: "/c/num9"}},
		"libnum2.so.1":  {{flags: x8664, value: "/c/num2"}},
		"libnumx.so.1":  {{flags: x8664, value: "/c/numx"}},
		"libz.so.1":     {{flags: x8664, value: "/c/z"}},
		"liba.so.1":     {{flags: x8664, value: "/c/a"}},
		"libzzzzz.so.1": {{flags: x8664, value: "/c/zzzzz"}},
	}
	// A value past the end of the file: glibc skips the entry, while
	// ldconfig -p prints whatever it finds there.
	badValue := map[string][]cacheEntry{"libbadval.so.1": {
		{flags: x8664, value: "/c/badval-bad", badValue: true},
		{flags: x8664, value: "/c/badval"},
	}}
	entries, keys := sortedEntries(groups)
	withBadValue, _ := sortedEntries(groups, badValue)
	lookups := append(slices.Clone(keys), "libnot-there.so.1", "libnum.so.010", "libdup.so.001", "libbadval.so.1")

	for _, tc := range []struct {
		name    string
		data    []byte
		printOK bool // whether ldconfig -p can print the file
	}{
		{"entries", newCacheFile(entries, hwcaps, 2), true},
		{"no extension", newCacheFile(entries, nil, 2), true},
		{"no endianness", newCacheFile(entries, hwcaps, 0), true},
		{"big-endian flag", newCacheFile(entries, hwcaps, 3), false},
		{"reordered hwcaps", newCacheFile(entries, []string{"x86-64-v4", "x86-64-v2", "zz-unknown", "x86-64-v3"}, 2), true},
		{"bad value", newCacheFile(withBadValue, hwcaps, 2), false},
		{"old format", oldCacheFile(entries, false), true},
		{"compat format", oldCacheFile(entries, true), true},
		{"bad key", newCacheFile(slices.Concat(entries[:len(entries)/2], []cacheEntry{{flags: x8664, key: "libmmm.so.1", value: "/c/mmm", badKey: true}}, entries[len(entries)/2:]), hwcaps, 2), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := f.write("crafted-"+strings.ReplaceAll(tc.name, " ", "-"), tc.data)
			c, err := ParseCache(tc.data)
			if err != nil {
				// glibc must then not use the file either.
				for _, s := range glibcPreloadSearches(t, file, lookups) {
					if p, ok := s.cacheResult(); ok && p != "" {
						t.Errorf("ParseCache: %v; glibc's lookup of %s gives %s", err, s.name, p)
					}
				}
				return
			}
			if tc.printOK {
				checkEntriesVsLdconfig(t, file, c)
			}
			if n := checkLookupsVsGlibc(t, file, c, lookups); n != len(lookups) {
				t.Errorf("only %d of %d lookups compared", n, len(lookups))
			}
		})
	}
}

// sortedEntries orders the groups' entries as ldconfig does: by name,
// descending; names equal under LibCompare keep a fixed order.
func sortedEntries(groups ...map[string][]cacheEntry) ([]cacheEntry, []string) {
	all := make(map[string][]cacheEntry)
	var keys []string
	for _, g := range groups {
		for k, e := range g {
			all[k] = e
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := LibCompare(b, a); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	var entries []cacheEntry
	for _, k := range keys {
		for _, e := range all[k] {
			e.key = k
			entries = append(entries, e)
		}
	}
	return entries, keys
}

// TestParseCacheTruncatedVsGlibc checks truncated copies of the real cache
// against glibc reading them.
func TestParseCacheTruncatedVsGlibc(t *testing.T) {
	f := newFixture(t)
	data, err := os.ReadFile(DefaultCacheFile)
	if err != nil {
		t.Skip(err)
	}
	c, err := ParseCache(data)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"libc.so.6", "libz.so.1", "libm.so.6"}
	for _, n := range []int{0, 20, 48, 49, 48 + 24*c.nlibs - 1, 48 + 24*c.nlibs} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			file := f.write(filepath.Join("trunc", strconv.Itoa(n)), data[:n])
			tc, err := ParseCache(data[:n])
			for _, s := range glibcPreloadSearches(t, file, names) {
				want, ok := s.cacheResult()
				if !ok {
					continue
				}
				got := ""
				if err == nil {
					got = tc.Lookup(s.name, HostCaps())
				}
				if got != want {
					t.Errorf("%s: ldgo %q (ParseCache: %v); glibc %q", s.name, got, err, want)
				}
			}
		})
	}
}
