package resolve

import (
	"testing"

	"github.com/ldgo/ldgo/object"
)

func TestSatisfied(t *testing.T) {
	v2 := &object.Version{Name: "V2"}
	for _, c := range []struct {
		name string
		def  shlibDef
		ref  *object.Version
		want bool
	}{
		{"unversioned", shlibDef{}, nil, true},
		{"default version, unversioned reference", shlibDef{version: "V1", index: 2}, nil, true},
		{"default version, other version named", shlibDef{version: "V1", index: 2}, v2, true},
		{"hidden version named", shlibDef{version: "V2", index: 3, hidden: true}, v2, true},
		{"hidden version not named", shlibDef{version: "V1", index: 3, hidden: true}, v2, false},
		{"hidden first version, unversioned reference", shlibDef{version: "V1", index: 2, hidden: true}, nil, true},
		{"hidden later version, unversioned reference", shlibDef{version: "V3", index: 4, hidden: true}, nil, false},
	} {
		if got := satisfied(c.def, c.ref); got != c.want {
			t.Errorf("%s: satisfied = %v, want %v", c.name, got, c.want)
		}
	}
}
