// The register state the trampolines save around C calls (trampoline.S,
// audit_trampoline.S).

#define STATE_SAVE_MASK ((1 << 1) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 6) | (1 << 7))

// SAVE_STATE keeps, in a 64-aligned frame below %rsp, what a call may
// carry and a C function may clobber: rax, the argument registers and
// r10 at 0..56, the vector state (xsavec, xsave or fxsave, as the CPU has
// them) from 64 on. RESTORE_STATE puts them back from the frame at base
// (%rsp, or a register other than those it restores); the frame stays.
	.macro SAVE_STATE
	andq $-64, %rsp
	subq ldgo_xsave_frame(%rip), %rsp
	movq %rax, 0(%rsp)
	movq %rcx, 8(%rsp)
	movq %rdx, 16(%rsp)
	movq %rsi, 24(%rsp)
	movq %rdi, 32(%rsp)
	movq %r8, 40(%rsp)
	movq %r9, 48(%rsp)
	movq %r10, 56(%rsp)
	cmpl $0, ldgo_xsave_mode(%rip)
	je 1f
	movl $STATE_SAVE_MASK, %eax
	xorl %edx, %edx
	movq %rdx, 64+512(%rsp)
	movq %rdx, 64+520(%rsp)
	movq %rdx, 64+528(%rsp)
	movq %rdx, 64+536(%rsp)
	movq %rdx, 64+544(%rsp)
	movq %rdx, 64+552(%rsp)
	movq %rdx, 64+560(%rsp)
	movq %rdx, 64+568(%rsp)
	cmpl $2, ldgo_xsave_mode(%rip)
	jne 2f
	xsavec 64(%rsp)
	jmp 3f
2:	xsave 64(%rsp)
	jmp 3f
1:	fxsave 64(%rsp)
3:
	.endm

	.macro RESTORE_STATE base=%rsp
	cmpl $0, ldgo_xsave_mode(%rip)
	je 4f
	movl $STATE_SAVE_MASK, %eax
	xorl %edx, %edx
	xrstor 64(\base)
	jmp 5f
4:	fxrstor 64(\base)
5:
	movq 0(\base), %rax
	movq 8(\base), %rcx
	movq 16(\base), %rdx
	movq 24(\base), %rsi
	movq 32(\base), %rdi
	movq 40(\base), %r8
	movq 48(\base), %r9
	movq 56(\base), %r10
	.endm
