package output

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"testing"
)

func TestTreeHash(t *testing.T) {
	small := bytes.Repeat([]byte("ldgo"), hashChunk/4)
	if got, want := treeHash(small, 2, sha1.New), sha1.Sum(small); !bytes.Equal(got, want[:]) {
		t.Errorf("an output of one chunk: %x, want its SHA-1 %x (GNU ld's)", got, want)
	}
	large := make([]byte, 3*hashChunk+5)
	for i := range large {
		large[i] = byte(i * 7)
	}
	var concat []byte
	for _, piece := range [][]byte{large[:hashChunk], large[hashChunk : 2*hashChunk], large[2*hashChunk : 3*hashChunk], large[3*hashChunk:]} {
		s := md5.Sum(piece)
		concat = append(concat, s[:]...)
	}
	want := md5.Sum(concat)
	for _, threads := range []int{1, 2, 3, 8} {
		if got := treeHash(large, threads, md5.New); !bytes.Equal(got, want[:]) {
			t.Errorf("%d threads: %x, want the MD5 of the chunks' MD5s %x", threads, got, want)
		}
	}
	large[3*hashChunk+4]++
	if got := treeHash(large, 2, md5.New); bytes.Equal(got, want[:]) {
		t.Error("changing the last byte did not change the hash")
	}
}
