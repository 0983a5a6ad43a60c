; Two vCPUs: the BSP starts the AP with INIT and SIPI through its local APIC
; (0xFEE00000); the AP, in real mode at the SIPI vector, writes a flag.
%include "common.inc"
%define TRAMPOLINE 0x3000     ; free low page (vector 3); see docs/memory-map.md
%define FLAG 0x3800
%define LAPIC 0xfee00000
	; copy the AP code below 1 MiB
	lea rsi, [ap_start]
	mov edi, TRAMPOLINE
	mov ecx, ap_end - ap_start
	rep movsb
	mov byte [abs FLAG], 0
	mov rbx, LAPIC
	mov dword [rbx + 0xf0], 0x1ff       ; software-enable the local APIC
	mov dword [rbx + 0x310], 1 << 24   ; destination: APIC ID 1
	mov dword [rbx + 0x300], 0x00004500 ; INIT, assert
	mov dword [rbx + 0x310], 1 << 24
	mov dword [rbx + 0x300], 0x00004600 | (TRAMPOLINE >> 12) ; SIPI
	mov ecx, 200000
.wait:
	cmp byte [abs FLAG], 0xa5
	je .up
	pause
	dec ecx
	jnz .wait
	PUTS `smp: AP did not start\n`
	EXIT 1
.up:
	PUTS `smp: AP 1 is up\n`
	POWEROFF

bits 16
ap_start:
	xor ax, ax
	mov ds, ax
	mov byte [FLAG], 0xa5
.park:
	cli
	hlt
	jmp .park
ap_end:
