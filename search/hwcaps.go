package search

import (
	"strings"
	"sync"
)

// ISA levels as glibc records them in cpu_features->isa_1
// (GNU_PROPERTY_X86_ISA_1_*): one bit per level the CPU can run.
const (
	ISABaseline uint32 = 1 << 0
	ISAV2       uint32 = 1 << 1
	ISAV3       uint32 = 1 << 2
	ISAV4       uint32 = 1 << 3
)

// Legacy hardware-capability bits of glibc's GLRO(dl_hwcap) on x86. Their
// names come from dl_x86_hwcap_flags; only the bits in HwcapImportant take
// part in the legacy subdirectory search on x86-64.
const (
	HwcapX86SSE2     uint64 = 1 << 0
	HwcapX86_64      uint64 = 1 << 1
	HwcapX86AVX512_1 uint64 = 1 << 2
	HwcapImportant          = HwcapX86_64 | HwcapX86AVX512_1
)

var hwcapNames = [...]string{"sse2", "x86_64", "avx512_1"}

// builtinHwcapsSubdirs are glibc's glibc-hwcaps subdirectories for x86-64,
// best first; each needs every level after it.
var builtinHwcapsSubdirs = [...]string{"x86-64-v4", "x86-64-v3", "x86-64-v2"}

// Caps are the hardware capabilities that steer the library search: which
// glibc-hwcaps and legacy subdirectories each search directory gets, and
// which ld.so.cache entries are usable. HostCaps gives this machine's; tests
// and ld.so's --glibc-hwcaps-prepend/--glibc-hwcaps-mask options build
// others.
type Caps struct {
	// IsaLevel holds the ISA* bits of the levels the CPU supports.
	IsaLevel uint32
	// Platform is GLRO(dl_platform): AT_PLATFORM ("x86_64"), replaced
	// by "haswell" or "xeon_phi" on Intel CPUs. "" means none.
	Platform string
	// Hwcap is GLRO(dl_hwcap) and HwcapMask the glibc.cpu.hwcap_mask
	// tunable (HwcapImportant unless set otherwise).
	Hwcap     uint64
	HwcapMask uint64
	// Prepend lists the --glibc-hwcaps-prepend subdirectories, searched
	// before the built-in ones.
	Prepend []string
	// Mask, when non-nil, is the --glibc-hwcaps-mask list: built-in
	// subdirectories not named in it are not searched. A non-nil empty
	// Mask masks them all.
	Mask []string
}

// SplitHwcaps splits a colon-separated glibc-hwcaps list as ld.so does:
// empty elements are dropped.
func SplitHwcaps(list string) []string {
	var out []string
	for _, s := range strings.Split(list, ":") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

var (
	hostOnce sync.Once
	hostCaps Caps
)

// HostCaps returns the capabilities glibc's ld.so computes on this CPU
// with no tunables or options set. The result must not be modified.
func HostCaps() *Caps {
	hostOnce.Do(func() {
		hostCaps = CapsFrom(cpuid)
	})
	return &hostCaps
}

// CPUID answers the CPUID instruction for a leaf and subleaf.
type CPUID func(leaf, subleaf uint32) (eax, ebx, ecx, edx uint32)

// CapsFrom returns the capabilities glibc's ld.so computes from the
// answers of id, with no tunables or options set. A process that runs
// glibc holds the answers ld.so read when it started, and asking the
// instruction again costs: a virtual machine traps every CPUID, about
// 30,000 cycles each where ldgo is measured.
func CapsFrom(id CPUID) Caps {
	return capsFromCPU(detectCPU(id))
}

func capsFromCPU(c cpuFeatures) Caps {
	caps := Caps{
		IsaLevel:  c.isaLevel(),
		Platform:  "x86_64", // the kernel's AT_PLATFORM for every x86-64 process
		Hwcap:     HwcapX86_64,
		HwcapMask: HwcapImportant,
	}
	// cpu-features.c overrides the platform on Intel only.
	if c.vendor == vendorIntel {
		platform := ""
		if c.avx512cd {
			if c.avx512er {
				if c.avx512pf {
					platform = "xeon_phi"
				}
			} else if c.avx512bw && c.avx512dq && c.avx512vl {
				caps.Hwcap |= HwcapX86AVX512_1
			}
		}
		if platform == "" && c.avx2 && c.fma && c.bmi1 && c.bmi2 && c.lzcnt && c.movbe && c.popcnt {
			platform = "haswell"
		}
		if platform != "" {
			caps.Platform = platform
		}
	}
	return caps
}

// activeBuiltin reports, for each of builtinHwcapsSubdirs, whether the CPU
// supports it: glibc stops at the first level it lacks, counting upwards.
func (c *Caps) activeBuiltin() [len(builtinHwcapsSubdirs)]bool {
	var active [len(builtinHwcapsSubdirs)]bool
	levels := [...]uint32{ISAV4, ISAV3, ISAV2}
	for i := len(levels) - 1; i >= 0; i-- {
		if c.IsaLevel&levels[i] == 0 {
			break
		}
		active[i] = true
	}
	return active
}

func (c *Caps) masked(name string) bool {
	if c.Mask == nil {
		return false
	}
	for _, m := range c.Mask {
		if m == name {
			return false
		}
	}
	return true
}

// GlibcHwcaps returns the glibc-hwcaps subdirectory names that are
// searched, in priority order: the prepended ones, then the built-in ones
// the CPU supports and the mask lets through.
func (c *Caps) GlibcHwcaps() []string {
	var out []string
	out = append(out, c.Prepend...)
	active := c.activeBuiltin()
	for i, name := range builtinHwcapsSubdirs {
		if active[i] && !c.masked(name) {
			out = append(out, name)
		}
	}
	return out
}

// Legacy returns the names glibc combines into the legacy subdirectories:
// the hwcap names of the masked hwcap bits from the lowest bit up, the
// platform, and "tls", in that order.
func (c *Caps) Legacy() []string {
	var out []string
	masked := c.Hwcap & c.HwcapMask
	for n := range hwcapNames {
		if masked&(1<<n) != 0 {
			out = append(out, hwcapNames[n])
		}
	}
	if c.Platform != "" {
		out = append(out, c.Platform)
	}
	return append(out, "tls")
}

// Subdirs returns the subdirectories glibc tries under every search
// directory, in order, each ending in "/": the glibc-hwcaps ones, then the
// legacy combinations, then "" for the directory itself.
func (c *Caps) Subdirs() []string {
	var out []string
	for _, name := range c.GlibcHwcaps() {
		out = append(out, "glibc-hwcaps/"+name+"/")
	}
	return append(out, legacyPowerSet(c.Legacy())...)
}

// legacyPowerSet lays out every subset of names as a directory path the
// way _dl_important_hwcaps does. glibc stores the 2^n strings overlapped in
// one buffer and derives each one's start from its neighbours; the order
// that results is subtle, so it is reproduced by the same construction
// rather than by a formula (the tests check the formula it amounts to).
func legacyPowerSet(temp []string) []string {
	cnt := len(temp)
	if cnt == 0 {
		return []string{""}
	}
	if cnt == 1 {
		return []string{temp[0] + "/", ""}
	}
	if cnt > 16 {
		// glibc refuses such lists ("cannot create capability list").
		return []string{""}
	}
	var buf []byte
	add := func(i int) {
		buf = append(buf, temp[i]...)
		buf = append(buf, '/')
	}
	if cnt == 2 {
		add(1)
		add(0)
	} else {
		n := 1 << (cnt - 1)
		for {
			n -= 2
			add(cnt - 1)
			for m := cnt - 2; m > 0; m-- {
				if n&(1<<m) != 0 {
					add(m)
				}
			}
			add(0)
			if n == 0 {
				break
			}
		}
	}

	size := 1 << cnt
	start := make([]int, size)
	length := make([]int, size)
	for n := cnt - 1; n >= 0; n-- {
		mask := 1 << n
		m := size
		for r := 0; m > 0; r++ {
			m--
			if m&mask != 0 {
				length[r] += len(temp[n]) + 1
			}
		}
	}
	// Entries 0 and 1 start at the buffer's beginning; the rest of the
	// first half follow from the two entries before them.
	n := size - 2
	r := 2
	for n != size/2 {
		n--
		if n&1 != 0 {
			start[r] = start[r-2] + length[r-2]
		} else {
			start[r] = start[r-1]
		}
		r++
	}
	// The second half skips the last name of its first-half partner.
	for {
		start[r] = start[r-size/2] + len(temp[cnt-1]) + 1
		r++
		n--
		if n == 0 {
			break
		}
	}

	out := make([]string, size)
	for i := range out {
		if length[i] == 0 {
			continue
		}
		s, e := start[i], start[i]+length[i]
		if s < 0 || e > len(buf) {
			continue // cannot happen for consistent lengths
		}
		out[i] = string(buf[s:e])
	}
	return out
}

// hwcapsPriority is one element of glibc's _dl_hwcaps_priorities: a
// glibc-hwcaps name and its rank (1 = best), sorted by name.
type hwcapsPriority struct {
	name     string
	priority uint32
}

// priorities returns the glibc-hwcaps names with their ranks, sorted by
// name as glibc's sort_priorities_by_name leaves them.
func (c *Caps) priorities() []hwcapsPriority {
	names := c.GlibcHwcaps()
	p := make([]hwcapsPriority, len(names))
	for i, n := range names {
		p[i] = hwcapsPriority{n, uint32(i + 1)}
	}
	// Insertion sort, stable like glibc's: equal names keep their order.
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && nameLess(p[j].name, p[j-1].name); j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
	return p
}

// nameLess orders as memcmp over the common prefix, then shorter first.
func nameLess(a, b string) bool {
	n := min(len(a), len(b))
	if c := strings.Compare(a[:n], b[:n]); c != 0 {
		return c < 0
	}
	return len(a) < len(b)
}

type vendor int

const (
	vendorOther vendor = iota
	vendorIntel
	vendorAMD
	vendorZhaoxin
)

// cpuFeatures holds the "usable" bits glibc's init_cpu_features derives,
// for the features the search depends on.
type cpuFeatures struct {
	vendor vendor

	cmov, cx8, fpu, fxsr, mmx, sse, sse2                bool
	cmpxchg16b, lahf, popcnt, sse3, ssse3, sse41, sse42 bool
	avx, avx2, bmi1, bmi2, f16c, fma, lzcnt, movbe      bool
	avx512f, avx512bw, avx512cd, avx512dq, avx512vl     bool
	avx512er, avx512pf                                  bool
}

func (c cpuFeatures) isaLevel() uint32 {
	var level uint32
	if !(c.cmov && c.cx8 && c.fpu && c.fxsr && c.mmx && c.sse && c.sse2) {
		return 0
	}
	level |= ISABaseline
	if !(c.cmpxchg16b && c.lahf && c.popcnt && c.sse3 && c.ssse3 && c.sse41 && c.sse42) {
		return level
	}
	level |= ISAV2
	if !(c.avx && c.avx2 && c.bmi1 && c.bmi2 && c.f16c && c.fma && c.lzcnt && c.movbe) {
		return level
	}
	level |= ISAV3
	if c.avx512f && c.avx512bw && c.avx512cd && c.avx512dq && c.avx512vl {
		level |= ISAV4
	}
	return level
}

// detectCPU reads CPUID and XCR0 the way glibc's init_cpu_features does:
// a feature is usable when the CPU reports it and, for the vector
// extensions, the kernel enables the register state they need.
func detectCPU(cpuid CPUID) cpuFeatures {
	var c cpuFeatures
	if !haveCPUID {
		return c
	}
	bit := func(r uint32, n uint) bool { return r&(1<<n) != 0 }

	maxLeaf, ebx, ecx, edx := cpuid(0, 0)
	switch {
	case ebx == 0x756e6547 && ecx == 0x6c65746e && edx == 0x49656e69: // GenuineIntel
		c.vendor = vendorIntel
	case ebx == 0x68747541 && ecx == 0x444d4163 && edx == 0x69746e65, // AuthenticAMD
		ebx == 0x6f677948 && ecx == 0x656e6975 && edx == 0x6e65476e: // HygonGenuine
		c.vendor = vendorAMD
	case ebx == 0x746e6543 && ecx == 0x736c7561 && edx == 0x48727561, // CentaurHauls
		ebx == 0x68532020 && ecx == 0x20206961 && edx == 0x68676e61: //   Shanghai
		c.vendor = vendorZhaoxin
	}

	eax1, _, ecx1, edx1 := cpuid(1, 0)
	var ebx7 uint32
	if maxLeaf >= 7 {
		_, ebx7, _, _ = cpuid(7, 0)
	}
	// glibc reads the extended leaves only for the vendors it knows.
	var ecxExt uint32
	if c.vendor != vendorOther {
		if maxExt, _, _, _ := cpuid(0x80000000, 0); maxExt >= 0x80000001 {
			_, _, ecxExt, _ = cpuid(0x80000001, 0)
		}
	}

	c.fpu = bit(edx1, 0)
	c.cx8 = bit(edx1, 8)
	c.cmov = bit(edx1, 15)
	c.mmx = bit(edx1, 23)
	c.fxsr = bit(edx1, 24)
	c.sse = bit(edx1, 25)
	c.sse2 = bit(edx1, 26)
	c.sse3 = bit(ecx1, 0)
	c.ssse3 = bit(ecx1, 9)
	c.cmpxchg16b = bit(ecx1, 13)
	c.sse41 = bit(ecx1, 19)
	c.sse42 = bit(ecx1, 20)
	c.movbe = bit(ecx1, 22)
	c.popcnt = bit(ecx1, 23)
	c.bmi1 = bit(ebx7, 3)
	c.bmi2 = bit(ebx7, 8)
	c.lahf = bit(ecxExt, 0)
	c.lzcnt = bit(ecxExt, 5)

	if bit(ecx1, 27) { // OSXSAVE
		xcr0, _ := xgetbv0()
		if xcr0&0x6 == 0x6 { // XMM and YMM state
			if bit(ecx1, 28) {
				c.avx = true
				c.avx2 = bit(ebx7, 5)
				c.fma = bit(ecx1, 12)
				c.f16c = bit(ecx1, 29)
			}
			if xcr0&0xe0 == 0xe0 && bit(ebx7, 16) { // opmask, ZMM state
				c.avx512f = true
				c.avx512dq = bit(ebx7, 17)
				c.avx512pf = bit(ebx7, 26)
				c.avx512er = bit(ebx7, 27)
				c.avx512cd = bit(ebx7, 28)
				c.avx512bw = bit(ebx7, 30)
				c.avx512vl = bit(ebx7, 31)
			}
		}
	}

	if c.vendor == vendorZhaoxin {
		// Some Zhaoxin models have AVX that glibc will not use.
		family := (eax1 >> 8) & 0xf
		model := (eax1>>4)&0xf + (eax1>>12)&0xf0
		if family == 6 && (model == 0xf || model == 0x19) ||
			family == 7 && (model == 0x1b || model == 0x3b) {
			c.avx, c.avx2 = false, false
		}
	}
	return c
}
