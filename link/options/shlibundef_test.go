package options

import (
	"strings"
	"testing"
)

func TestCheckShlibUndefined(t *testing.T) {
	for _, c := range []struct {
		args string
		want bool
	}{
		{"x.o", true},
		{"-pie x.o", true},
		{"-shared x.o", false},
		{"-r x.o", false},
		{"--allow-shlib-undefined x.o", false},
		{"-shared --no-allow-shlib-undefined x.o", true},
		{"--no-allow-shlib-undefined --allow-shlib-undefined x.o", false},
		{"-shared --allow-shlib-undefined --no-allow-shlib-undefined x.o", true},
		{"-shared --unresolved-symbols=report-all x.o", true},
		{"--unresolved-symbols=ignore-in-shared-libs x.o", false},
		{"--unresolved-symbols=ignore-in-shared-libs --no-allow-shlib-undefined x.o", true},
	} {
		o, err := Parse(strings.Fields(c.args))
		if err != nil {
			t.Fatalf("%s: %v", c.args, err)
		}
		if got := o.CheckShlibUndefined(); got != c.want {
			t.Errorf("%s: CheckShlibUndefined() = %v, want %v", c.args, got, c.want)
		}
	}
}
