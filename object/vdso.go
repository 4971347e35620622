package object

import (
	"debug/elf"
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// VDSOName is the name glibc gives the kernel's virtual shared object.
const VDSOName = "linux-vdso.so.1"

const atSysinfoEhdr = 33 // AT_SYSINFO_EHDR

// ReadVDSO reads the vDSO the kernel mapped into this process and returns
// it with its base (l_addr). Every process of the machine gets the same
// vDSO, so it stands for the one a program would get.
func ReadVDSO() (*Object, uint64, error) {
	auxv, err := unix.Auxv()
	if err != nil {
		return nil, 0, err
	}
	var ehdr uintptr
	for _, kv := range auxv {
		if kv[0] == atSysinfoEhdr {
			ehdr = kv[1]
		}
	}
	if ehdr == 0 {
		return nil, 0, errors.New("no vDSO in this process")
	}
	head := unsafe.Slice((*byte)(Pointer(ehdr)), ehdrSize)
	hdr, err := ReadHeader(VDSOName, head)
	if err != nil {
		return nil, 0, err
	}
	progs := ReadProgs(unsafe.Slice((*byte)(Pointer(ehdr+uintptr(hdr.Phoff))), int(hdr.Phnum)*phdrSize), int(hdr.Phnum))
	base := uint64(ehdr)
	for _, p := range progs {
		if p.Type == elf.PT_LOAD {
			base = uint64(ehdr) - p.Vaddr
			break
		}
	}
	obj, err := FromMemory(VDSOName, uintptr(base), progs, false)
	if err != nil {
		return nil, 0, err
	}
	return obj, base, nil
}
