module github.com/ldgo/ldgo

go 1.26.0

require golang.org/x/sys v0.49.0
