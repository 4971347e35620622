package timing

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

var sink []byte

func TestPassesNestAndMeasure(t *testing.T) {
	tm := New()
	endLoad := tm.Start("load")
	endParse := tm.Start("parse")
	sink = make([]byte, 1<<20)
	time.Sleep(2 * time.Millisecond)
	endParse()
	endLoad()
	tm.Start("write")()

	got := tm.Passes()
	want := []struct {
		name  string
		depth int
	}{{"load", 0}, {"parse", 1}, {"write", 0}}
	if len(got) != len(want) {
		t.Fatalf("passes: %+v", got)
	}
	for i, w := range want {
		if got[i].Name != w.name || got[i].Depth != w.depth {
			t.Errorf("pass %d: %q at depth %d, want %q at %d", i, got[i].Name, got[i].Depth, w.name, w.depth)
		}
	}
	if got[1].Elapsed < 2*time.Millisecond || got[0].Elapsed < got[1].Elapsed {
		t.Errorf("load took %v, parse %v: parse slept 2ms inside load", got[0].Elapsed, got[1].Elapsed)
	}
	if got[1].Alloc < 1<<20 {
		t.Errorf("parse allocated %d bytes, want at least 1 MiB", got[1].Alloc)
	}

	var out bytes.Buffer
	tm.Print(&out, "ld", 5<<20)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 || !strings.HasSuffix(lines[2], "    parse") || !strings.Contains(lines[4], "total; peak RSS 5.0 MiB") {
		t.Errorf("printed:\n%s", out.String())
	}
}

func TestNilTimerMeasuresNothing(t *testing.T) {
	var tm *Timer
	tm.Start("load")()
	if tm.Passes() != nil {
		t.Error("a nil timer has passes")
	}
	var out bytes.Buffer
	tm.Print(&out, "ld", 0)
	if out.Len() != 0 {
		t.Errorf("a nil timer printed %q", out.String())
	}
}
