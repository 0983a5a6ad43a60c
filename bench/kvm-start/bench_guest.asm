; The start-up benchmark's guest: a Multiboot (v1, a.out kludge) kernel that
; both petrel and QEMU's -kernel loader accept. Entered in 32-bit protected
; mode; prints one line on COM1 and leaves through isa-debug-exit (port 0xf4)
; with value 0, so either VMM exits with status 1 at once. Built with -DHANG
; it halts instead, so the benchmark can read the VMM's memory at rest.
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
%ifndef HANG
	mov dx, 0xf4
	xor eax, eax
	out dx, al
%endif
.hang:
	cli
	hlt
	jmp .hang
msg: db `hello from the benchmark guest\n`
msg_end:
load_end:
