package versions

import "testing"

func TestMatch(t *testing.T) {
	s, err := Parse("lib.map", `
/* the library's versions */
VERS_1 {
  global: bar; foo; "quoted*"; str_*;
  local: *;
};
VERS_2 {
  global: baz; str_new;
} VERS_1;
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Versions) != 2 || s.Versions[1].Parents[0] != "VERS_1" || s.Versions[1].Index != 3 {
		t.Fatalf("versions %+v", s.Versions)
	}
	for _, c := range []struct {
		name, version string
		local         bool
	}{
		{"foo", "VERS_1", false},
		{"baz", "VERS_2", false},
		{"str_old", "VERS_1", false},
		{"str_new", "VERS_2", false}, // an exact name beats a pattern
		{"quoted*", "VERS_1", false}, // a quoted name is not a pattern
		{"quotedx", "VERS_1", true},
		{"helper", "VERS_1", true},
	} {
		v, local, matched := s.Match(c.name)
		if !matched || local != c.local || v == nil || v.Name != c.version {
			t.Errorf("%s: version %v, local %v, matched %v", c.name, v, local, matched)
		}
	}
	anon, err := Parse("x.map", "{ global: f*; local: *; };")
	if err != nil {
		t.Fatal(err)
	}
	if v, local, _ := anon.Match("g"); v != nil || !local {
		t.Errorf("anonymous: g %v %v", v, local)
	}
	for _, bad := range []string{"V { global: a ", "V { extern \"Java\" { f; }; };", "V { extern \"C++\" { ns::f; ", "V { a b; };"} {
		if _, err := Parse("bad.map", bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestMatchCxx matches the demangled names of C++ symbols, as GNU ld
// does with extern "C++": quoted names exactly, parameters included,
// patterns as globs; a C rule still sees the mangled name.
func TestMatchCxx(t *testing.T) {
	s, err := Parse("cxx.map", `
LIB_1 {
  global:
    extern "C++" {
      "ns::f(int)";
      ns::Widget::*;
      "std::vector<int, std::allocator<int> >::size() const";
    };
    extern "C" { c_api; };
    _Z5plainv;
  local: *;
};
`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		local bool
	}{
		{"_ZN2ns1fEi", false},           // ns::f(int)
		{"_ZN2ns1fEd", true},            // ns::f(double): not the one named
		{"_ZN2ns6Widget4drawEv", false}, // ns::Widget::draw()
		{"_ZN2ns6WidgetC2Ev", false},    // ns::Widget::Widget()
		{"_ZNKSt6vectorIiSaIiEE4sizeEv", false},
		{"c_api", false},
		{"_Z5plainv", false}, // a C rule: the mangled name itself
		{"_Z5otherv", true},
	} {
		v, local, matched := s.Match(c.name)
		if !matched || local != c.local || v == nil || v.Name != "LIB_1" {
			t.Errorf("%s: version %v, local %v, matched %v; want local %v", c.name, v, local, matched, c.local)
		}
	}
}
