/*
 * Fuzz target: the software CPU's system architecture with guest-controlled
 * page tables, descriptor tables, IDT, TSS and code. The input is the first
 * 1 MiB of guest RAM; its first bytes also choose the starting mode and
 * control registers. Exceptions are delivered (nested faults, triple fault),
 * interrupts are injected between runs. Nothing may crash, hang or read
 * outside RAM.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cpu/x86/system.h"

#define RAM_SIZE (1u << 20)

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
static struct x86_cpu cpu;
static int ready;

static uint8_t *page(void *o, uint64_t gpa, bool w)
{
	return gpa < RAM_SIZE ? ram + (gpa & ~0xfffull) : NULL;
}

static int mmio_rd(void *o, uint64_t gpa, void *buf, unsigned size)
{
	memset(buf, 0xff, size);
	return 0;
}

static int mmio_wr(void *o, uint64_t gpa, const void *buf, unsigned size)
{
	return 0;
}

static int pin(void *o, uint16_t port, void *buf, unsigned size)
{
	memset(buf, 0, size);
	return 0;
}

static int pout(void *o, uint16_t port, const void *buf, unsigned size)
{
	return 0;
}

static int msr_rd(void *o, uint32_t msr, uint64_t *v)
{
	*v = msr;
	return msr & 1;
}

static int msr_wr(void *o, uint32_t msr, uint64_t v)
{
	return (int)(v & 1);
}

static const struct x86_mem_ops ops = {
	.page = page, .mmio_read = mmio_rd, .mmio_write = mmio_wr,
	.pio_in = pin, .pio_out = pout, .msr_read = msr_rd, .msr_write = msr_wr,
};

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mode;
	unsigned i;

	if (size < 64)
		return 0;
	if (!ready) {
		if (x86_cpu_init(&cpu, &ops, NULL))
			return 0;
		ready = 1;
	}
	memset(ram, 0, sizeof(ram));
	memcpy(ram, data, size < RAM_SIZE ? size : RAM_SIZE);
	x86_cpu_reset(&cpu);
	x86_flush_code(&cpu);
	cpu.deliver_exceptions = true;
	mode = data[0] & 3;
	cpu.gdtr = (struct x86_dtr){ rd64(data + 8) & 0xfffff, (uint16_t)rd64(data + 16) };
	cpu.idtr = (struct x86_dtr){ rd64(data + 24) & 0xfffff, (uint16_t)rd64(data + 32) };
	cpu.tr = (struct x86_seg){ .sel = 0x28, .base = rd64(data + 40) & 0xfffff, .limit = 0x67,
				   .attr = 0x8b };
	cpu.cr3 = rd64(data + 48) & 0xff000;
	cpu.cr4 = data[1] & 1 ? X86_CR4_PAE : 0;
	cpu.cr4 |= data[1] & 2 ? X86_CR4_PSE : 0;
	cpu.cr4 |= data[1] & 4 ? X86_CR4_PGE : 0;
	cpu.cr4 |= data[1] & 8 ? X86_CR4_SMEP | X86_CR4_SMAP : 0;
	cpu.efer = data[1] & 16 ? X86_EFER_NXE | X86_EFER_SCE : 0;
	cpu.rip = rd64(data + 56) & 0xffff;
	if (mode) {
		cpu.cr0 = X86_CR0_PE | X86_CR0_ET | (data[1] & 32 ? X86_CR0_PG : 0);
		if (mode == 3 && (cpu.cr4 & X86_CR4_PAE)) {
			cpu.cr0 |= X86_CR0_PG;
			cpu.efer |= X86_EFER_LME | X86_EFER_LMA;
		}
		for (i = 0; i < X86_NSEG; i++)
			x86_set_seg(&cpu, i, 0x10, 0, 0xffffffff, X86_SEG_DATA32 | (data[2] & 0x60));
		x86_set_seg(&cpu, X86_CS, 0x08 | (data[2] >> 5 & 3), 0, 0xffffffff,
			    (cpu.efer & X86_EFER_LMA ? X86_SEG_CODE64 : X86_SEG_CODE32) |
				    (data[2] & 0x60));
	}
	x86_update_mode(&cpu);
	x86_tlb_flush_all(&cpu);
	for (i = 0; i < 8; i++) {
		int r = x86_run(&cpu, 20000);

		if (r == X86_STOP_SHUTDOWN || r == X86_STOP_MEM_ERROR)
			break;
		if (r == X86_STOP_HLT || r == X86_STOP_IRQ) {
			if (x86_inject_interrupt(&cpu, data[3 + i]) != 0)
				break;
		}
		if (i == 4)
			x86_inject_nmi(&cpu);
	}
	return 0;
}
