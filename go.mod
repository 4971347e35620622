module github.com/ldgo/ldgo

go 1.26.0

require golang.org/x/sys v0.49.0

require github.com/ianlancetaylor/demangle v0.0.0-20260724033716-83e58baca724
