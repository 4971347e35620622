package main

import (
	"golang.org/x/sys/unix"

	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/sysroot"
)

// ldsoVerify is `ld.so --verify PROG`: it reads the program only, says
// nothing, and answers with its status: 0 for a dynamically linked
// program, 2 for an object without an interpreter (a shared library),
// 1 for anything else (not ELF, another class, statically linked).
func ldsoVerify(root *sysroot.Root, path string) int {
	f, err := root.OpenObject(path)
	if err != nil {
		return 1
	}
	defer f.Close()
	switch {
	case f.Dynamic.Size == 0:
		return 1
	case f.Interp == "":
		return 2
	}
	return 0
}

// notTraced says why ldd would not trace prog, in ldd's words, or returns
// "" when it would: ldd checks that the file exists, is a regular file and
// is readable, then asks ld.so --verify. Bare is set for the one message
// ldd prints without its name and the file's. In a tree, prog is the
// tree's, as for ldd run inside it.
func notTraced(root *sysroot.Root, prog string) (msg string, bare bool) {
	st, err := root.Stat(prog)
	switch {
	case err != nil:
		return prog + ": " + object.ErrorText(err), false
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return prog + ": not regular file", false
	case root.Access(prog) != nil:
		return "error: you do not have read permission for `" + prog + "'", false
	case ldsoVerify(root, prog) == 1:
		return "\tnot a dynamic executable", true
	}
	return "", false
}
