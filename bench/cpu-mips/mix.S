/*
 * Guest code for the cpu-mips benchmark. Each routine is position
 * independent, touches only its data buffer (rdi) and the stack, takes an
 * iteration count in rsi and returns with RET, so the same bytes run
 * natively (called from C) and in the engine (copied into guest RAM).
 */
	.text
	.globl mix_int, mix_int_end, mix_mem, mix_mem_end, mix_branch, mix_branch_end
	.globl mix_sse, mix_sse_end

/* Integer: ALU, shifts, LEA, IMUL, flags and a loop branch. */
mix_int:
	mov %rsi, %rcx
	xor %eax, %eax
	mov $1, %edx
	mov $0x12345, %r8d
1:	add %rdx, %rax
	lea 7(%rax,%rdx,2), %r9
	xor %rcx, %rdx
	imul $13, %rdx, %rdx
	shl $3, %rax
	sub %r9, %r8
	and $0xffff, %r8
	or %r8, %rax
	ror $7, %rdx
	mov %eax, %r10d
	adc %r10, %rdx
	cmp %rdx, %rax
	setb %r11b
	movzx %r11b, %r11d
	add %r11, %r8
	dec %rcx
	jnz 1b
	ret
mix_int_end:

/* Memory: loads, stores and read-modify-write over 8 KiB. */
mix_mem:
	mov %rsi, %rcx
	xor %eax, %eax
2:	xor %edx, %edx
3:	mov (%rdi,%rdx,8), %r8
	add %r8, %rax
	lea 1(%rax), %r9
	mov %r9, 8(%rdi,%rdx,8)
	addl $3, 16(%rdi,%rdx,8)
	movzwl 4(%rdi,%rdx,8), %r10d
	xor %r10, %rax
	add $4, %edx
	cmp $1000, %edx
	jb 3b
	dec %rcx
	jnz 2b
	ret
mix_mem_end:

/* Branches: data-dependent conditional branches and call/ret. */
mix_branch:
	mov %rsi, %rcx
	mov $0x9e3779b9, %eax
	xor %r8d, %r8d
4:	mov %eax, %edx
	shr $13, %edx
	xor %edx, %eax
	test $1, %al
	jz 5f
	inc %r8
	jmp 6f
5:	call 7f
6:	test $2, %al
	jnz 8f
	add $3, %r8
8:	cmp $5, %r8
	ja 9f
	add $1, %eax
9:	dec %rcx
	jnz 4b
	mov %r8, %rax
	ret
7:	add %eax, %r8d
	rol $5, %eax
	ret
mix_branch_end:

/* SSE: packed integer and float arithmetic on registers. */
mix_sse:
	mov %rsi, %rcx
	pxor %xmm0, %xmm0
	pcmpeqd %xmm1, %xmm1
	movups (%rdi), %xmm2
	movups 16(%rdi), %xmm3
10:	paddd %xmm1, %xmm0
	pxor %xmm0, %xmm2
	addps %xmm3, %xmm3
	mulps %xmm2, %xmm3
	pshufd $0x1b, %xmm0, %xmm4
	paddq %xmm4, %xmm2
	dec %rcx
	jnz 10b
	movups %xmm2, (%rdi)
	ret
mix_sse_end:
	.section .note.GNU-stack,"",@progbits
