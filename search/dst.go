package search

import "strings"

// Lib is what $LIB expands to: Debian 12's ld.so expands "/x/$LIB" to
// "/x/lib/x86_64-linux-gnu" (slibdir without its leading '/'), not to the
// last element of slibdir alone (see TestDSTVsGlibc).
const Lib = "lib/x86_64-linux-gnu"

// dstName reports whether s (just after a '$') starts with the dynamic
// string token ref, plain or in braces, and returns the length consumed
// (glibc's is_dst). A plain token must not run on into an identifier.
func dstName(s, ref string) int {
	curly := strings.HasPrefix(s, "{")
	if curly {
		s = s[1:]
	}
	if !strings.HasPrefix(s, ref) {
		return 0
	}
	rest := s[len(ref):]
	if curly {
		if !strings.HasPrefix(rest, "}") {
			return 0
		}
		return len(ref) + 2
	}
	if rest != "" {
		c := rest[0]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' {
			return 0
		}
	}
	return len(ref)
}

// HasDST reports whether s contains a dynamic string token glibc knows.
func HasDST(s string) bool {
	for i := strings.IndexByte(s, '$'); i >= 0; {
		rest := s[i+1:]
		if dstName(rest, "ORIGIN") > 0 || dstName(rest, "PLATFORM") > 0 || dstName(rest, "LIB") > 0 {
			return true
		}
		j := strings.IndexByte(rest, '$')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// ExpandDST replaces $ORIGIN, $PLATFORM and $LIB (or their ${} forms) in s
// (glibc's _dl_dst_substitute). A token whose value is unknown makes the
// whole result empty: glibc then drops the path. Unknown tokens stay as
// they are.
func ExpandDST(s, origin, platform string) string {
	if strings.IndexByte(s, '$') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' {
			b.WriteByte(s[i])
			i++
			continue
		}
		i++
		rest := s[i:]
		var repl string
		n := 0
		if n = dstName(rest, "ORIGIN"); n > 0 {
			repl = origin
		} else if n = dstName(rest, "PLATFORM"); n > 0 {
			repl = platform
		} else if n = dstName(rest, "LIB"); n > 0 {
			repl = Lib
		}
		switch {
		case n > 0 && repl != "":
			b.WriteString(repl)
			i += n
		case n > 0:
			return ""
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
