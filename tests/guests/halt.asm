; A Multiboot kernel that prints one line and halts with interrupts off, so
; the VM stays alive until petrel is told to stop (console quit, signals).
bits 32
org 0x100000
MB_FLAGS equ (1 << 16)
header:
	dd 0x1badb002
	dd MB_FLAGS
	dd -(0x1badb002 + MB_FLAGS)
	dd header, header, load_end, load_end, start
start:
	mov esi, msg
	mov ecx, msg_end - msg
	mov dx, 0x3f8
	rep outsb
.hang:
	cli
	hlt
	jmp .hang
msg: db `halt guest ready\n`
msg_end:
load_end:
