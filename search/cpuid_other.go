//go:build !amd64

package search

// Without CPUID the capabilities are those of a CPU glibc knows nothing
// about: no ISA level beyond none, no platform override.
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32) { return 0, 0, 0, 0 }

func xgetbv0() (eax, edx uint32) { return 0, 0 }

const haveCPUID = false
