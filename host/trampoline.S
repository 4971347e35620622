// The lazy-binding trampoline and the small routines programs call.

#include "state.h"

	.text

// ldgo_plt_trampoline is GOT[2] of every lazily bound object. PLT0 pushed
// GOT[1] (the object's struct ldgo_lazy) above the PLT stub's relocation
// index: [rsp] = object, [rsp+8] = index. The argument registers and the
// whole vector state are saved around the resolver, as glibc's
// _dl_runtime_resolve_xsavec does.
	.globl ldgo_plt_trampoline
	.hidden ldgo_plt_trampoline
	.type ldgo_plt_trampoline, @function
	.p2align 4
ldgo_plt_trampoline:
	.cfi_startproc
	.cfi_adjust_cfa_offset 16
	endbr64
	pushq %rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbx, 0
	movq %rsp, %rbx
	.cfi_def_cfa_register %rbx
	SAVE_STATE
	movq 8(%rbx), %rdi
	movq 16(%rbx), %rsi
	call ldgo_lazy_fixup
	movq %rax, %r11
	RESTORE_STATE
	movq %rbx, %rsp
	.cfi_def_cfa_register %rsp
	popq %rbx
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbx
	addq $16, %rsp
	.cfi_adjust_cfa_offset -16
	jmp *%r11
	.cfi_endproc
	.size ldgo_plt_trampoline, .-ldgo_plt_trampoline

// ldgo_tls_get_addr is __tls_get_addr for the program: callers may not
// align the stack (GCC PR 58066), so it is aligned here.
	.globl ldgo_tls_get_addr
	.hidden ldgo_tls_get_addr
	.type ldgo_tls_get_addr, @function
	.p2align 4
ldgo_tls_get_addr:
	.cfi_startproc
	endbr64
	pushq %rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	movq %rsp, %rbp
	.cfi_def_cfa_register %rbp
	andq $-16, %rsp
	call ldgo_tls_get_addr_c
	movq %rbp, %rsp
	.cfi_def_cfa_register %rsp
	popq %rbp
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbp
	ret
	.cfi_endproc
	.size ldgo_tls_get_addr, .-ldgo_tls_get_addr

// TLS descriptors for static TLS: the argument is the offset from the
// thread pointer (glibc's _dl_tlsdesc_return).
	.globl ldgo_tlsdesc_static
	.hidden ldgo_tlsdesc_static
	.type ldgo_tlsdesc_static, @function
	.p2align 4
ldgo_tlsdesc_static:
	.cfi_startproc
	endbr64
	movq 8(%rax), %rax
	ret
	.cfi_endproc
	.size ldgo_tlsdesc_static, .-ldgo_tlsdesc_static

// An unresolved weak TLS reference: the address is the addend itself
// (glibc's _dl_tlsdesc_undefweak).
	.globl ldgo_tlsdesc_undefweak
	.hidden ldgo_tlsdesc_undefweak
	.type ldgo_tlsdesc_undefweak, @function
	.p2align 4
ldgo_tlsdesc_undefweak:
	.cfi_startproc
	endbr64
	movq 8(%rax), %rax
	subq %fs:0, %rax
	ret
	.cfi_endproc
	.size ldgo_tlsdesc_undefweak, .-ldgo_tlsdesc_undefweak

// TLS descriptors for a block allocated per thread: the argument is a
// tls_index {module, offset}. The descriptor's caller expects every
// register but rax kept, the vector state included, so the slow path
// into C is wrapped as the PLT trampoline is.
	.globl ldgo_tlsdesc_dynamic
	.hidden ldgo_tlsdesc_dynamic
	.type ldgo_tlsdesc_dynamic, @function
	.p2align 4
ldgo_tlsdesc_dynamic:
	.cfi_startproc
	endbr64
	pushq %rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbx, 0
	pushq %r11
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r11, 0
	movq %rsp, %rbx
	.cfi_def_cfa_register %rbx
	SAVE_STATE
	movq 0(%rsp), %rax
	movq 8(%rax), %rdi
	call ldgo_tls_get_addr_c
	subq %fs:0, %rax
	movq %rax, 0(%rsp)
	RESTORE_STATE
	movq %rbx, %rsp
	.cfi_def_cfa_register %rsp
	popq %r11
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r11
	popq %rbx
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbx
	ret
	.cfi_endproc
	.size ldgo_tlsdesc_dynamic, .-ldgo_tlsdesc_dynamic

// ldgo_jump(entry, sp) enters the program's entry point with the stack
// pointer at its initial stack (argc first), as the kernel does.
	.globl ldgo_jump
	.hidden ldgo_jump
	.type ldgo_jump, @function
	.p2align 4
ldgo_jump:
	movq %rsi, %rsp
	movq %rdi, %r11
	xorl %eax, %eax
	xorl %ebx, %ebx
	xorl %ecx, %ecx
	xorl %edx, %edx
	xorl %esi, %esi
	xorl %edi, %edi
	xorl %ebp, %ebp
	xorl %r8d, %r8d
	xorl %r9d, %r9d
	xorl %r10d, %r10d
	jmp *%r11
	.size ldgo_jump, .-ldgo_jump

	.section .note.GNU-stack,"",@progbits
