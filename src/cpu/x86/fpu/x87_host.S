/*
 * Run one x87 instruction on the host's x87 with the guest's x87 state.
 *
 * Why: the host is x86-64, its x87 is the architecture being emulated, so
 * the same instruction on the same state gives the exact result, status
 * word (flags, condition codes, stack faults, rounding indicator C1) and tag
 * word by construction, for every rounding and precision mode, for
 * denormals, pseudo-denormals, unnormals, NaNs and the transcendentals.
 *
 * fpu_x87_host_run(membuf, env, index, flags):
 *   rdi  memory operand buffer (the stub addresses it as [rdi])
 *   rsi  512-byte, 16-byte aligned FXSAVE64 image: loaded with FXRSTOR
 *        before (its MXCSR is replaced by the host's), written by FXSAVE
 *        after; neither waits for pending exceptions, and FNINIT then
 *        clears the host x87 so a pending unmasked exception never reaches
 *        the host's own code. XMM registers are clobbered (caller-saved).
 *   edx  stub index: 0..511 register forms (D8+idx/64, C0+idx%64),
 *        512..575 memory forms (D8+(idx-512)/8, /reg with [rdi])
 *   rcx  NULL, or in: CF PF ZF for FCMOVcc; out: RFLAGS after (FCOMI)
 * The C caller only ever passes indexes of valid instructions, and never
 * runs a waiting instruction while an unmasked exception is pending.
 */
	.text
	.globl	fpu_x87_host_run
	.hidden	fpu_x87_host_run
	.type	fpu_x87_host_run, @function
fpu_x87_host_run:
	sub	$24, %rsp
	fnstcw	(%rsp)
	stmxcsr	8(%rsp)
	mov	8(%rsp), %eax
	mov	%eax, 24(%rsi)		/* FXRSTOR loads MXCSR too: keep the host's */
	lea	fpu_x87_stubs(%rip), %rax
	mov	%edx, %edx
	lea	(%rax,%rdx,4), %rax
	fxrstor64 (%rsi)
	test	%rcx, %rcx
	jz	1f
	pushq	(%rcx)
	popfq
	call	*%rax
	pushfq
	popq	(%rcx)
	jmp	2f
1:	call	*%rax
2:	fxsave64 (%rsi)
	fninit				/* never leave a pending exception in the host */
	fldcw	(%rsp)
	add	$24, %rsp
	ret
	.size	fpu_x87_host_run, .-fpu_x87_host_run

	.balign	16
fpu_x87_stubs:
	.set	i, 0
	.rept	512
	.byte	0xd8 + (i >> 6), 0xc0 + (i & 63), 0xc3, 0x90
	.set	i, i + 1
	.endr
	.set	i, 0
	.rept	64
	.byte	0xd8 + (i >> 3), ((i & 7) << 3) | 7, 0xc3, 0x90
	.set	i, i + 1
	.endr

	.section .note.GNU-stack,"",@progbits
