package plan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"reflect"
	"strings"
	"testing"

	"github.com/ldgo/ldgo/object"
)

// sample is a small plan with every kind of entry.
func sample() *Plan {
	seg := []Segment{
		{Off: 0, Vaddr: 0, Filesz: 0x1000, Memsz: 0x1000, Prot: 5},
		{Off: 0x1000, Vaddr: 0x3000, Filesz: 0x200, Memsz: 0x800, Prot: 6},
	}
	id := object.Identity{FileStatus: object.FileStatus{ID: object.FileID{Dev: 2049, Ino: 77}, Size: 0x1200, Mtime: 1e18, Ctime: -5}, Content: "build-id:0123456789abcdef"}
	return &Plan{
		Program:  "/usr/bin/prog",
		Search:   []string{"library-path=", "bind-now=false"},
		Progname: "prog",
		Objects: []Object{
			{Path: "/usr/bin/prog", ID: id, Kind: Program, Segments: seg, Relro: Range{0x3000, 0x100}, Lazy: true},
			{Path: "/lib/libx.so", ID: id, Kind: Library, Segments: seg, TLS: TLS{ModID: 2, Offset: 0x40, Static: true}, TextRel: true},
			{Path: "/lib64/ld-linux-x86-64.so.2", Kind: Rtld, Segments: seg},
			{Path: object.VDSOName, Kind: VDSO, ID: object.Identity{Content: "dynamic:ff"}},
		},
		Writes: []Write{
			{Object: 0, Off: 0x3000, Value: Target{Kind: InObject, Object: 1, Off: 0x10}},
			{Object: 0, Off: 0x3008, Value: Target{Kind: Absolute, Off: 1<<64 - 16}},
			{Object: 1, Off: 0x10, Value: Target{Kind: Executor, Off: uint64(TLSDescStatic)}},
			{Object: 1, Off: 0x3010, Value: Target{Kind: TLSIndex, Object: 1, Off: 8}},
			{Object: 1, Off: 0x3018, Value: Target{Kind: IFunc, Object: 1, Off: 0x400}},
			{Object: 1, Off: 0x3020, Value: Target{Kind: TLSOffset, Object: 1, Off: 4}},
			{Object: 1, Off: 0x3028, Value: Target{Kind: TLSModule, Object: 1}},
		},
		Lazy: []Lazy{
			{Object: 0, Slot: 0, Off: 0x3100, Target: Target{Kind: InObject, Object: 1, Off: 0x500}},
			{Object: 0, Slot: 1, Off: 0x3108, Target: Target{Kind: Unresolved}, Err: "prog: symbol lookup error: undefined symbol: f"},
		},
		Init:     []Fn{{Object: 1, Off: 0x20}, {Object: 1, Off: 0x3020, Count: 2}},
		Fini:     []Fn{{Object: 1, Off: 0x3030, Count: 1}},
		Entry:    0x100,
		Phdr:     0x40,
		Phnum:    4,
		Names:    []NameSlot{{Object: 1, Off: 0x3040, Kind: ShortName}, {Object: 0, Off: 0x3048, Kind: Environ}},
		Warnings: []Warning{{Msg: "./prog: Symbol `arr' has different size in shared object, consider re-linking"}, {Msg: "./prog: Symbol `tab' has different size in shared object, consider re-linking", Verbose: true}},
	}
}

func TestRoundTrip(t *testing.T) {
	p := sample()
	b := Encode(p)
	q, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, q) {
		t.Errorf("decoded\n%+v\nencoded\n%+v", q, p)
	}
	if !bytes.Equal(Encode(q), b) {
		t.Error("encoding the decoded plan gives other bytes")
	}
}

// reseal replaces b's checksum by the right one, so that damage past the
// checksum reaches the decoder.
func reseal(b []byte) []byte {
	b = bytes.Clone(b)
	return binary.LittleEndian.AppendUint32(b[:len(b)-4], crc32.ChecksumIEEE(b[:len(b)-4]))
}

func TestDecodeRefuses(t *testing.T) {
	good := Encode(sample())
	bad := func(f func(p *Plan)) []byte {
		p := sample()
		f(p)
		return Encode(p)
	}
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "no magic"},
		{"another version", append([]byte("ldgo launch plan 1\n"), good[len(magic):]...), "no magic"},
		{"a byte changed", func() []byte { b := bytes.Clone(good); b[len(b)/2] ^= 1; return b }(), "checksum"},
		{"trailing bytes", reseal(append(bytes.Clone(good[:len(good)-4]), 0, 0, 0, 0, 0)), "after the plan"},
		{"a count larger than the file", reseal(append([]byte(magic+"\x00\xff\xff\xff\xff\x0f"), 0, 0, 0, 0)), "a list of"},
		{"no program first", bad(func(p *Plan) { p.Objects[0].Kind = Library }), "not the program"},
		{"two programs", bad(func(p *Plan) { p.Objects[1].Kind = Program }), "a second program"},
		{"write to another object", bad(func(p *Plan) { p.Writes[0].Object = 9 }), "object 9 of 4"},
		{"write outside its segments", bad(func(p *Plan) { p.Writes[0].Off = 0x37fc }), "outside every writable segment"},
		{"write to read-only text", bad(func(p *Plan) { p.Writes[0].Off = 0x10 }), "outside every writable segment"},
		{"target in no object", bad(func(p *Plan) { p.Writes[0].Value.Object = 4 }), "target in object 4"},
		{"TLS index of no module", bad(func(p *Plan) { p.Writes[3].Value.Object = 0 }), "has no TLS"},
		{"TLS offset of no static block", bad(func(p *Plan) { p.Objects[1].TLS.Static = false; p.Writes[3].Value.Kind = TLSOffset }), "has no static TLS"},
		{"unknown executor function", bad(func(p *Plan) { p.Writes[2].Value.Off = 7 }), "unknown executor function"},
		{"unresolved write", bad(func(p *Plan) { p.Writes[1].Value.Kind = Unresolved }), "unresolved target outside"},
		{"lazy slot of a bound object", bad(func(p *Plan) { p.Lazy[0].Object = 1; p.Lazy[0].Off = 0x3100 }), "not bound lazily"},
		{"function outside", bad(func(p *Plan) { p.Init[1].Count = 1 << 20 }), "function 1"},
		{"entry outside", bad(func(p *Plan) { p.Entry = 0x5000 }), "entry point"},
		{"program headers outside", bad(func(p *Plan) { p.Phnum = 100 }), "program headers"},
		{"a name in read-only data", bad(func(p *Plan) { p.Names[1].Off = 0x100 }), "name 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.b)
			if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Decode: %v, want an ErrFormat saying %q", err, tc.want)
			}
		})
	}
}

// TestTruncated decodes every prefix of a plan, checksum resealed or
// not: each is refused, none panics.
func TestTruncated(t *testing.T) {
	good := Encode(sample())
	for n := range len(good) {
		cut := [][]byte{good[:n]}
		if n != len(good)-4 {
			// Resealed, a cut at the checksum is the plan itself.
			cut = append(cut, reseal(append(bytes.Clone(good[:n]), 0, 0, 0, 0)))
		}
		for _, b := range cut {
			if _, err := Decode(b); err == nil {
				t.Fatalf("a plan cut at %d of %d bytes was taken", n, len(good))
			}
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(sample()))
	f.Add(Encode(&Plan{Objects: []Object{{Kind: Program, Segments: []Segment{{Memsz: 1}}}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("an error that is not ErrFormat: %v", err)
			}
			// Past the checksum, so that the fuzzer reaches the
			// fields.
			if len(b) >= 4 {
				Decode(reseal(b))
			}
			return
		}
		q, err := Decode(Encode(p))
		if err != nil || !reflect.DeepEqual(p, q) {
			t.Fatalf("a decoded plan does not round-trip: %v", err)
		}
	})
}
