; Counts boots in CMOS RAM byte 0x40 (kept across a reset, like NVRAM).
; First boot: reset through the i8042 (0xFE to port 0x64). Second boot:
; debug-exit with the boot count (2 -> petrel exits with status 5).
%include "common.inc"
	mov al, 0x40
	call cmos_read
	inc al
	mov bl, al
	mov ah, 0x40
	call cmos_write
	PUTS `boot `
	mov al, bl
	add al, '0'
	mov dx, COM1
	out dx, al
	PUTS `\n`
	cmp bl, 2
	jae .done
	mov dx, 0x64
	mov al, 0xfe           ; pulse the reset line
	out dx, al
	PUTS `reset did not happen\n`
	EXIT 0x7f
.done:
	mov al, bl
	mov dx, DEBUG_EXIT
	out dx, al
.hang:
	cli
	hlt
	jmp .hang
%include "lib.inc"
