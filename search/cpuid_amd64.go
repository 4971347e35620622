package search

// cpuid executes CPUID with the given leaf (EAX) and subleaf (ECX).
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

// xgetbv0 reads XCR0. Only call it when CPUID reports OSXSAVE.
func xgetbv0() (eax, edx uint32)

const haveCPUID = true
