package rtld

import (
	"encoding/binary"
	"fmt"
	"os"
	"testing"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/host"
	"github.com/ldgo/ldgo/internal/testelf"
)

// TestAuxv: the program gets the auxiliary vector this process got from
// the kernel, but for what describes the program itself: its program
// headers (AT_PHDR, AT_PHENT, AT_PHNUM) and entry point (AT_ENTRY), as
// the kernel gives them to the program it starts.
func TestAuxv(t *testing.T) {
	d := testelf.New(t)
	prog := d.Build("main", `
#include <stdio.h>
#include <sys/auxv.h>
int main(void) {
	printf("%lu %lu %#lx\n", getauxval(AT_PHNUM), getauxval(AT_PHENT), getauxval(AT_ENTRY) - getauxval(AT_PHDR));
	return 0;
}
`)
	a, err := analyze.Load(prog, analyze.Options{PreloadFile: "-"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	main := a.NS.Main
	var start host.Start
	if err := setAuxv(&start, main); err != nil {
		t.Fatal(err)
	}
	got := map[uint64]uint64{}
	for _, kv := range start.Auxv {
		if _, twice := got[kv[0]]; twice && kv[0] != 0 {
			t.Errorf("entry %d given twice", kv[0])
		}
		got[kv[0]] = kv[1]
	}

	native := fmt.Sprintf("%d %d %#x\n", got[atPhnum], got[atPhent], got[atEntry]-got[atPhdr])
	if want := d.Run(nil, prog); native != want {
		t.Errorf("AT_PHNUM, AT_PHENT, AT_ENTRY - AT_PHDR: %q, the kernel gives the program %q", native, want)
	}
	if got[atEntry] != main.Base+main.Obj.Entry {
		t.Errorf("AT_ENTRY %#x, the program's entry is at %#x", got[atEntry], main.Base+main.Obj.Entry)
	}

	// The rest as the kernel gave it to this process.
	raw, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		t.Skip(err)
	}
	for i := 0; i+16 <= len(raw); i += 16 {
		k, v := binary.LittleEndian.Uint64(raw[i:]), binary.LittleEndian.Uint64(raw[i+8:])
		if k == 0 {
			break
		}
		switch k {
		case atPhdr, atPhent, atPhnum, atEntry:
			continue
		}
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("entry %d: %#x (given: %v), the kernel gave this process %#x", k, g, ok, v)
		}
		delete(got, k)
	}
	for k := range got {
		switch k {
		case 0, atPhdr, atPhent, atPhnum, atEntry:
		default:
			t.Errorf("entry %d that the kernel did not give", k)
		}
	}
}
