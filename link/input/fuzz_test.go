package input_test

import (
	"errors"
	"testing"

	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/reloc"
)

// FuzzParseObject reads arbitrary bytes as a relocatable object and, when
// they read, uses everything the link uses as it does: nothing may
// panic, and a failure is an *input.Error naming the file. Seeds: gcc's
// objects, whole and cut, besides testdata/fuzz/FuzzParseObject.
func FuzzParseObject(f *testing.F) {
	for _, name := range []string{"obj.o", "a_member_with_a_long_name.o"} {
		data := read(f, name)
		for _, n := range []int{len(data), len(data) / 2, 64, len(data) - 1} {
			f.Add(data[:n])
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := input.ParseObject("fuzz.o", data)
		if err != nil {
			var ie *input.Error
			if !errors.As(err, &ie) || ie.File != "fuzz.o" {
				t.Fatalf("error %q (%T) does not name fuzz.o", err, err)
			}
			return
		}
		useObject(t, o)
	})
}

// useObject touches what the passes after reading rely on having been
// checked.
func useObject(t *testing.T, o *input.Object) {
	for _, s := range o.Symbols {
		if s.Defined() && !s.Absolute() && !s.Common() && int(s.Shndx) >= len(o.Sections) {
			t.Fatalf("symbol %q in section %d of %d", s.Name, s.Shndx, len(o.Sections))
		}
	}
	for _, s := range o.Sections {
		if s == nil {
			continue
		}
		if s.Data != nil && uint64(len(s.Data)) != s.Size {
			t.Fatalf("section %s: %d bytes of %d", s.Name, len(s.Data), s.Size)
		}
		for i := 0; i < s.Relocs.Len(); i++ {
			r := s.Relocs.At(i)
			st, ok := reloc.Static(r.Type)
			if !ok {
				t.Fatalf("relocation type %v accepted", r.Type)
			}
			_ = o.Symbols[r.Sym]
			if st.Size > 0 {
				_ = st.Read(s.Data[r.Off : r.Off+uint64(st.Size)])
			}
		}
		for _, rec := range s.EhRecords {
			_ = s.Data[rec.Off : rec.Off+rec.Size]
			if rec.RelocLo > rec.RelocHi || rec.RelocHi > s.Relocs.Len() {
				t.Fatalf("record relocations %d..%d of %d", rec.RelocLo, rec.RelocHi, s.Relocs.Len())
			}
		}
	}
	for _, g := range o.Groups {
		for _, m := range g.Members {
			_ = o.Sections[m]
		}
	}
}

// FuzzParseArchive reads arbitrary bytes as an ar archive, then every
// member its index names and every member in order. Seeds: archives made
// by ar, GNU and thin.
func FuzzParseArchive(f *testing.F) {
	for _, name := range []string{"lib.a", "thin.a"} {
		data := read(f, name)
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !input.IsArchive(data) {
			return
		}
		a, err := input.ParseArchive("fuzz.a", data)
		if err != nil {
			checkFuzzError(t, err)
			return
		}
		if a.Thin {
			// Thin members are files: not the fuzzer's to name.
			return
		}
		for _, e := range a.Index {
			m, err := a.Member(e.Member)
			if err != nil {
				checkFuzzError(t, err)
				continue
			}
			if o, err := input.ParseObject(a.ObjectName(m), m.Data); err == nil {
				useObject(t, o)
			}
		}
		if _, err := a.Members(); err != nil {
			checkFuzzError(t, err)
		}
	})
}

func checkFuzzError(t *testing.T, err error) {
	var ie *input.Error
	if !errors.As(err, &ie) || ie.File != "fuzz.a" {
		t.Fatalf("error %q (%T) does not name fuzz.a", err, err)
	}
}
