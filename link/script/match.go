package script

// Match reports whether name matches a script's wildcard pattern: * any
// run of characters (a file name's slashes too, as GNU ld's fnmatch
// without FNM_PATHNAME), ? any one, [...] a set or range, [!...] or
// [^...] its complement.
func Match(pattern, name string) bool {
	for len(pattern) > 0 {
		switch c := pattern[0]; c {
		case '*':
			for len(pattern) > 0 && pattern[0] == '*' {
				pattern = pattern[1:]
			}
			if pattern == "" {
				return true
			}
			for i := 0; i <= len(name); i++ {
				if Match(pattern, name[i:]) {
					return true
				}
			}
			return false
		case '?':
			if name == "" {
				return false
			}
		case '[':
			if name == "" {
				return false
			}
			end := 1
			if end < len(pattern) && (pattern[end] == '!' || pattern[end] == '^') {
				end++
			}
			if end < len(pattern) && pattern[end] == ']' {
				end++
			}
			for end < len(pattern) && pattern[end] != ']' {
				end++
			}
			if end == len(pattern) {
				// No closing bracket: a plain character.
				if name[0] != '[' {
					return false
				}
				break
			}
			if !inSet(pattern[1:end], name[0]) {
				return false
			}
			pattern = pattern[end:]
		default:
			if name == "" || name[0] != c {
				return false
			}
		}
		pattern, name = pattern[1:], name[1:]
	}
	return name == ""
}

func inSet(set string, c byte) bool {
	negate := len(set) > 0 && (set[0] == '!' || set[0] == '^')
	if negate {
		set = set[1:]
	}
	in := false
	for i := 0; i < len(set); i++ {
		if i+2 < len(set) && set[i+1] == '-' {
			in = in || set[i] <= c && c <= set[i+2]
			i += 2
			continue
		}
		in = in || set[i] == c
	}
	return in != negate
}
