// Package link is ldgo's link editor: `ldgo link [ld options] FILES...`,
// or ldgo run under the name ld (gcc -B DIR with DIR/ld a link to ldgo).
// It takes GNU ld's command line as gcc 12 and g++ 12 pass it and writes
// PIE and non-PIE executables and shared libraries as GNU ld would; Main
// is its entry point.
//
// # Design
//
// The link is a sequence of passes, one package each, data flowing down
// the list; each pass works on what the one before left, most of them
// per file or per section on many goroutines at once:
//
//	options  ld's command line: the options, and the input files in
//	         order, each with the state (--as-needed, -Bstatic,
//	         --whole-archive, groups) at its position; @file expanded.
//	         Objects compiled with -flto are replaced by those gcc's
//	         lto-wrapper makes of them (lto.go).
//	input    every file opened by mmap and read: relocatable objects
//	         (sections, symbols, relocations, COMDAT groups, .eh_frame
//	         split into CIEs and FDEs, GNU properties), ar archives
//	         (GNU and thin; the symbol index, members read by offset),
//	         shared libraries (read by package object as the run-time
//	         linker reads them: dynamic symbols, versions, SONAME), and
//	         GNU ld scripts of the libc.so kind. Every offset, index and
//	         size later passes use is checked here, so they index
//	         without checking and bad input is an error naming the file.
//	resolve  which files are in the link and which definition each name
//	         binds to, with GNU ld's order-dependent rules (archive
//	         members extracted by need, groups rescanned, --as-needed
//	         libraries kept only if they define something needed at
//	         their position, strong over weak over common over shared,
//	         the first COMDAT group of a signature kept). Files are
//	         parsed in parallel and their global names interned into a
//	         sharded table (one *Symbol per name; File.Syms maps each
//	         symbol-table index to its *Symbol), so the walk that applies
//	         the rules only compares and assigns pointers. It then
//	         allocates common blocks, defines the link editor's own
//	         symbols (_GLOBAL_OFFSET_TABLE_, _end, __start_SEC, ...) and
//	         decides exports: what .dynsym has, what binds at run time
//	         (preemptible), at which version (package versions).
//	layout   input sections into output sections (GNU ld's default
//	         script: .text.* into .text, .init_array.N by priority, ...),
//	         then those a -T or -dT script's SECTIONS names into its own
//	         (package script parses; layout.ApplyScript places).
//	scan     every relocation decided, per file in parallel, by one
//	         function, Decide: a GOT or PLT entry, a copy relocation or
//	         canonical PLT entry for an imported symbol, a RELATIVE or
//	         symbolic dynamic relocation, a relaxation (GOTPCRELX, TLS
//	         GD/LD/IE/TLSDESC to IE/LE), or an error in GNU ld's words.
//	         Needs are recorded on the symbols atomically (no lock), and
//	         counts of dynamic relocations on the scanned sections.
//	synth    the synthetic sections, one type each as lld's: .interp,
//	         notes, .dynsym/.dynstr, .gnu.hash and .hash (object.GNUHash
//	         and SysVHash, the functions `ldgo run` looks up with),
//	         .gnu.version/_d/_r, .rela.dyn/.rela.plt, .plt, .got,
//	         .got.plt, .dynamic, .eh_frame (CIEs shared, FDEs of
//	         discarded code dropped), .eh_frame_hdr, .symtab/.strtab,
//	         .shstrtab. Sized from the scan's decisions in file order,
//	         so the output is the same bytes whatever the thread count.
//	         .rela.dyn is reserved per producer (the GOT, copies, each
//	         input section; RELATIVE ones first) for parallel writing.
//	layout   sections ordered as GNU ld orders them; segments read-only,
//	         code and data apart (-z separate-code), RELRO ending on a
//	         page boundary; addresses and file offsets assigned.
//	output   a temporary file beside the output, sized and mapped; each
//	         file's sections copied and relocated on its own goroutine
//	         (Decide again: the scan and the writer cannot disagree), each
//	         synthetic section written by itself, dynamic relocations into
//	         their reserved slots; .eh_frame_hdr from the FDEs written;
//	         the build ID (sha1 of the whole file, as GNU ld) last; then
//	         renamed over the output. On error the temporary is removed.
//
// The x86-64 relocation semantics are package reloc's, shared with the
// run-time linker: each static type's formula in the psABI's terms (S,
// A, P, G, GOT, L, Z and the TLS offsets), its field and overflow check,
// and the instruction rewrites of the relaxations.
//
// Parallel now: parsing and interning, the scan, writing. Sequential
// now, each a candidate for the next step (issue 17): the resolution
// walk (mold's per-symbol priority CAS would make it parallel, at the
// cost of GNU ld's order semantics), building the output sections, the
// synthetic tables and .symtab, .eh_frame, and the build ID (a tree hash
// would be parallel but not GNU ld's sha1).
package link
