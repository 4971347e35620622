package search

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// helpEntry is one line of a subdirectory list in `ld.so --help`:
// "  NAME" or "  NAME (MARKER, MARKER...)", the legacy platform line
// reading "  NAME (AT_PLATFORM; supported, searched)".
type helpEntry struct {
	name       string
	markers    []string
	atPlatform bool
}

func (e helpEntry) has(marker string) bool { return slices.Contains(e.markers, marker) }

// ldsoHelp runs `ld.so [args] --help` with env and returns its two lists
// of subdirectories.
func ldsoHelp(t *testing.T, env []string, args ...string) (hwcaps, legacy []helpEntry) {
	t.Helper()
	if _, err := os.Stat(ldso); err != nil {
		t.Skip("no glibc ld.so:", err)
	}
	cmd := exec.Command(ldso, append(args, "--help")...)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s --help: %v", ldso, err)
	}
	var cur *[]helpEntry
	for _, l := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(l, "Subdirectories of glibc-hwcaps directories"):
			cur = &hwcaps
			continue
		case strings.HasPrefix(l, "Legacy HWCAP subdirectories"):
			cur = &legacy
			continue
		case !strings.HasPrefix(l, "  "):
			cur = nil
			continue
		case cur == nil:
			continue
		}
		l = strings.TrimPrefix(l, "  ")
		e := helpEntry{name: l}
		if name, rest, ok := strings.Cut(l, " ("); ok {
			e.name = name
			rest = strings.TrimSuffix(rest, ")")
			if r, ok := strings.CutPrefix(rest, "AT_PLATFORM; "); ok {
				e.atPlatform, rest = true, r
			}
			e.markers = strings.Split(rest, ", ")
		}
		*cur = append(*cur, e)
	}
	if len(hwcaps) == 0 || len(legacy) == 0 {
		t.Fatalf("cannot read the subdirectory lists of ld.so --help:\n%s", out)
	}
	return hwcaps, legacy
}

// checkCapsVsHelp compares caps with what ld.so --help printed.
func checkCapsVsHelp(t *testing.T, caps *Caps, hwcaps, legacy []helpEntry) {
	t.Helper()
	var searched []string
	for j, e := range hwcaps {
		if e.has("searched") {
			searched = append(searched, e.name)
		}
		// The built-in names come last, after the prepended ones; one
		// is "supported" exactly when the CPU's ISA level allows it.
		if j < len(hwcaps)-len(builtinHwcapsSubdirs) {
			continue
		}
		if i := slices.Index(builtinHwcapsSubdirs[:], e.name); i >= 0 {
			if got := caps.activeBuiltin()[i]; got != e.has("supported") {
				t.Errorf("%s: ldgo says supported=%v; ld.so --help: %v", e.name, got, e.markers)
			}
		}
	}
	if got := caps.GlibcHwcaps(); !slices.Equal(got, searched) {
		t.Errorf("GlibcHwcaps() = %q; ld.so searches %q", got, searched)
	}

	// The legacy list: the platform, "tls", then each important hwcap
	// bit from the highest down. glibc combines the searched ones, the
	// hwcap names lowest bit first, then the platform, then "tls".
	var platform string
	var names []string
	tls := false
	for _, e := range legacy {
		switch {
		case e.atPlatform:
			platform = e.name
		case e.name == "tls" && e.has("searched"):
			tls = true
		case e.name == "tls":
		default:
			n := slices.Index(hwcapNames[:], e.name)
			if n < 0 {
				t.Errorf("ld.so --help lists a legacy hwcap %q that ldgo does not know", e.name)
				continue
			}
			if got := caps.Hwcap&(1<<n) != 0; got != e.has("supported") {
				t.Errorf("hwcap %s: ldgo says supported=%v; ld.so --help: %v", e.name, got, e.markers)
			}
			if e.has("searched") {
				names = append(names, e.name)
			}
		}
	}
	slices.Reverse(names)
	if caps.Platform != platform {
		t.Errorf("Platform = %q; ld.so's AT_PLATFORM line says %q", caps.Platform, platform)
	}
	if platform != "" {
		names = append(names, platform)
	}
	if tls {
		names = append(names, "tls")
	}
	if got := caps.Legacy(); !slices.Equal(got, names) {
		t.Errorf("Legacy() = %q; ld.so --help says %q", got, names)
	}
}

// TestHostCapsVsLdSoHelp compares HostCaps with the real ld.so's view of
// this CPU.
func TestHostCapsVsLdSoHelp(t *testing.T) {
	hwcaps, legacy := ldsoHelp(t, nil)
	checkCapsVsHelp(t, HostCaps(), hwcaps, legacy)
	if len(HostCaps().Subdirs()) != len(HostCaps().GlibcHwcaps())+1<<len(HostCaps().Legacy()) {
		t.Errorf("Subdirs() = %q", HostCaps().Subdirs())
	}
}

// TestCapsOptionsVsLdSoHelp compares Caps built for ld.so's
// --glibc-hwcaps-prepend and --glibc-hwcaps-mask options and for the
// glibc.cpu tunables with what ld.so prints under them.
func TestCapsOptionsVsLdSoHelp(t *testing.T) {
	host := *HostCaps()
	cpu := detectCPU(cpuid)
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		caps func() Caps
	}{
		{
			name: "prepend and mask",
			args: []string{"--glibc-hwcaps-prepend", "foo:bar", "--glibc-hwcaps-mask", "x86-64-v3:x86-64-v2"},
			caps: func() Caps {
				c := host
				c.Prepend, c.Mask = SplitHwcaps("foo:bar"), SplitHwcaps("x86-64-v3:x86-64-v2")
				return c
			},
		},
		{
			name: "empty elements, empty mask",
			args: []string{"--glibc-hwcaps-prepend", "::a::x86-64-v2:", "--glibc-hwcaps-mask", ""},
			caps: func() Caps {
				c := host
				c.Prepend, c.Mask = SplitHwcaps("::a::x86-64-v2:"), []string{}
				return c
			},
		},
		{
			name: "hwcap_mask=0",
			env:  []string{"GLIBC_TUNABLES=glibc.cpu.hwcap_mask=0"},
			caps: func() Caps {
				c := host
				c.HwcapMask = 0
				return c
			},
		},
		{
			name: "hwcaps=-AVX512F",
			env:  []string{"GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX512F"},
			caps: func() Caps { c := cpu; c.avx512f = false; return capsFromCPU(c) },
		},
		{
			name: "hwcaps=-AVX2",
			env:  []string{"GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2"},
			caps: func() Caps { c := cpu; c.avx2 = false; return capsFromCPU(c) },
		},
		{
			name: "hwcaps=-SSE4_2",
			env:  []string{"GLIBC_TUNABLES=glibc.cpu.hwcaps=-SSE4_2"},
			caps: func() Caps { c := cpu; c.sse42 = false; return capsFromCPU(c) },
		},
		{
			name: "hwcaps=-POPCNT,-AVX512VL",
			env:  []string{"GLIBC_TUNABLES=glibc.cpu.hwcaps=-POPCNT,-AVX512VL"},
			caps: func() Caps { c := cpu; c.popcnt, c.avx512vl = false, false; return capsFromCPU(c) },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hwcaps, legacy := ldsoHelp(t, tc.env, tc.args...)
			caps := tc.caps()
			checkCapsVsHelp(t, &caps, hwcaps, legacy)
		})
	}
}
