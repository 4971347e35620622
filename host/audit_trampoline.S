// The PLT trampoline of LD_AUDIT's la_pltenter and la_pltexit: GOT[2] of
// every lazily bound object when an audit library has either, as glibc's
// _dl_runtime_profile. The GOT is never written, so every call comes here:
// the argument registers go into a La_x86_64_regs for la_pltenter (and
// back from it, as it may change them); when la_pltenter asks for
// la_pltexit (a frame size not negative), the function is called with a
// copy of that many bytes of the caller's stack arguments, and its return
// values (rax, rdx, xmm0, xmm1, st0, st1) go through a La_x86_64_retval
// for la_pltexit before the caller gets them.

#include "state.h"

// Below the saved state: La_x86_64_regs (768 bytes), then the frame size
// la_pltenter asked for and the address to call.
#define REGS 832
#define FRAMESIZE 768
#define TARGET 776
// La_x86_64_retval (240 bytes), then which x87 registers it holds.
#define RETVAL 256
#define X87 240

// COPY_WORD copies the word at from(%rsp) (in La_x86_64_regs) to
// to(%r11) (in the saved state).
	.macro COPY_WORD from, to
	movq \from(%rsp), %rax
	movq %rax, \to(%r11)
	.endm

	.text
	.globl ldgo_audit_trampoline
	.hidden ldgo_audit_trampoline
	.type ldgo_audit_trampoline, @function
	.p2align 4
ldgo_audit_trampoline:
	.cfi_startproc
	.cfi_adjust_cfa_offset 16
	endbr64
	pushq %rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbx, 0
	// [rbx+8] = the object's struct ldgo_lazy, [rbx+16] = the slot,
	// [rbx+24] = the return address, the stack arguments above.
	movq %rsp, %rbx
	.cfi_def_cfa_register %rbx
	SAVE_STATE
	// The registers as the call left them, from the saved state (saving
	// the vector state took rax and rdx).
	movq 16(%rsp), %rdx
	subq $REGS, %rsp
	movq %rdx, 0(%rsp)
	movq %r8, 8(%rsp)
	movq %r9, 16(%rsp)
	movq %rcx, 24(%rsp)
	movq %rsi, 32(%rsp)
	movq %rdi, 40(%rsp)
	movq %rbp, 48(%rsp)
	leaq 24(%rbx), %rax
	movq %rax, 56(%rsp)
	.irp i,0,1,2,3,4,5,6,7
	movaps %xmm\i, 64+16*\i(%rsp)   // lr_xmm
	movaps %xmm\i, 192+64*\i(%rsp)  // lr_vector, its XMM part
	.endr
	movq 8(%rbx), %rdi
	movq 16(%rbx), %rsi
	movq %rsp, %rdx
	leaq FRAMESIZE(%rsp), %rcx
	call ldgo_audit_plt_enter
	movq %rax, TARGET(%rsp)

	// The registers as la_pltenter left them, into the saved state.
	leaq REGS(%rsp), %r11
	COPY_WORD 0, 16   // rdx
	COPY_WORD 8, 40   // r8
	COPY_WORD 16, 48  // r9
	COPY_WORD 24, 8   // rcx
	COPY_WORD 32, 24  // rsi
	COPY_WORD 40, 32  // rdi
	.irp i,0,1,2,3,4,5,6,7
	movaps 64+16*\i(%rsp), %xmm0
	movaps %xmm0, 64+160+16*\i(%r11)  // the saved XMM registers
	.endr
	// xrstor loads the XMM registers only if the header says they are
	// in use (XSTATE_BV bit 1).
	cmpl $0, ldgo_xsave_mode(%rip)
	je 6f
	orq $2, 64+512(%r11)
6:
	cmpq $0, FRAMESIZE(%rsp)
	jge 7f

	// No la_pltexit: on to the function.
	movq TARGET(%rsp), %r11
	addq $REGS, %rsp
	RESTORE_STATE
	movq %rbx, %rsp
	.cfi_remember_state
	.cfi_def_cfa_register %rsp
	popq %rbx
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbx
	addq $16, %rsp
	.cfi_adjust_cfa_offset -16
	jmp *%r11

7:
	.cfi_restore_state
	// Call it, with a copy of the stack arguments, 16-aligned.
	movq FRAMESIZE(%rsp), %rcx
	addq $8, %rcx
	andq $-16, %rcx
	subq %rcx, %rsp
	leaq 32(%rbx), %rsi
	movq %rsp, %rdi
	rep movsb
	movq %rbx, %r11
	andq $-64, %r11
	subq ldgo_xsave_frame(%rip), %r11
	RESTORE_STATE %r11
	call *TARGET-REGS(%r11)

	// Its results, for la_pltexit.
	movq %rbx, %r11
	andq $-64, %r11
	subq ldgo_xsave_frame(%rip), %r11
	leaq -REGS-RETVAL(%r11), %rsp
	movq %rax, 0(%rsp)
	movq %rdx, 8(%rsp)
	movaps %xmm0, 16(%rsp)
	movaps %xmm1, 32(%rsp)
	movaps %xmm0, 80(%rsp)
	movaps %xmm1, 144(%rsp)
	movl $0, X87(%rsp)
	// st0 and st1, when the function left them: fxam says empty with
	// C3 and C0 set, C2 clear.
	fxam
	fnstsw %ax
	andw $0x4500, %ax
	cmpw $0x4100, %ax
	je 1f
	fstpt 48(%rsp)
	orl $1, X87(%rsp)
	fxam
	fnstsw %ax
	andw $0x4500, %ax
	cmpw $0x4100, %ax
	je 1f
	fstpt 64(%rsp)
	orl $2, X87(%rsp)
1:
	movq 8(%rbx), %rdi
	movq 16(%rbx), %rsi
	leaq RETVAL(%rsp), %rdx
	movq %rsp, %rcx
	call ldgo_audit_plt_exit
	testl $2, X87(%rsp)
	jz 2f
	fldt 64(%rsp)
2:	testl $1, X87(%rsp)
	jz 3f
	fldt 48(%rsp)
3:
	movq 0(%rsp), %rax
	movq 8(%rsp), %rdx
	movaps 16(%rsp), %xmm0
	movaps 32(%rsp), %xmm1
	movq %rbx, %rsp
	.cfi_def_cfa_register %rsp
	popq %rbx
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbx
	addq $16, %rsp
	.cfi_adjust_cfa_offset -16
	ret
	.cfi_endproc
	.size ldgo_audit_trampoline, .-ldgo_audit_trampoline

	.section .note.GNU-stack,"",@progbits
