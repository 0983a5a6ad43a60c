; Triple-faults on every boot: petrel must give up instead of resetting forever.
%include "common.inc"
	PUTS `reset_loop\n`
	lidt [empty_idt]
	ud2
empty_idt:
	dw 0
	dq 0
