; First boot: an exception with an empty IDT, which escalates to a triple
; fault (a shutdown), which resets the machine. Second boot: debug-exit with
; the boot count (2 -> petrel exits with status 5). Counts boots in CMOS 0x41.
%include "common.inc"
	mov al, 0x41
	call cmos_read
	inc al
	mov bl, al
	mov ah, 0x41
	call cmos_write
	PUTS `triple_fault boot `
	mov al, bl
	add al, '0'
	mov dx, COM1
	out dx, al
	PUTS `\n`
	cmp bl, 2
	jae .done
	lidt [empty_idt]
	ud2
.done:
	mov al, bl
	mov dx, DEBUG_EXIT
	out dx, al
.hang:
	cli
	hlt
	jmp .hang
empty_idt:
	dw 0
	dq 0
%include "lib.inc"
