package versions

import "testing"

// FuzzParse reads arbitrary text as a version script: Parse must not
// panic, and a script it accepts must answer Match for C and C++ names
// without panicking. Seeds: the scripts of the tests, besides
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"VERS_1 { global: bar; foo; \"quoted*\"; str_*; local: *; };\nVERS_2 { global: baz; } VERS_1;",
		"{ global: f*; local: *; };",
		"LIB_1 { global: extern \"C++\" { \"ns::f(int)\"; ns::Widget::*; }; extern \"C\" { c_api; }; local: *; };",
		"V { extern \"Java\" { f; }; };",
		"/* comment */ V { a; } # trailing\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := Parse("fuzz.map", text)
		if err != nil {
			return
		}
		for _, name := range []string{"foo", "_ZN2ns1fEi", "_ZNKSt6vectorIiSaIiEE4sizeEv", "", "_Z"} {
			s.Match(name)
		}
		for _, v := range s.Versions {
			if s.Lookup(v.Name) == nil {
				t.Errorf("version %q parsed but not found", v.Name)
			}
		}
	})
}
