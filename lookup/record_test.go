package lookup_test

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/internal/testelf"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
)

// bindAll relocates prog's objects, binding every PLT slot now, with the
// Linker prepared by prepare, and returns the bindings made (as glibc's
// LD_DEBUG=bindings lines), the number of lookups counted, and the
// Linker.
func bindAll(t *testing.T, prog, libDir string, prepare func(l *lookup.Linker, maps []*linkmap.Map)) ([]string, uint64, *lookup.Linker) {
	t.Helper()
	a, err := analyze.Load(prog, analyze.Options{LibraryPath: libDir, PreloadFile: "-"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	var maps []*linkmap.Map // by serial
	for _, m := range a.NS.Chain {
		for uint64(len(maps)) <= m.Serial {
			maps = append(maps, nil)
		}
		maps[m.Serial] = m
	}
	prepare(&a.NS.Linker, maps)
	res := a.Bind(true)
	if len(res.Problems) > 0 {
		t.Fatal(res.Problems[0].Err)
	}
	var lines []string
	for _, b := range res.Bindings {
		lines = append(lines, lookup.BindingLine(b.Ref.DisplayName(prog), b.Def.DisplayName(prog), b.Name, b.Version, b.Protected))
	}
	return lines, res.Stats.Lookups, &a.NS.Linker
}

// TestRecordReplay: the bindings a relocation pass records, replayed over
// the same objects, are the same bindings, made without a search and
// counted as glibc counts its lookups; a recorded answer that names an
// object that is not there is looked up instead.
func TestRecordReplay(t *testing.T) {
	t.Parallel()
	d := testelf.New(t)
	d.Build("librec.so", `
#include <stdio.h>
int shared = 1;
extern int weak_missing __attribute__((weak));
int *lib(void) { printf("%p\n", (void *)&weak_missing); return &shared; }
`)
	prog := d.Build("main", `
#include <stdio.h>
extern int shared;
int *lib(void);
int main(void) { printf("%d %d\n", shared, lib() == &shared); return 0; }
`, "-lrec")

	searchedFirst := 0
	want, lookups, first := bindAll(t, prog, d.Path, func(l *lookup.Linker, _ []*linkmap.Map) {
		l.Recording = true
		l.OnSearch = func(string, *linkmap.Map) { searchedFirst++ }
	})
	record := first.Record
	if len(want) < 5 || record.Len() < len(want) {
		t.Fatalf("%d bindings, %d recorded", len(want), record.Len())
	}

	// LD_DEBUG=symbols is shown the searches the replayed bindings stand
	// for, yet none is made.
	shown := 0
	got, replayedLookups, replay := bindAll(t, prog, d.Path, func(l *lookup.Linker, maps []*linkmap.Map) {
		l.Replay, l.Maps = record, maps
		l.OnSearch = func(string, *linkmap.Map) { shown++ }
	})
	if !slices.Equal(got, want) {
		t.Errorf("replayed bindings\n\t%q\nrecorded\n\t%q", got, want)
	}
	if shown != searchedFirst || first.Searched == 0 {
		t.Errorf("OnSearch shown %d objects for the replayed bindings; the recording run searched %d (counted %d)", shown, searchedFirst, first.Searched)
	}
	if searched := replay.Searched; searched != 0 || replay.Replayed == 0 || replayedLookups != lookups {
		t.Errorf("%d objects searched, %d of %d recorded answers replayed, %d lookups counted, %d recorded", searched, replay.Replayed, record.Len(), replayedLookups, lookups)
	}

	// Every answer names an object past the last: none is taken.
	damaged := lookup.Record(bytes.Clone(record))
	for i := 0; i < damaged.Len(); i++ {
		def := damaged[i*lookup.RecordSize+16:] // after the reference: serial, symbol, entry
		if binary.LittleEndian.Uint32(def) != 0 {
			binary.LittleEndian.PutUint32(def, 1<<31)
		}
	}
	got, _, fallback := bindAll(t, prog, d.Path, func(l *lookup.Linker, maps []*linkmap.Map) {
		l.Replay, l.Maps = damaged, maps
	})
	if !slices.Equal(got, want) {
		t.Errorf("bindings with a damaged record\n\t%q\nwant\n\t%q", got, want)
	}
	if fallback.Searched == 0 {
		t.Error("the answers naming missing objects were taken without a search")
	}
}
