package host

/*
#include "host.h"
*/
import "C"

// LeaveTeardown arranges that this process's exit is reported without
// waiting for the kernel to free its address space: a process sharing
// it holds it until this one has exited, and frees it then. Call it
// when the work is done and only exiting remains. It returns the
// holder's process id, or 0 if none could be started (the exit is then
// as usual).
func LeaveTeardown() int {
	return max(0, int(C.ldgo_leave_teardown()))
}
