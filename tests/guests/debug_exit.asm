; Exits through isa-debug-exit with the number at the start of the kernel
; command line (read from fw_cfg), or 0x21 when there is none.
%include "common.inc"
	mov dx, 0x510
	mov ax, 0x15           ; FW_CFG_CMDLINE_DATA
	out dx, ax
	xor ebx, ebx
	xor ecx, ecx           ; digits seen
.digit:
	mov dx, 0x511
	in al, dx
	sub al, '0'
	cmp al, 9
	ja .end
	imul ebx, ebx, 10
	movzx eax, al
	add ebx, eax
	inc ecx
	cmp ecx, 3
	jb .digit
.end:
	test ecx, ecx
	jnz .go
	mov ebx, 0x21
.go:
	PUTS `debug-exit\n`
	mov eax, ebx
	mov dx, DEBUG_EXIT
	out dx, al
.hang:
	cli
	hlt
	jmp .hang
