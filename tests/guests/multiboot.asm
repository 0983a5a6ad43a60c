; A Multiboot (v1) kernel using the a.out kludge: entered in 32-bit protected
; mode, paging off. It checks the boot magic, builds its own identity page
; tables, enables long mode and prints from 64-bit code.
bits 32
org 0x100000
%define COM1 0x3f8
%define PML4 0x110000            ; 3 pages above the image, inside the bss
MB_FLAGS equ (1 << 16)            ; address fields present
header:
	dd 0x1badb002
	dd MB_FLAGS
	dd -(0x1badb002 + MB_FLAGS)
	dd header                 ; header_addr
	dd header                 ; load_addr
	dd load_end               ; load_end_addr
	dd bss_end                ; bss_end_addr
	dd start32                ; entry_addr
start32:
	cli
	mov esp, 0x100000
	cmp eax, 0x2badb002
	jne bad_magic
	mov esi, msg32
	mov ecx, msg32_end - msg32
	mov dx, COM1
	rep outsb
	; page tables: PML4 -> PDPT -> PD with 2 MiB pages for the first 1 GiB
	mov edi, PML4
	xor eax, eax
	mov ecx, 3 * 1024
	rep stosd
	mov dword [PML4], PML4 + 0x1003
	mov dword [PML4 + 0x1000], PML4 + 0x2003
	mov edi, PML4 + 0x2000
	mov eax, 0x83
	mov ecx, 512
.pd:
	mov [edi], eax
	add eax, 0x200000
	add edi, 8
	loop .pd
	lgdt [gdtr]
	mov eax, cr4
	or eax, 1 << 5            ; PAE
	mov cr4, eax
	mov eax, PML4
	mov cr3, eax
	mov ecx, 0xc0000080       ; EFER
	rdmsr
	or eax, 1 << 8            ; LME
	wrmsr
	mov eax, cr0
	or eax, 1 << 31           ; PG (PE is already set)
	mov cr0, eax
	jmp 0x08:start64
bad_magic:
	mov esi, msgbad
	mov ecx, msgbad_end - msgbad
	mov dx, COM1
	rep outsb
	mov dx, 0xf4
	mov al, 1
	out dx, al
	hlt

bits 64
start64:
	mov ax, 0x10
	mov ds, ax
	mov es, ax
	mov ss, ax
	lea rsi, [rel msg64]
	mov ecx, msg64_end - msg64
	mov dx, COM1
	rep outsb
	mov dx, 0x600
	mov al, 0x34
	out dx, al
.hang:
	cli
	hlt
	jmp .hang

align 8
gdt:
	dq 0
	dq 0x00af9a000000ffff     ; 0x08: 64-bit code
	dq 0x00cf92000000ffff     ; 0x10: data
gdtr:
	dw gdtr - gdt - 1
	dd gdt
msg32: db `multiboot: 32-bit entry, magic ok\n`
msg32_end:
msg64: db `multiboot: long mode ok\n`
msg64_end:
msgbad: db `multiboot: bad magic\n`
msgbad_end:
load_end:
bss_end equ 0x100000 + 0x14000
