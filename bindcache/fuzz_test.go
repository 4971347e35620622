package bindcache

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"testing"

	"github.com/ldgo/ldgo/lookup"
)

// FuzzLoad loads arbitrary bytes as the entry of a key, once as they are
// and once sealed with a good checksum, which is what a damaged file
// rarely has and a foreign or crafted one may. Nothing may panic; an
// entry is used only when it names the key and holds whole records, as
// many as it says.
func FuzzLoad(f *testing.F) {
	k := sampleKey()
	dir := f.TempDir()
	if err := Store(dir, k, sampleRecord()); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(file(dir, k))
	if err != nil {
		f.Fatal(err)
	}
	body := good[:len(good)-4]
	for _, n := range []int{0, len(magic), len(body) - 8, len(body)} {
		f.Add(body[:n])
	}
	f.Add(good)
	other := sampleKey()
	other.Objects[1].ID.Ctime++
	f.Add(append(append([]byte(magic), other.text()...), "\n\x01\x00\x00\x00"...))

	prefix := append(append([]byte(magic), k.text()...), '\n')
	f.Fuzz(func(t *testing.T, data []byte) {
		sealed := binary.LittleEndian.AppendUint32(bytes.Clone(data), crc32.ChecksumIEEE(data))
		for _, contents := range [][]byte{data, sealed} {
			if err := os.WriteFile(file(dir, k), contents, 0o644); err != nil {
				t.Fatal(err)
			}
			e, err := Load(dir, k)
			if err != nil {
				if err != ErrNoEntry {
					t.Fatalf("Load: %v, want ErrNoEntry", err)
				}
				continue
			}
			recs := e.Bindings()
			if !bytes.HasPrefix(contents, prefix) {
				t.Errorf("entry used without the key's text: %q", contents[:min(len(contents), 64)])
			}
			if len(recs)%lookup.RecordSize != 0 {
				t.Errorf("entry of %d bytes is not whole records", len(recs))
			}
			if n := binary.LittleEndian.Uint32(contents[len(prefix):]); uint64(n) != uint64(recs.Len()) {
				t.Errorf("entry says %d records, holds %d", n, recs.Len())
			}
			e.Close()
		}
	})
}
