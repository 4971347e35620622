package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// revision is the source revision when the go command could not record
// one (a build in a git worktree): make sets it with -ldflags -X.
var revision string

// versionText is what `ldgo version` prints, all from the build
// information the go command records in the binary: the module version
// (a tag for `go install ...@v1.2.3`, "(devel)" or a pseudo-version for a
// build in a checkout), the revision, and the build mode, which decides
// whether ldgo can run programs linked at fixed addresses.
func versionText(bi *debug.BuildInfo) string {
	version := bi.Main.Version
	if version == "" {
		version = "(unknown)"
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ldgo %s", version)
	if rev := settings["vcs.revision"]; rev != "" {
		fmt.Fprintf(&b, " (revision %.12s", rev)
		if settings["vcs.modified"] == "true" {
			b.WriteString(", modified")
		}
		b.WriteString(")")
	} else if revision != "" {
		fmt.Fprintf(&b, " (revision %s)", revision)
	}
	mode := settings["-buildmode"]
	if mode == "" {
		mode = "exe"
	}
	fmt.Fprintf(&b, "\n%s, -buildmode=%s", bi.GoVersion, mode)
	if mode != "pie" {
		b.WriteString(" (programs linked at fixed addresses cannot be run: rebuild with -buildmode=pie)")
	}
	b.WriteString("\n")
	return b.String()
}

func runVersion(c *command, args []string, stdout, stderr io.Writer) int {
	_, operands, status, done := c.parse(args, true, stdout, stderr)
	switch {
	case done:
		return status
	case len(operands) > 0:
		return c.usageError(stderr, "takes no arguments")
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(stderr, "ldgo version: no build information in this executable")
		return 1
	}
	fmt.Fprint(stdout, versionText(bi))
	return 0
}
