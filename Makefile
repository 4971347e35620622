# Build, test and install ldgo.
#
#   make build      ./ldgo, position-independent (it must be, to run programs
#                   linked at fixed addresses)
#   make test       the test suite, as the README runs it (the ldgo run
#                   tests twice: by the engine, and by the launch plan)
#   make install    ldgo, its manual page and bash completion under PREFIX
#                   (DESTDIR is prepended, for packaging)
#   make clean

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
GO ?= go
# The go command records no revision for a build in a git worktree: say it.
REVISION ?= $(shell git describe --always --dirty 2>/dev/null)
GOFLAGS_BUILD = -buildmode=pie -trimpath -ldflags "-X main.revision=$(REVISION)"

.PHONY: build test install clean

build:
	$(GO) build $(GOFLAGS_BUILD) -o ldgo ./cmd/ldgo

# The run suite a second time through the launch plan's executor.
test:
	$(GO) test -p 2 ./...
	LDGO_TEST_PLAN=exec $(GO) test -p 2 ./cmd/ldgo

install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR)
	install -m 755 ldgo $(DESTDIR)$(BINDIR)/ldgo
	install -m 644 doc/ldgo.1 $(DESTDIR)$(MANDIR)/man1/ldgo.1
	./ldgo completion bash > $(DESTDIR)$(BASHCOMPDIR)/ldgo

clean:
	rm -f ldgo
