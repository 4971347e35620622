package host

/*
#include <stdlib.h>
#include <string.h>
#include "host.h"
*/
import "C"

import (
	"runtime"
	"runtime/debug"
	"sync"
	"unsafe"
)

// DLOp is what a program asked of the dynamic linker.
type DLOp int

const (
	DLOpen   DLOp = C.LDGO_DL_OPEN
	DLSym    DLOp = C.LDGO_DL_SYM
	DLClose  DLOp = C.LDGO_DL_CLOSE
	DLUnload DLOp = C.LDGO_DL_UNLOAD
)

// DLRequest is a program's call of dlopen, dlsym, dlvsym or dlclose.
type DLRequest struct {
	Op      DLOp
	Name    string // the file or the symbol; File is false for dlopen(NULL)
	HasName bool
	Version string
	Mode    int
	Next    bool   // RTLD_NEXT
	Handle  uint64 // a handle dlopen returned; 0 for RTLD_DEFAULT
	Caller  uint64 // the return address of the call
	Owners  []uint64
}

// DLResult answers a DLRequest.
type DLResult struct {
	Addr                uint64 // the handle or the symbol's address
	TLSModID, TLSOffset uint64 // a TLS symbol: its address is per thread
	Err                 string // dlerror's message
	Inits, Finis        []Fn   // of the objects dlopen loaded, or dlclose unloads
	Owners              []uint64
}

var dlServer func(DLRequest) DLResult

// StartDLServer starts the thread that is to serve the program's dl*
// calls: a thread of the runtime's own, locked to a goroutine that waits
// for them in C (see dl.c). Started before the program is loaded, it is
// ready by the hand-off, which waits for it.
func StartDLServer() {
	serverOnce.Do(func() {
		C.ldgo_dl_server_started()
		go func() {
			runtime.LockOSThread()
			C.ldgo_dl_serve()
		}()
	})
}

var serverOnce sync.Once

// ServeDL makes serve answer the program's dl* calls, on the thread
// StartDLServer started. The garbage collector is turned off: it would
// need the parked threads.
func ServeDL(serve func(DLRequest) DLResult) {
	dlServer = serve
	debug.SetGCPercent(-1)
	// Entering Go, the server needs a P: those the runtime had may be
	// held by threads that are parked by then. Spare Ps, idle for good,
	// are there to take.
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 4)
	StartDLServer()
	C.ldgo_dl_ready()
}

//export ldgoServe
func ldgoServe(r *C.struct_ldgo_dlreq) {
	req := DLRequest{
		Op:      DLOp(r.op),
		HasName: r.name != nil,
		Mode:    int(r.mode),
		Next:    r.next != 0,
		Handle:  uint64(r.handle),
		Caller:  uint64(r.caller),
	}
	if r.name != nil {
		req.Name = C.GoString(r.name)
	}
	if r.version != nil {
		req.Version = C.GoString(r.version)
	}
	if r.nowners > 0 {
		for _, o := range unsafe.Slice(r.owners, r.nowners) {
			req.Owners = append(req.Owners, uint64(o))
		}
	}
	res := dlServer(req)
	r.result = C.uintptr_t(res.Addr)
	r.tls_modid = C.uint64_t(res.TLSModID)
	r.tls_offset = C.uint64_t(res.TLSOffset)
	if res.Err != "" {
		r.error = C.CString(res.Err)
	}
	r.inits, r.ninits = cfns(res.Inits)
	r.finis, r.nfinis = cfns(res.Finis)
	if req.Op == DLClose && len(res.Owners) > 0 {
		r.owners = (*C.uint64_t)(C.malloc(C.size_t(8 * len(res.Owners))))
		for i, o := range res.Owners {
			unsafe.Slice(r.owners, len(res.Owners))[i] = C.uint64_t(o)
		}
		r.nowners = C.uint64_t(len(res.Owners))
	}
}

// LinkMap returns the link map SetObjects gave object i: its dlopen
// handle.
func LinkMap(i int) uint64 { return uint64(C.ldgo_object_lm(C.uint64_t(i))) }

// Addresses of ldgo's dlopen, dlsym, dlvsym, dlclose and dlerror.
func DLFunctions() map[string]uint64 {
	return map[string]uint64{
		"dlopen":  uint64(C.ldgo_addr_dl(0)),
		"dlsym":   uint64(C.ldgo_addr_dl(1)),
		"dlvsym":  uint64(C.ldgo_addr_dl(2)),
		"dlclose": uint64(C.ldgo_addr_dl(3)),
		"dlerror": uint64(C.ldgo_addr_dl(4)),
		"dlinfo":  uint64(C.ldgo_addr_dl(5)),
	}
}
