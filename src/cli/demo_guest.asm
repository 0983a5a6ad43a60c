; The built-in demo guest: a flat 64-bit binary (entered in long mode at its
; load address, paging identity-mapped), assembled into an object so petrel
; can embed it. Position-independent: only RIP-relative addressing.
bits 64
default rel
section .rodata
global petrel_demo_guest
global petrel_demo_guest_end
petrel_demo_guest:
	lea rsi, [msg]
	mov ecx, msg_end - msg
	mov dx, 0x3f8          ; COM1 transmit register
	rep outsb
	mov dx, 0x600          ; ACPI sleep control: SLP_EN | SLP_TYP(S5)
	mov al, 0x34
	out dx, al
	mov dx, 0xf4           ; no ACPI PM? fall back to the debug-exit port
	xor eax, eax
	out dx, al
.hang:
	cli
	hlt
	jmp .hang
msg:
	db "Hello from the Petrel demo guest!", 13, 10
msg_end:
petrel_demo_guest_end:

section .note.GNU-stack noalloc noexec nowrite progbits
