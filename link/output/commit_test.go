package output

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCommitOverLargeOutput replaces a large old output: the new one is
// in place at once, the old one's blocks are freed by a process of its
// own (no file of ours is left once it is done), and an old output with
// another name keeps its contents under that name.
func TestCommitOverLargeOutput(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	other := filepath.Join(dir, "other-name")
	old := bytes.Repeat([]byte{'o'}, largeOutput)
	for _, linked := range []bool{false, true} {
		if err := os.WriteFile(path, old, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Remove(other)
		if linked {
			if err := os.Link(path, other); err != nil {
				t.Fatal(err)
			}
		}
		f, data, err := Create(path, 4096)
		if err != nil {
			t.Fatal(err)
		}
		copy(data, "new output")
		if err := f.Commit(); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.HasPrefix(got, []byte("new output")) || len(got) != 4096 {
			t.Fatalf("linked=%v: the output after Commit: %d bytes %.10q, %v", linked, len(got), got, err)
		}
		if linked {
			if kept, err := os.ReadFile(other); err != nil || !bytes.Equal(kept, old) {
				t.Errorf("the old output's other name lost its contents: %d bytes, %v", len(kept), err)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			entries, _ := os.ReadDir(dir)
			var left []string
			for _, e := range entries {
				if strings.Contains(e.Name(), ".ldgo-") {
					left = append(left, e.Name())
				}
			}
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("linked=%v: left behind: %v", linked, left)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
