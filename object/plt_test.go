package object_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"testing"

	"github.com/ldgo/ldgo/object"
)

const pltLibSource = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int f(const char *s) { return printf("%zu\n", strlen(s)) + puts(s) + atoi(s) + (getenv(s) != 0); }
`

// A PLT whose stubs have been overwritten, or whose GOT entries point
// elsewhere than at stubs, decodes to a problem per slot, never a panic;
// the untouched file decodes cleanly, for both layouts.
func TestDecodePLTHostile(t *testing.T) {
	for _, tc := range []struct {
		flags  []string
		layout object.PLTLayout
	}{
		{[]string{"-shared", "-fPIC", "-fcf-protection=none"}, object.PLTLazy},
		{[]string{"-shared", "-fPIC", "-fcf-protection=full", "-Wl,-z,ibtplt"}, object.PLTIBT},
	} {
		data := gccBuild(t, pltLibSource, tc.flags...)
		f, err := elf.NewFile(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		gotplt, plt := f.Section(".got.plt"), f.Section(".plt")
		decode := func(data []byte) *object.PLT {
			t.Helper()
			o, err := object.ParseBytes("libplt.so", data)
			if err != nil {
				t.Fatal(err)
			}
			p, err := o.DecodePLT(nil)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		p := decode(data)
		if p.Layout != tc.layout || !p.PLT0OK || len(p.Slots) < 5 {
			t.Fatalf("%v: layout %v, PLT0 ok %v, %d slots", tc.flags, p.Layout, p.PLT0OK, len(p.Slots))
		}
		for _, s := range p.Slots {
			if s.Problem != "" || s.Entry == 0 {
				t.Errorf("%v: slot %+v", tc.flags, s)
			}
		}

		// Each GOT entry made to point at nothing, past the file, at
		// PLT0, at itself, at the next slot's stub.
		bad := append([]byte(nil), data...)
		first := gotplt.Offset + 24
		values := []uint64{0, 1 << 40, plt.Addr, p.Slots[0].GOT, p.Slots[1].Stub}
		for i := range p.Slots {
			binary.LittleEndian.PutUint64(bad[first+uint64(i)*8:], values[i%len(values)])
		}
		for i, s := range decode(bad).Slots {
			if s.Problem == "" {
				t.Errorf("%v: slot %d with GOT value %#x decodes: %+v", tc.flags, i, values[i%len(values)], s)
			}
		}

		// The PLT overwritten.
		bad = append([]byte(nil), data...)
		for i := plt.Offset; i < plt.Offset+plt.Size; i++ {
			bad[i] = 0xff
		}
		for i, s := range decode(bad).Slots {
			if s.Problem == "" {
				t.Errorf("%v: slot %d of an overwritten PLT decodes: %+v", tc.flags, i, s)
			}
		}
	}
}
