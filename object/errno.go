package object

import (
	"errors"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// ErrorText words an error as glibc's strerror does: a system error
// starts with a capital ("No such file or directory"), unlike Go's.
func ErrorText(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err.Error()
	}
	s := errno.Error()
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}
