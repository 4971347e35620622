package main

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ldgo/ldgo/host"
	"github.com/ldgo/ldgo/search"
)

// startupTouched decides from the objects glibc's ld.so loaded into this
// very process (the test binary links libc as ldgo does).
func TestStartupTouched(t *testing.T) {
	loaded := hostObjectNames()
	var libc string
	for _, name := range loaded {
		if filepath.Base(name) == "libc.so.6" {
			libc = name
		}
	}
	if libc == "" {
		t.Fatalf("no libc.so.6 among %q (host objects %d)", loaded, len(host.Objects()))
	}
	libcDir := filepath.Dir(libc)
	for _, tc := range []struct {
		env  []string
		want bool
	}{
		{nil, false},
		{[]string{"HOME=/root", "LDGO_DEBUG=lazy"}, false},
		{[]string{"LD_BIND_NOW=1"}, false},
		{[]string{"LD_LIBRARY_PATH="}, false}, // ld.so ignores an empty path
		{[]string{"LD_LIBRARY_PATH=/nonexistent:/opt/lib/"}, false},
		{[]string{"LD_LIBRARY_PATH=/nonexistent", "LD_BIND_NOW="}, false},
		{[]string{"LD_LIBRARY_PATH=" + libcDir}, true},
		{[]string{"LD_LIBRARY_PATH=/nonexistent;" + libcDir + "/"}, true},
		{[]string{"LD_LIBRARY_PATH=/"}, true},
		{[]string{"LD_LIBRARY_PATH=/nonexistent:"}, true}, // the working directory
		{[]string{"LD_LIBRARY_PATH=::/nonexistent"}, true},
		{[]string{"LD_LIBRARY_PATH=lib"}, true},
		{[]string{"LD_LIBRARY_PATH=$ORIGIN/lib"}, true},
		{[]string{"LD_LIBRARY_PATH=/nonexistent", "LD_PRELOAD="}, true},
		{[]string{"LD_DEBUG=libs"}, true},
		{[]string{"LD_AUDIT=/x.so"}, true},
		{[]string{"LD_BIND_NOT=1"}, true},
	} {
		if got := startupTouched(tc.env, hostObjectNames); got != tc.want {
			t.Errorf("startupTouched(%q) = %v, want %v", tc.env, got, tc.want)
		}
	}

	// ld.so also looks in a directory's glibc-hwcaps subdirectories.
	hwcaps := func() []string { return []string{"/opt/x/glibc-hwcaps/x86-64-v3/libc.so.6"} }
	if !startupTouched([]string{"LD_LIBRARY_PATH=/opt/x"}, hwcaps) {
		t.Error("a library in /opt/x/glibc-hwcaps/x86-64-v3 was not seen as found through /opt/x")
	}
	if startupTouched([]string{"LD_LIBRARY_PATH=/opt/xy"}, hwcaps) {
		t.Error("/opt/xy was taken for a parent of /opt/x")
	}
}

// ldgo run takes the CPU's capabilities from the CPUID answers glibc's
// ld.so recorded for this process; they must be the ones the instruction
// gives, which the analysis commands use.
func TestHostCPUID(t *testing.T) {
	fromGlibc := search.CapsFrom(host.CPUID)
	if want := search.HostCaps(); !reflect.DeepEqual(&fromGlibc, want) {
		t.Errorf("capabilities from glibc's record %+v, from CPUID %+v", fromGlibc, *want)
	}
	if fromGlibc.IsaLevel&search.ISABaseline == 0 {
		t.Errorf("no x86-64 baseline in %+v", fromGlibc)
	}
	if _, ebx, ecx, edx := host.CPUID(0, 0); ebx == 0 && ecx == 0 && edx == 0 {
		t.Error("CPUID leaf 0 names no vendor")
	}
}
