; Reads the RTC date and prints "rtc year CCYY". Assumes BCD mode (status B bit 2 clear).
%include "common.inc"
	mov al, 0x0b
	call cmos_read
	test al, 4
	jnz binary
	mov al, 0x32           ; century
	call cmos_read
	call put_bcd8_pre
	mov al, 0x09           ; year
	call cmos_read
	call put_bcd8
	PUTS `\n`
	POWEROFF
binary:
	PUTS `rtc binary mode\n`
	EXIT 1
put_bcd8_pre:
	push rax
	PUTS `rtc year `
	pop rax
	jmp put_bcd8
%include "lib.inc"
