package host_test

import (
	"bufio"
	"debug/elf"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ldgo/ldgo/host"
	"github.com/ldgo/ldgo/object"
)

// What can be tested of host without handing the process to a program:
// what it reads of the process (its objects, the CPU, the thread
// pointer) and calling code at an address, each against the kernel's own
// account (/proc) or a system call.

// cpuinfo returns the first processor's fields of /proc/cpuinfo.
func cpuinfo(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	fields := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() && s.Text() != "" {
		k, v, _ := strings.Cut(s.Text(), ":")
		fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return fields
}

// TestCPUID compares the CPUID answers with the kernel's account of the
// processor: the vendor (leaf 0), the family, model and stepping (leaf
// 1's signature, as the kernel decodes it) and features of leaves 1, 7
// and 0x80000001 that the kernel lists under their names.
func TestCPUID(t *testing.T) {
	info := cpuinfo(t)
	_, ebx, ecx, edx := host.CPUID(0, 0)
	vendor := string(unsafe.Slice((*byte)(unsafe.Pointer(&[3]uint32{ebx, edx, ecx})), 12))
	if vendor != info["vendor_id"] {
		t.Errorf("vendor %q, the kernel says %q", vendor, info["vendor_id"])
	}

	sig, _, ecx1, edx1 := host.CPUID(1, 0)
	family := sig >> 8 & 0xf
	if family == 0xf {
		family += sig >> 20 & 0xff
	}
	model := sig >> 4 & 0xf
	if family >= 6 {
		model |= (sig >> 16 & 0xf) << 4
	}
	for field, got := range map[string]uint32{"cpu family": family, "model": model, "stepping": sig & 0xf} {
		if want := info[field]; strconv.FormatUint(uint64(got), 10) != want {
			t.Errorf("%s %d, the kernel says %s", field, got, want)
		}
	}

	_, ebx7, _, _ := host.CPUID(7, 0)
	_, _, ecx8, edx8 := host.CPUID(0x80000001, 0)
	flags := map[string]bool{}
	for _, f := range strings.Fields(info["flags"]) {
		flags[f] = true
	}
	for _, f := range []struct {
		name string
		reg  uint32
		bit  uint
	}{
		{"fpu", edx1, 0}, {"tsc", edx1, 4}, {"sse", edx1, 25}, {"sse2", edx1, 26},
		{"pni", ecx1, 0}, {"ssse3", ecx1, 9}, {"sse4_1", ecx1, 19}, {"sse4_2", ecx1, 20}, {"popcnt", ecx1, 23},
		{"bmi1", ebx7, 3}, {"bmi2", ebx7, 8},
		{"lahf_lm", ecx8, 0}, {"lm", edx8, 29},
	} {
		if got := f.reg>>f.bit&1 != 0; got != flags[f.name] {
			t.Errorf("%s: CPUID says %v, the kernel %v", f.name, got, flags[f.name])
		}
	}
}

// TestCycles: the time-stamp counter moves forward, from before ldgo's
// own code first ran.
func TestCycles(t *testing.T) {
	start := host.StartCycles()
	prev := host.Cycles()
	if start == 0 || start > prev {
		t.Errorf("start %d, now %d", start, prev)
	}
	for range 1000 {
		now := host.Cycles()
		if now < prev {
			t.Fatalf("the counter went back from %d to %d", prev, now)
		}
		prev = now
	}
}

// mapping is one line of /proc/self/maps.
type mapping struct {
	lo, hi, off uint64
	path        string
}

func maps(t *testing.T) []mapping {
	t.Helper()
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skip(err)
	}
	var out []mapping
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(l)
		var m mapping
		if _, err := fmt.Sscanf(f[0]+" "+f[2], "%x-%x %x", &m.lo, &m.hi, &m.off); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if len(f) > 5 {
			m.path = f[5]
		}
		out = append(out, m)
	}
	return out
}

// sameFile reports whether the kernel's path of a mapping is the file an
// object is named by (a name may go through symbolic links).
func sameFile(mapped, name string) bool {
	a, errA := os.Stat(mapped)
	b, errB := os.Stat(name)
	return errA == nil && errB == nil && os.SameFile(a, b)
}

// TestObjects: the objects the system's ld.so loaded, as the kernel maps
// them: each PT_LOAD segment's first page is mapped from its object's
// file, at the segment's file offset; the vDSO is the kernel's [vdso].
func TestObjects(t *testing.T) {
	objs := host.Objects()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	mm := maps(t)
	seen := map[string]bool{}
	for _, o := range objs {
		path := o.Name
		if path == "" {
			path = exe
		}
		seen[path] = true
		loads := 0
		for _, p := range o.Progs {
			if p.Type != elf.PT_LOAD || p.Filesz == 0 {
				continue
			}
			loads++
			addr := uint64(o.Base) + p.Vaddr
			var in *mapping
			for i := range mm {
				if addr >= mm[i].lo && addr < mm[i].hi {
					in = &mm[i]
				}
			}
			switch {
			case in == nil:
				t.Errorf("%s: segment at %#x is not mapped", path, addr)
			case o.Name == object.VDSOName:
				if in.path != "[vdso]" {
					t.Errorf("the vDSO's segment at %#x is in %q", addr, in.path)
				}
			case !sameFile(in.path, path):
				t.Errorf("%s: segment at %#x is mapped from %q", path, addr, in.path)
			case in.off+(addr&^0xfff-in.lo) != p.Off&^0xfff:
				t.Errorf("%s: segment at %#x maps file offset %#x, its header says %#x", path, addr, in.off+(addr&^0xfff-in.lo), p.Off&^0xfff)
			}
		}
		if loads == 0 {
			t.Errorf("%s: no loaded segment", path)
		}
	}
	for _, want := range []string{exe, "/lib64/ld-linux-x86-64.so.2", object.VDSOName} {
		if !seen[want] {
			t.Errorf("no object %s among %d", want, len(objs))
		}
	}
}

// TestThreadPointer: the thread pointer is the thread's %fs base, as the
// kernel has it.
func TestThreadPointer(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const archGetFS = 0x1003
	var fs uint64
	if _, _, e := unix.Syscall(unix.SYS_ARCH_PRCTL, archGetFS, uintptr(unsafe.Pointer(&fs)), 0); e != 0 {
		t.Fatal(e)
	}
	if tp := host.ThreadPointer(); uint64(tp) != fs {
		t.Errorf("thread pointer %#x, %%fs base %#x", tp, fs)
	}
}

// libc returns the system's libc as this process has it, read from
// memory.
func libc(t *testing.T) (host.Object, *object.Object) {
	t.Helper()
	for _, o := range host.Objects() {
		if strings.HasSuffix(o.Name, "/libc.so.6") {
			obj, err := object.FromMemory(o.Name, o.Base, o.Progs, true)
			if err != nil {
				t.Fatal(err)
			}
			return o, obj
		}
	}
	t.Skip("no libc.so.6 in this process")
	return host.Object{}, nil
}

// symbol returns the value of libc's definition of name.
func symbol(t *testing.T, obj *object.Object, name string) object.Sym {
	t.Helper()
	h := object.NewHash(name)
	var sym *object.Sym
	obj.Candidates(&h, func(i uint32) bool {
		s := obj.Symbol(i)
		sym = &s
		return false
	})
	if sym == nil {
		t.Fatalf("libc defines no %s", name)
	}
	return *sym
}

// TestCall0 calls functions of this process's libc by their addresses:
// getpid returns the pid, and __errno_location this thread's errno,
// which lies in libc's TLS block for this thread where libc's symbol
// errno says.
func TestCall0(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	o, obj := libc(t)
	getpid := symbol(t, obj, "getpid")
	if pid := host.Call0(o.Base + uintptr(getpid.Value)); int(pid) != os.Getpid() {
		t.Errorf("getpid() through Call0 = %d, the pid is %d", pid, os.Getpid())
	}

	errno := symbol(t, obj, "errno")
	if errno.Type() != elf.STT_TLS {
		t.Fatalf("libc's errno is %v, want a TLS symbol", errno.Type())
	}
	if o.TLSModID == 0 || o.TLSData == 0 {
		t.Fatalf("libc has TLS module %d, block %#x", o.TLSModID, o.TLSData)
	}
	where := host.Call0(o.Base + uintptr(symbol(t, obj, "__errno_location").Value))
	if want := o.TLSData + uintptr(errno.Value); where != want {
		t.Errorf("__errno_location() = %#x, libc's block %#x + errno's offset %#x = %#x", where, o.TLSData, errno.Value, want)
	}
}
