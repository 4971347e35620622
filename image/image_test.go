package image

import (
	"bytes"
	"runtime"
	"testing"
)

// Two segments that share a page, as a read-only segment and the data
// segment after it often do, each keep their own bytes; bss reads as zero;
// words written across a page boundary read back whole.
func TestFileImage(t *testing.T) {
	text := bytes.Repeat([]byte{0xaa}, 0x1800)
	data := bytes.Repeat([]byte{0xbb}, 0x900)
	img := NewFile()
	img.Add(Segment{Addr: 0x10000, Size: 0x1800, Data: text})
	img.Add(Segment{Addr: 0x11800, Size: 0x2000, Data: data, Writable: true})

	if err := Write64(img, 0x11800, 0x1122334455667788); err != nil {
		t.Fatal(err)
	}
	if v, _ := Read64(img, 0x11800); v != 0x1122334455667788 {
		t.Errorf("word read back as %#x", v)
	}
	// The first segment's part of the shared page is untouched.
	if v, _ := Read64(img, 0x117f8); v != 0xaaaaaaaaaaaaaaaa {
		t.Errorf("text next to the written page reads %#x", v)
	}
	// Bss past the file's bytes is zero, written or not.
	if v, _ := Read64(img, 0x12200); v != 0 {
		t.Errorf("bss reads %#x", v)
	}
	if err := Write64(img, 0x12ffc, 0x0102030405060708); err != nil {
		t.Fatal(err)
	}
	if v, _ := Read64(img, 0x12ffc); v != 0x0102030405060708 {
		t.Errorf("word across pages read back as %#x", v)
	}
	if err := Copy(img, 0x12000, 0x10000, 16); err != nil {
		t.Fatal(err)
	}
	if v, _ := Read64(img, 0x12008); v != 0xaaaaaaaaaaaaaaaa {
		t.Errorf("copied word reads %#x", v)
	}
	// The files' bytes themselves never change.
	if !bytes.Equal(data, bytes.Repeat([]byte{0xbb}, 0x900)) {
		t.Error("a write changed the segment's source bytes")
	}
}

func TestFileImageOutside(t *testing.T) {
	img := NewFile()
	img.Add(Segment{Addr: 0x1000, Size: 0x10, Data: make([]byte, 0x10)})
	for _, addr := range []uint64{0, 0xfff, 0x1009, 0x1010, ^uint64(0) - 3} {
		if err := Write64(img, addr, 1); err == nil {
			t.Errorf("write at %#x succeeded outside every segment", addr)
		}
	}
	if _, err := img.CallIFunc(0x1000); err != ErrNoExec {
		t.Errorf("CallIFunc: %v", err)
	}
}

// A segment's bss may be as large as the address space: the image costs
// memory for the pages written, and a copy across such segments (a COPY
// relocation's size is the file's word) the time and memory of the file
// bytes and the pages written.
func TestFileImageHugeBss(t *testing.T) {
	const huge = 1 << 46
	const src, dst = 0x1000_0000, 0x5000_0000_0000
	img := NewFile()
	img.Add(Segment{Addr: src, Size: huge, Data: bytes.Repeat([]byte{0xcc}, 100), Writable: true})
	img.Add(Segment{Addr: dst, Size: huge, Writable: true})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, w := range []struct{ addr, v uint64 }{
		{src + huge/2, 0x1111}, {src + huge - 8, 0x2222}, {dst + huge/4, 0x3333}, {dst + 200, 0x4444},
	} {
		if err := Write64(img, w.addr, w.v); err != nil {
			t.Fatal(err)
		}
	}
	if err := Copy(img, dst, src, huge); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if used := after.TotalAlloc - before.TotalAlloc; used > 1<<20 {
		t.Errorf("four words written and one copy allocated %d bytes", used)
	}
	for _, w := range []struct{ addr, want uint64 }{
		{dst, 0xcccccccccccccccc}, {dst + 96, 0xcccccccc}, {dst + 200, 0}, // the copy's zero over a written word
		{dst + huge/2, 0x1111}, {dst + huge - 8, 0x2222}, {dst + huge/4, 0},
		{src + huge/4, 0}, {src + huge/2, 0x1111},
	} {
		if v, err := Read64(img, w.addr); err != nil || v != w.want {
			t.Errorf("word at %#x reads %#x, %v; want %#x", w.addr, v, err, w.want)
		}
	}
}
