; Reads the fw_cfg signature and the kernel command line; prints both.
%include "common.inc"
	mov dx, 0x510
	xor eax, eax           ; FW_CFG_SIGNATURE
	out dx, ax
	PUTS `fw_cfg signature `
	mov ecx, 4
.sig:
	mov dx, 0x511
	in al, dx
	mov dx, COM1
	out dx, al
	loop .sig
	PUTS `\nfw_cfg cmdline [`
	mov dx, 0x510
	mov ax, 0x14           ; FW_CFG_CMDLINE_SIZE, le32, includes the NUL
	out dx, ax
	mov dx, 0x511
	in al, dx
	movzx ebx, al
	in al, dx
	movzx eax, al
	shl eax, 8
	or ebx, eax
	cmp ebx, 256           ; our cmdlines are short; bound the loop regardless
	jbe .sized
	mov ebx, 256
.sized:
	mov dx, 0x510
	mov ax, 0x15           ; FW_CFG_CMDLINE_DATA
	out dx, ax
.cmd:
	test ebx, ebx
	jz .done
	mov dx, 0x511
	in al, dx
	test al, al
	jz .done
	mov dx, COM1
	out dx, al
	dec ebx
	jmp .cmd
.done:
	PUTS `]\n`
	POWEROFF
