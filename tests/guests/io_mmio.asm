; Unclaimed port and MMIO reads must return all ones; writes are dropped.
%include "common.inc"
	mov dx, 0x2f0          ; no device here
	mov al, 0x12
	out dx, al
	in al, dx
	cmp al, 0xff
	jne fail
	in ax, dx
	cmp ax, 0xffff
	jne fail
	in eax, dx
	cmp eax, 0xffffffff
	jne fail
	PUTS `pio ok\n`
	mov rbx, 0xd0000000    ; in the 32-bit PCI window, no BAR there
	mov dword [rbx], 0x12345678
	mov eax, [rbx]
	cmp eax, 0xffffffff
	jne fail
	mov al, [rbx + 3]
	cmp al, 0xff
	jne fail
	mov rax, [rbx + 8]
	cmp rax, -1
	jne fail
	PUTS `mmio ok\n`
	POWEROFF
fail:
	PUTS `io_mmio FAIL\n`
	EXIT 1
