package main

import (
	"io"
	"os"
	"path/filepath"

	"github.com/ldgo/ldgo/link"
)

// runLink is `ldgo link [ld options] FILES...`, the link editor.
func runLink(args []string, stdout, stderr io.Writer) int {
	return link.Main("ldgo", args, stdout, stderr)
}

// invokedAsLd reports whether ldgo was started under the name ld (a
// link DIR/ld -> ldgo, for gcc -B DIR): it is then the link editor.
func invokedAsLd() bool {
	return filepath.Base(os.Args[0]) == "ld"
}

// linkAsLd runs the link editor with ld's argv.
func linkAsLd() int {
	return link.Main(os.Args[0], os.Args[1:], os.Stdout, os.Stderr)
}
