package main

import (
	"io"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/ldgo/ldgo/host"
	"github.com/ldgo/ldgo/link"
)

// cmdLink is the link editor. It takes ld's command line, which package
// link parses itself (ld's options are not ldgo's), and it is what ldgo
// does when started under the name ld (a link DIR/ld -> ldgo, for
// gcc -B DIR).
var cmdLink = &command{
	name:     "link",
	synopsis: "[ld options] FILES...",
	summary:  "link editor: link objects, archives and shared libraries (also run as ld)",
	about: `Links relocatable objects, archives and shared libraries into an
executable, a shared library or a relocatable object, as GNU ld does,
taking GNU ld's options (ldgo link --help lists them). Started under the
name ld, ldgo is this command, so that gcc -B DIR uses it.`,
	argv0:    []string{"ld"},
	run:      runLink,
	ownUsage: func() string { return link.Usage("ldgo") },
}

// runLink runs the link editor. Its messages start with the name it
// was started under, as GNU ld's do: ld's own when it runs as ld.
func runLink(c *command, args []string, stdout, stderr io.Writer) int {
	prog := "ldgo"
	if filepath.Base(os.Args[0]) == "ld" {
		prog = os.Args[0]
	}
	// Most of what a link allocates lives until the output is written:
	// collecting as often as the default would only costs time (a tenth
	// of a large link). Set for the process, never restored: lowering
	// it again at the end would start a collection nobody waits for.
	// A GOGC of the user's own stands.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	return link.Main(prog, args, stdout, stderr, leaveTeardown)
}

// leaveTeardown has the exit reported before the kernel frees the
// link's memory, when there is enough of it to be worth a process: a
// small link's teardown takes less than starting the holder.
func leaveTeardown() {
	if link.PeakRSS() >= 64<<20 {
		host.LeaveTeardown()
	}
}
