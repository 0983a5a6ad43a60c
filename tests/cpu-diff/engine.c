/*
 * The engine side: the same bytes and state loaded into the software CPU
 * through its public API (src/cpu/x86/cpu.h), single-stepped to the end of
 * the sequence. The physical page callback maps the code, data and stack
 * pages to buffers holding the same contents as the native child's; every
 * other address goes to MMIO callbacks that refuse, which the core reports as
 * X86_STOP_MEM_ERROR with no state change: the engine's counterpart of the
 * host's #PF (the engine runs with paging off).
 */
#include <errno.h>
#include <string.h>

#include "cpudiff.h"

#ifdef CD_HAVE_CORE /* set by meson.build once src/cpu/x86 builds the core */
#include "cpu/x86/cpu.h"

#define STEP_CAP 20000 /* single steps before a case counts as a timeout */

static struct x86_cpu cpu;
static uint8_t e_code[0x1000] __attribute__((aligned(4096)));
static uint8_t e_data[0x1000] __attribute__((aligned(4096)));
static uint8_t e_stack[0x1000] __attribute__((aligned(4096)));

static uint8_t *e_page(void *opaque, uint64_t gpa, bool write)
{
	switch (gpa & ~0xfffull) {
	case CD_CODE_BASE:
		return e_code;
	case CD_DATA_BASE:
		return e_data;
	case CD_STACK_BASE:
		return e_stack;
	default:
		return NULL;
	}
}

static int e_mmio_read(void *opaque, uint64_t gpa, void *buf, unsigned size)
{
	return -EFAULT;
}

static int e_mmio_write(void *opaque, uint64_t gpa, const void *buf, unsigned size)
{
	return -EFAULT;
}

static int e_pio_in(void *opaque, uint16_t port, void *buf, unsigned size)
{
	return -EFAULT;
}

static int e_pio_out(void *opaque, uint16_t port, const void *buf, unsigned size)
{
	return -EFAULT;
}

static const struct x86_mem_ops e_ops = {
	.page = e_page,
	.mmio_read = e_mmio_read,
	.mmio_write = e_mmio_write,
	.pio_in = e_pio_in,
	.pio_out = e_pio_out,
};

int cd_engine_init(void)
{
	return x86_cpu_init(&cpu, &e_ops, NULL);
}

/* 64-bit user mode as Linux sets it up for the native child. */
static void load_state(const struct cd_case *c)
{
	const uint16_t udata = 0x93 | (3 << 5) | X86_SEG_DB | X86_SEG_G;

	x86_cpu_reset(&cpu);
	cpu.cr0 = X86_CR0_PE | (1ull << 1) /* MP */ | (1ull << 4) /* ET */ | (1ull << 5) /* NE */;
	cpu.cr4 = (1ull << 9) /* OSFXSR */ | (1ull << 10) /* OSXMMEXCPT */;
	cpu.efer = X86_EFER_LME | X86_EFER_LMA;
	x86_set_seg(&cpu, X86_CS, 0x33, 0, 0xffffffff, X86_SEG_CODE64 | (3 << 5));
	x86_set_seg(&cpu, X86_SS, 0x2b, 0, 0xffffffff, udata);
	x86_set_seg(&cpu, X86_DS, 0, 0, 0xffffffff, udata);
	x86_set_seg(&cpu, X86_ES, 0, 0, 0xffffffff, udata);
	x86_set_seg(&cpu, X86_FS, 0, 0, 0xffffffff, udata);
	x86_set_seg(&cpu, X86_GS, 0, 0, 0xffffffff, udata);
	x86_update_mode(&cpu);
	memcpy(cpu.gpr, c->in.gpr, sizeof(cpu.gpr));
	cpu.rip = CD_TEST_ADDR;
	x86_set_rflags(&cpu, c->in.rflags);
	cd_fx_to_state(c->in.fx, &cpu.fpu);
}

void cd_engine_run(const struct cd_case *c, struct cd_result *res)
{
	uint64_t end = CD_TEST_ADDR + c->code_len;
	unsigned steps;

	memset(res, 0, offsetof(struct cd_result, out));
	res->note[0] = 0;
	res->unit_ran = 0;
	cd_native_code_page(e_code, c);
	memcpy(e_data, c->data, sizeof(e_data));
	memcpy(e_stack, c->stack, sizeof(e_stack));
	/* the code page was rewritten behind the CPU's back */
	x86_invalidate_phys(&cpu, CD_CODE_BASE, CD_CODE_SIZE);
	load_state(c);
	res->outcome = CD_TIMEOUT;
	for (steps = 0; steps < STEP_CAP; steps++) {
		int r;

		if (cpu.rip == end) {
			res->outcome = CD_DONE;
			break;
		}
		for (unsigned i = 0; i < c->nunits; i++)
			if (cpu.rip == CD_TEST_ADDR + c->units[i].off && !(res->unit_ran & (1u << i))) {
				res->unit_ran |= 1u << i;
				res->unit_rcx[i] = cpu.gpr[1];
			}
		r = x86_run(&cpu, 1);
		if (r == X86_STOP_BUDGET)
			continue;
		if (r == X86_STOP_EXCEPTION) {
			res->outcome = CD_EXC;
			res->vector = cpu.exc_vector;
			res->err = cpu.exc_has_error ? cpu.exc_error : 0;
		} else if (r == X86_STOP_MEM_ERROR) {
			res->outcome = CD_MEMFAULT;
			res->fault_addr = cpu.fault_addr;
			res->fault_size = cpu.fault_size ? cpu.fault_size : 1;
		} else {
			res->outcome = CD_CRASH;
			snprintf(res->note, sizeof(res->note), "x86_run returned %d", r);
		}
		break;
	}
	memcpy(res->out.gpr, cpu.gpr, sizeof(cpu.gpr));
	res->out.rip = cpu.rip;
	res->out.rflags = x86_get_rflags(&cpu);
	cd_state_to_fx(&cpu.fpu, res->out.fx);
	memcpy(res->data, e_data, sizeof(e_data));
	memcpy(res->stack, e_stack, sizeof(e_stack));
}
#else
/* No CPU core yet: FPU cases go to fpu_exec() directly, the rest is #UD. */
int cd_engine_init(void)
{
	return 0;
}

void cd_engine_run(const struct cd_case *c, struct cd_result *res)
{
	cd_engine_run_fpu(c, res);
}
#endif
