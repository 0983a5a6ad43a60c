/*
 * Software CPU part 2: paging (translations, A/D bits, every #PF error
 * code, large pages, TLB flush policy), event delivery (real mode IVT,
 * 32-bit gates with a TSS stack switch, 64-bit gates with IST, #DF and
 * triple fault, software interrupt DPL checks), IRET, SYSCALL/SYSRET,
 * SYSENTER/SYSEXIT, MSRs, CR writes and mode switches, STI shadow and the
 * irq_pending stop. Memory is one flat buffer; page tables and descriptor
 * tables are built in it by hand.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cpu/x86/system.h"

#define RAM_SIZE (4u << 20)
#define GDT 0x1000u
#define IDT 0x2000u
#define TSS 0x3000u
#define PML4 0x10000u
#define PDPT 0x11000u
#define PD 0x12000u
#define PT 0x13000u
#define CODE 0x20000u
#define HND 0x30000u
#define KSTACK 0x48000u
#define USTACK 0x58000u
#define DATA 0x60000u

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
static uint64_t x2apic_last_msr, x2apic_last_val;

static uint8_t *page(void *o, uint64_t gpa, bool w)
{
	return gpa < RAM_SIZE ? ram + gpa : NULL;
}

static int msr_rd(void *o, uint32_t msr, uint64_t *v)
{
	if (msr == 0x802) {
		*v = 0x42; /* x2APIC ID */
		return 0;
	}
	return -1;
}

static int msr_wr(void *o, uint32_t msr, uint64_t v)
{
	if (msr < 0x800 || msr > 0x8ff)
		return -1;
	x2apic_last_msr = msr;
	x2apic_last_val = v;
	return 0;
}

static const struct x86_mem_ops ops = {
	.page = page, .msr_read = msr_rd, .msr_write = msr_wr,
};

static uint64_t *q(uint64_t pa)
{
	return (uint64_t *)(ram + pa);
}

/* TSS fields and descriptor-table images are not 8-byte aligned. */
static void st64(uint64_t pa, uint64_t v)
{
	memcpy(ram + pa, &v, 8);
}

static uint64_t ld64(uint64_t pa)
{
	uint64_t v;

	memcpy(&v, ram + pa, 8);
	return v;
}

static uint64_t desc(uint32_t base, uint32_t limit, unsigned access, unsigned flags)
{
	return (limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 | (uint64_t)access << 40 |
	       (uint64_t)((limit >> 16) & 0xf) << 48 | (uint64_t)flags << 52 |
	       (uint64_t)(base >> 24) << 56;
}

static void gate64(unsigned vec, uint64_t off, unsigned type, unsigned dpl, unsigned ist)
{
	uint32_t *g = (uint32_t *)(ram + IDT + vec * 16);

	g[0] = (uint32_t)(off & 0xffff) | 0x08u << 16;
	g[1] = (uint32_t)(off & 0xffff0000u) | 0x8000u | dpl << 13 | type << 8 | ist;
	g[2] = (uint32_t)(off >> 32);
	g[3] = 0;
}

static void gate32(unsigned vec, uint32_t off, uint16_t sel, unsigned type, unsigned dpl)
{
	uint32_t *g = (uint32_t *)(ram + IDT + vec * 8);

	g[0] = (off & 0xffff) | (uint32_t)sel << 16;
	g[1] = (off & 0xffff0000u) | 0x8000u | dpl << 13 | type << 8;
}

/* GDT: 08 code64, 10 data, 18 code32, 20 data DPL3, 28 code64 DPL3,
 * 30 code32 DPL3, 38 TSS (16 bytes). */
static void gdt_setup(bool tss64)
{
	q(GDT)[1] = desc(0, 0xfffff, 0x9b, 0xa);
	q(GDT)[2] = desc(0, 0xfffff, 0x93, 0xc);
	q(GDT)[3] = desc(0, 0xfffff, 0x9b, 0xc);
	q(GDT)[4] = desc(0, 0xfffff, 0xf3, 0xc);
	q(GDT)[5] = desc(0, 0xfffff, 0xfb, 0xa);
	q(GDT)[6] = desc(0, 0xfffff, 0xfb, 0xc);
	q(GDT)[7] = desc(TSS, 0x67, 0x89, 0);
	q(GDT)[8] = 0;
	(void)tss64;
}

/* Identity map of 0-4 MiB: 4 KiB pages below 2 MiB, one 2 MiB page above,
 * all user-accessible and writable. */
static void map_identity(void)
{
	unsigned i;

	memset(ram + PML4, 0, 0x4000);
	q(PML4)[0] = PDPT | 7;
	q(PDPT)[0] = PD | 7;
	q(PD)[0] = PT | 7;
	q(PD)[1] = 0x200000 | 0x87;
	for (i = 0; i < 512; i++)
		q(PT)[i] = (uint64_t)i * 0x1000 | 7;
}

static struct x86_cpu *mk_cpu(void)
{
	struct x86_cpu *cpu = calloc(1, sizeof(*cpu));

	assert_non_null(cpu);
	memset(ram, 0, RAM_SIZE);
	assert_int_equal(x86_cpu_init(cpu, &ops, NULL), 0);
	return cpu;
}

/* 64-bit kernel mode with 4-level paging, IDT and TSS in place. */
static struct x86_cpu *mk64(const uint8_t *code, size_t len)
{
	struct x86_cpu *cpu = mk_cpu();

	gdt_setup(true);
	map_identity();
	if (len)
		memcpy(ram + CODE, code, len);
	cpu->cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_WP | X86_CR0_ET;
	cpu->cr4 = X86_CR4_PAE | X86_CR4_PGE;
	cpu->cr3 = PML4;
	cpu->efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE | X86_EFER_SCE;
	cpu->gdtr = (struct x86_dtr){ GDT, 0x47 };
	cpu->idtr = (struct x86_dtr){ IDT, 256 * 16 - 1 };
	cpu->tr = (struct x86_seg){ .sel = 0x38, .base = TSS, .limit = 0x67, .attr = 0x8b };
	for (int s = 0; s < X86_NSEG; s++)
		x86_set_seg(cpu, s, 0x10, 0, 0xffffffff, X86_SEG_DATA32);
	x86_set_seg(cpu, X86_CS, 0x08, 0, 0xffffffff, X86_SEG_CODE64);
	cpu->rip = CODE;
	cpu->gpr[X86_RSP] = KSTACK;
	cpu->deliver_exceptions = true;
	x86_update_mode(cpu);
	x86_tlb_flush_all(cpu);
	return cpu;
}

static void done(struct x86_cpu *cpu)
{
	x86_cpu_fini(cpu);
	free(cpu);
}

static int xlate(struct x86_cpu *cpu, uint64_t la, enum x86_access acc, uint64_t *pa)
{
	unsigned fl;

	return x86_translate(cpu, la, acc, pa, &fl);
}

/* ---------------- paging ---------------- */

static void t_walk4(void **s)
{
	struct x86_cpu *cpu = mk64(NULL, 0);
	uint64_t pa;

	q(PT)[0x40] = 0x345000 | 3; /* la 0x40000 -> pa 0x345000, not user */
	assert_int_equal(xlate(cpu, 0x40123, X86_ACC_READ, &pa), 0);
	assert_int_equal(pa, 0x345123);
	/* Accessed on every level, dirty not yet. */
	assert_true(q(PML4)[0] & X86_PTE_A);
	assert_true(q(PDPT)[0] & X86_PTE_A);
	assert_true(q(PD)[0] & X86_PTE_A);
	assert_true(q(PT)[0x40] & X86_PTE_A);
	assert_false(q(PT)[0x40] & X86_PTE_D);
	assert_int_equal(xlate(cpu, 0x40123, X86_ACC_WRITE, &pa), 0);
	assert_true(q(PT)[0x40] & X86_PTE_D);
	/* 2 MiB page. */
	assert_int_equal(xlate(cpu, 0x212345, X86_ACC_READ, &pa), 0);
	assert_int_equal(pa, 0x212345);
	/* 1 GiB page at 1 GiB -> 3 GiB. */
	q(PDPT)[1] = 0xc0000000ull | 0x83;
	assert_int_equal(xlate(cpu, 0x40000000ull + 0x1234567, X86_ACC_READ, &pa), 0);
	assert_int_equal(pa, 0xc1234567ull);
	/* Upper half: PML4[511]. */
	q(PML4)[511] = PDPT | 3;
	assert_int_equal(xlate(cpu, 0xffffff8000012000ull, X86_ACC_READ, &pa), 0);
	assert_int_equal(pa, 0x12000);
	done(cpu);
}

static void expect_pf(struct x86_cpu *cpu, uint64_t la, enum x86_access acc, uint32_t err)
{
	uint64_t pa;

	assert_int_equal(xlate(cpu, la, acc, &pa), X86_STOP_EXCEPTION);
	assert_int_equal(cpu->exc_vector, X86_EXC_PF);
	assert_int_equal(cpu->exc_error, err);
	assert_int_equal(cpu->exc_addr, la);
}

static void t_pf_codes(void **s)
{
	struct x86_cpu *cpu = mk64(NULL, 0);
	uint64_t pa;

	/* Not present: P=0, with W/U/I describing the access. */
	q(PT)[0x50] = 0;
	expect_pf(cpu, 0x50000, X86_ACC_READ, 0);
	expect_pf(cpu, 0x50008, X86_ACC_WRITE, X86_PF_W);
	expect_pf(cpu, 0x50000, X86_ACC_FETCH, X86_PF_I);
	cpu->cpl = 3;
	expect_pf(cpu, 0x50000, X86_ACC_WRITE, X86_PF_W | X86_PF_U);
	/* Not present at a higher level. */
	expect_pf(cpu, 0x8000000000ull, X86_ACC_READ, X86_PF_U);

	/* User access to a supervisor page. */
	q(PT)[0x51] = 0x51000 | 3;
	expect_pf(cpu, 0x51000, X86_ACC_READ, X86_PF_P | X86_PF_U);
	/* User write to a read-only user page; the A bit stays clear on faults. */
	q(PT)[0x52] = 0x52000 | 5;
	expect_pf(cpu, 0x52000, X86_ACC_WRITE, X86_PF_P | X86_PF_W | X86_PF_U);
	assert_false(q(PT)[0x52] & X86_PTE_A);
	assert_int_equal(xlate(cpu, 0x52000, X86_ACC_READ, &pa), 0);
	/* R/W is combined over levels: a read-only PD entry protects it all. */
	q(PD)[0] &= ~X86_PTE_RW;
	expect_pf(cpu, 0x53000, X86_ACC_WRITE, X86_PF_P | X86_PF_W | X86_PF_U);
	q(PD)[0] |= X86_PTE_RW;

	/* Supervisor writes to read-only pages: allowed with WP=0 only. */
	cpu->cpl = 0;
	expect_pf(cpu, 0x52000, X86_ACC_WRITE, X86_PF_P | X86_PF_W);
	cpu->cr0 &= ~X86_CR0_WP;
	assert_int_equal(xlate(cpu, 0x52000, X86_ACC_WRITE, &pa), 0);
	cpu->cr0 |= X86_CR0_WP;

	/* NX (EFER.NXE): fetch from an XD page. */
	q(PT)[0x54] = 0x54000 | 3 | X86_PTE_XD;
	expect_pf(cpu, 0x54000, X86_ACC_FETCH, X86_PF_P | X86_PF_I);
	assert_int_equal(xlate(cpu, 0x54000, X86_ACC_READ, &pa), 0);
	/* Without NXE bit 63 is reserved. */
	cpu->efer &= ~X86_EFER_NXE;
	expect_pf(cpu, 0x54000, X86_ACC_READ, X86_PF_P | X86_PF_RSVD);
	cpu->efer |= X86_EFER_NXE;
	/* Reserved physical-address bits, and PS in a PML4 entry. */
	q(PT)[0x55] = 0x55000 | 3 | (1ull << 45);
	expect_pf(cpu, 0x55000, X86_ACC_WRITE, X86_PF_P | X86_PF_W | X86_PF_RSVD);
	q(PML4)[2] = PDPT | 0x83;
	expect_pf(cpu, 0x10000000000ull, X86_ACC_READ, X86_PF_P | X86_PF_RSVD);
	/* Reserved bits 20:13 of a 2 MiB page. */
	q(PD)[2] = 0x400000 | 0x83 | (1u << 14);
	expect_pf(cpu, 0x400000, X86_ACC_READ, X86_PF_P | X86_PF_RSVD);

	/* SMEP: supervisor fetch from a user page. */
	cpu->cr4 |= X86_CR4_SMEP;
	expect_pf(cpu, 0x56000, X86_ACC_FETCH, X86_PF_P | X86_PF_I);
	cpu->cr4 &= ~X86_CR4_SMEP;
	assert_int_equal(xlate(cpu, 0x56000, X86_ACC_FETCH, &pa), 0);
	/* SMAP: supervisor data access to a user page unless RFLAGS.AC;
	 * implicit supervisor accesses fault even with AC. */
	cpu->cr4 |= X86_CR4_SMAP;
	expect_pf(cpu, 0x56000, X86_ACC_READ, X86_PF_P);
	cpu->rflags |= X86_AC;
	assert_int_equal(xlate(cpu, 0x56000, X86_ACC_READ, &pa), 0);
	cpu->implicit_sv = 1;
	expect_pf(cpu, 0x56000, X86_ACC_WRITE, X86_PF_P | X86_PF_W);
	cpu->implicit_sv = 0;
	done(cpu);
}

static void t_pae_and_32bit(void **s)
{
	struct x86_cpu *cpu = mk_cpu();
	uint64_t pa;
	uint32_t *pd32 = (uint32_t *)(ram + PD), *pt32 = (uint32_t *)(ram + PT);

	/* 32-bit paging: 4 KiB and, with PSE, 4 MiB pages (PSE-36 high bits). */
	cpu->cr0 = X86_CR0_PE | X86_CR0_PG;
	cpu->cr3 = PD;
	pd32[0] = PT | 7;
	pt32[5] = 0x123000 | 7;
	pd32[1] = 0x00c00000u | 0x87 | (3u << 13); /* 4 MiB, PA bits 33:32 = 3 */
	assert_int_equal(xlate(cpu, 0x5abc, X86_ACC_READ, &pa), 0);
	assert_int_equal(pa, 0x123abc);
	assert_true(pd32[0] & X86_PTE_A);
	assert_int_equal(xlate(cpu, 0x5abc, X86_ACC_WRITE, &pa), 0);
	assert_true(pt32[5] & X86_PTE_D);
	/* Without CR4.PSE the PS bit is ignored: entry 1 is a table. */
	cpu->cr4 = X86_CR4_PSE;
	assert_int_equal(xlate(cpu, 0x401234, X86_ACC_READ, &pa), 0);
	assert_int_equal(pa, 0x300c01234ull);
	pd32[2] = 0x00800000u | 0x83 | (1u << 21); /* reserved bit 21 */
	expect_pf(cpu, 0x800000, X86_ACC_READ, X86_PF_P | X86_PF_RSVD);
	pt32[6] = 0;
	expect_pf(cpu, 0x6000, X86_ACC_FETCH, 0); /* no I/D without NX or SMEP */

	/* PAE: 4 PDPTEs, 2 MiB pages, NX with EFER.NXE. */
	cpu->cr4 = X86_CR4_PAE;
	cpu->cr3 = PDPT;
	memset(ram + PDPT, 0, 0x3000);
	q(PDPT)[3] = PD | 1;
	q(PD)[1] = 0x600000 | 0x83 | X86_PTE_XD;
	cpu->efer = X86_EFER_NXE;
	assert_int_equal(xlate(cpu, 0xc0201234u, X86_ACC_READ, &pa), 0);
	assert_int_equal(pa, 0x601234);
	expect_pf(cpu, 0xc0201234u, X86_ACC_FETCH, X86_PF_P | X86_PF_I);
	/* PDPTE reserved bits (R/W is reserved there). */
	q(PDPT)[3] |= X86_PTE_RW;
	expect_pf(cpu, 0xc0201234u, X86_ACC_READ, X86_PF_P | X86_PF_RSVD);
	done(cpu);
}

static void t_tlb_policy(void **s)
{
	/* mov eax, [0x70000]; hlt */
	static const uint8_t code[] = { 0x8b, 0x04, 0x25, 0x00, 0x00, 0x07, 0x00, 0xf4 };
	struct x86_cpu *cpu = mk64(code, sizeof(code));

	ram[0x70000] = 0x11;
	ram[0x71000] = 0x22;
	ram[0x72000] = 0x33;
	q(PT)[0x70] = 0x70000 | 3 | X86_PTE_G;
	assert_int_equal(x86_run(cpu, 10), X86_STOP_HLT);
	assert_int_equal(cpu->gpr[X86_RAX] & 0xff, 0x11);
	/* Remap without flushing: the TLB still serves the old page. */
	q(PT)[0x70] = 0x71000 | 3 | X86_PTE_G;
	cpu->rip = CODE;
	assert_int_equal(x86_run(cpu, 10), X86_STOP_HLT);
	assert_int_equal(cpu->gpr[X86_RAX] & 0xff, 0x11);
	/* CR3 write keeps the global entry. */
	assert_int_equal(x86_write_cr3(cpu, PML4), 0);
	cpu->rip = CODE;
	assert_int_equal(x86_run(cpu, 10), X86_STOP_HLT);
	assert_int_equal(cpu->gpr[X86_RAX] & 0xff, 0x11);
	/* INVLPG drops it. */
	x86_tlb_flush_page(cpu, 0x70abc);
	cpu->rip = CODE;
	assert_int_equal(x86_run(cpu, 10), X86_STOP_HLT);
	assert_int_equal(cpu->gpr[X86_RAX] & 0xff, 0x22);
	/* Non-global entries go on CR3 writes. */
	q(PT)[0x70] = 0x71000 | 3;
	x86_tlb_flush_all(cpu);
	cpu->rip = CODE;
	assert_int_equal(x86_run(cpu, 10), X86_STOP_HLT);
	q(PT)[0x70] = 0x72000 | 3;
	assert_int_equal(x86_write_cr3(cpu, PML4), 0);
	cpu->rip = CODE;
	assert_int_equal(x86_run(cpu, 10), X86_STOP_HLT);
	assert_int_equal(cpu->gpr[X86_RAX] & 0xff, 0x33);
	/* A CPL change from 0 to 3 flushes: a supervisor-only page cached at
	 * CPL 0 must fault at CPL 3. */
	q(PT)[0x70] = 0x72000 | 3;
	cpu->cpl = 3;
	x86_paging_cpl_changed(cpu);
	expect_pf(cpu, 0x70000, X86_ACC_READ, X86_PF_P | X86_PF_U);
	assert_int_equal(cpu->tlb[X86_ACC_READ][0x70 & (X86_TLB_SIZE - 1)].tag, X86_TLB_INVALID);
	/* Back at CPL 0 the supervisor set is still warm (swapped, not flushed). */
	cpu->cpl = 0;
	x86_paging_cpl_changed(cpu);
	assert_int_equal(cpu->tlb[X86_ACC_READ][0x70 & (X86_TLB_SIZE - 1)].tag, 0x70000);
	/* A CR3 write flushes both sets. */
	assert_int_equal(x86_write_cr3(cpu, PML4), 0);
	assert_int_equal(cpu->tlb[X86_ACC_READ][0x70 & (X86_TLB_SIZE - 1)].tag, X86_TLB_INVALID);
	assert_int_equal(cpu->tlb_other[X86_ACC_FETCH][0x20 & (X86_TLB_SIZE - 1)].tag,
			 X86_TLB_INVALID);
	done(cpu);
}

/* INVLPG through the instruction, and a #PF delivered through the IDT. */
static void t_pf_delivery(void **s)
{
	static const uint8_t code[] = {
		0x8b, 0x04, 0x25, 0x00, 0x00, 0x09, 0x00, /* mov eax, [0x90000] */
		0xf4,
	};
	static const uint8_t hnd[] = {
		0x0f, 0x20, 0xd0, /* mov rax, cr2 */
		0x5b,             /* pop rbx (error code) */
		0xf4,
	};
	struct x86_cpu *cpu = mk64(code, sizeof(code));

	memcpy(ram + HND, hnd, sizeof(hnd));
	gate64(14, HND, 0xe, 0, 0);
	q(PT)[0x90] = 0;
	cpu->gpr[X86_RSP] = KSTACK - 8; /* misaligned: the frame is 16-aligned */
	assert_int_equal(x86_run(cpu, 100), X86_STOP_HLT);
	assert_int_equal(cpu->gpr[X86_RAX], 0x90000);
	assert_int_equal(cpu->cr2, 0x90000);
	assert_int_equal(cpu->gpr[X86_RBX], 0);
	/* Frame: RIP of the faulting instruction, CS, RFLAGS, RSP, SS. */
	assert_int_equal(cpu->gpr[X86_RSP], KSTACK - 16 - 40);
	assert_int_equal(*q(KSTACK - 56), CODE);
	assert_int_equal(*q(KSTACK - 48), 0x08);
	assert_int_equal(*q(KSTACK - 32), KSTACK - 8);
	assert_int_equal(*q(KSTACK - 24), 0x10);
	done(cpu);
}

/* Without deliver_exceptions the exception comes back to the caller. */
static void t_exceptions_returned(void **s)
{
	static const uint8_t code[] = { 0x8b, 0x04, 0x25, 0x00, 0x00, 0x09, 0x00, 0xf4 };
	struct x86_cpu *cpu = mk64(code, sizeof(code));

	cpu->deliver_exceptions = false;
	q(PT)[0x90] = 0;
	assert_int_equal(x86_run(cpu, 100), X86_STOP_EXCEPTION);
	assert_int_equal(cpu->exc_vector, X86_EXC_PF);
	assert_int_equal(cpu->rip, CODE);
	assert_int_equal(cpu->cr2, 0x90000);
	/* Instruction fetch from an unmapped page. */
	q(PT)[0x20] = 0;
	x86_tlb_flush_all(cpu);
	assert_int_equal(x86_run(cpu, 100), X86_STOP_EXCEPTION);
	assert_int_equal(cpu->exc_vector, X86_EXC_PF);
	assert_int_equal(cpu->exc_error, X86_PF_I);
	done(cpu);
}

/* IST stack, user -> kernel via INT 0x80 (DPL 3 gate), IRETQ back. */
static void t_int64_user(void **s)
{
	static const uint8_t ucode[] = {
		0xcd, 0x80, /* int 0x80 */
		0xcc,       /* int3: gate DPL 0 -> #GP(3*8+2) */
	};
	static const uint8_t hnd80[] = { 0x48, 0x89, 0xe3, /* mov rbx, rsp */ 0x48, 0xcf /* iretq */ };
	static const uint8_t hndgp[] = { 0x5a, /* pop rdx */ 0xf4 };
	struct x86_cpu *cpu = mk64(ucode, sizeof(ucode));

	memcpy(ram + HND, hnd80, sizeof(hnd80));
	memcpy(ram + HND + 0x100, hndgp, sizeof(hndgp));
	gate64(0x80, HND, 0xf, 3, 0);
	gate64(3, HND + 0x200, 0xe, 0, 0);
	gate64(13, HND + 0x100, 0xe, 0, 1);
	st64(TSS + 4, KSTACK);     /* RSP0 */
	st64(TSS + 0x24, 0x46000); /* IST1 */
	x86_set_seg(cpu, X86_SS, 0x23, 0, 0xffffffff, X86_SEG_DATA32 | 0x60);
	x86_set_seg(cpu, X86_CS, 0x2b, 0, 0xffffffff, X86_SEG_CODE64 | 0x60);
	cpu->gpr[X86_RSP] = USTACK;
	x86_set_rflags(cpu, X86_IF);
	assert_int_equal(cpu->cpl, 3);
	assert_int_equal(x86_run(cpu, 100), X86_STOP_HLT);
	/* INT 0x80 ran at CPL 0 on RSP0 with a 5-word frame. */
	assert_int_equal(cpu->gpr[X86_RBX], KSTACK - 40);
	assert_int_equal(*q(KSTACK - 40), CODE + 2);
	assert_int_equal(*q(KSTACK - 32), 0x2b);
	assert_int_equal(*q(KSTACK - 16), USTACK);
	assert_int_equal(*q(KSTACK - 8), 0x23);
	/* INT3 at CPL 3 through a DPL 0 gate: #GP with IDT error code, on IST1. */
	assert_int_equal(cpu->gpr[X86_RDX], 3 * 8 + 2);
	assert_int_equal(cpu->cpl, 0);
	assert_int_equal(cpu->seg[X86_SS].sel, 0); /* null SS on CPL change */
	assert_int_equal(cpu->gpr[X86_RSP], 0x46000 - 40);
	assert_int_equal(*q(0x46000 - 40), CODE + 2); /* fault: RIP at INT3 */
	assert_false(x86_get_rflags(cpu) & X86_IF);
	done(cpu);
}

/* Nested faults: #GP whose delivery faults -> #DF; #DF failing -> shutdown. */
static void t_double_triple(void **s)
{
	static const uint8_t code[] = { 0x0f, 0x0b }; /* ud2 */
	static const uint8_t hnddf[] = { 0x58, 0xf4 }; /* pop rax; hlt */
	struct x86_cpu *cpu = mk64(code, sizeof(code));

	memcpy(ram + HND, hnddf, sizeof(hnddf));
	gate64(6, HND, 0xe, 0, 0);
	*(uint32_t *)(ram + IDT + 6 * 16 + 4) &= ~0x8000u; /* #UD gate not present */
	gate64(11, HND, 0xe, 0, 0);
	*(uint32_t *)(ram + IDT + 11 * 16 + 4) &= ~0x8000u; /* #NP not present either */
	gate64(8, HND, 0xe, 0, 0);
	cpu->gpr[X86_RAX] = 77;
	/* #UD (benign) -> #NP (contributory, serial) -> #NP again -> #DF. */
	assert_int_equal(x86_run(cpu, 100), X86_STOP_HLT);
	assert_int_equal(cpu->gpr[X86_RAX], 0); /* #DF error code */
	/* Now nothing is deliverable: triple fault. */
	cpu->idtr.limit = 0;
	cpu->rip = CODE;
	assert_int_equal(x86_run(cpu, 100), X86_STOP_SHUTDOWN);
	done(cpu);
}

/* Real mode: INT n through the IVT and IRET. */
static void t_real_int(void **s)
{
	static const uint8_t code[] = {
		0xcd, 0x21, /* int 0x21 */
		0xf4,
	};
	static const uint8_t hnd[] = { 0x89, 0xe3, /* mov bx, sp */ 0xb0, 0x55, /* mov al, 0x55 */ 0xcf };
	struct x86_cpu *cpu = mk_cpu();

	memcpy(ram + 0x7c00, code, sizeof(code));
	memcpy(ram + 0x9000, hnd, sizeof(hnd));
	*(uint32_t *)(ram + 0x21 * 4) = 0x09000000u; /* 0900:0000 */
	x86_set_seg(cpu, X86_CS, 0, 0, 0xffff, X86_SEG_CODE16);
	x86_set_seg(cpu, X86_SS, 0, 0, 0xffff, X86_SEG_DATA16);
	cpu->idtr = (struct x86_dtr){ 0, 0x3ff };
	cpu->rip = 0x7c00;
	cpu->gpr[X86_RSP] = 0x6000;
	cpu->deliver_exceptions = true;
	x86_set_rflags(cpu, X86_IF | X86_CF);
	assert_int_equal(x86_run(cpu, 100), X86_STOP_HLT);
	assert_int_equal(cpu->gpr[X86_RAX] & 0xff, 0x55);
	assert_int_equal(cpu->gpr[X86_RBX] & 0xffff, 0x6000 - 6);
	assert_int_equal(*(uint16_t *)(ram + 0x6000 - 6), 0x7c02); /* IP */
	assert_int_equal(*(uint16_t *)(ram + 0x6000 - 2) & (X86_IF | X86_CF), X86_IF | X86_CF);
	assert_int_equal(cpu->gpr[X86_RSP], 0x6000);
	assert_true(x86_get_rflags(cpu) & X86_IF); /* restored by IRET */
	assert_int_equal(cpu->rip, 0x7c03);
	done(cpu);
}

/* 32-bit protected mode: CPL 3 -> INT 0x30 through a 32-bit interrupt gate
 * switches to SS0:ESP0 from the TSS; IRETD returns to CPL 3. */
static void t_prot32_int(void **s)
{
	static const uint8_t ucode[] = { 0xcd, 0x30, 0x90, 0xcd, 0x31 };
	static const uint8_t hnd[] = { 0x89, 0xe3, /* mov ebx, esp */ 0xcf /* iretd */ };
	static const uint8_t hnd31[] = { 0xf4 };
	struct x86_cpu *cpu = mk_cpu();

	gdt_setup(false);
	memcpy(ram + CODE, ucode, sizeof(ucode));
	memcpy(ram + HND, hnd, sizeof(hnd));
	memcpy(ram + HND + 0x10, hnd31, sizeof(hnd31));
	gate32(0x30, HND, 0x18, 0xe, 3);
	gate32(0x31, HND + 0x10, 0x18, 0xe, 3);
	*(uint32_t *)(ram + TSS + 4) = KSTACK; /* ESP0 */
	*(uint16_t *)(ram + TSS + 8) = 0x10;   /* SS0 */
	cpu->cr0 = X86_CR0_PE | X86_CR0_ET;
	cpu->gdtr = (struct x86_dtr){ GDT, 0x47 };
	cpu->idtr = (struct x86_dtr){ IDT, 0x7ff };
	cpu->tr = (struct x86_seg){ .sel = 0x38, .base = TSS, .limit = 0x67, .attr = 0x8b };
	for (int sg = 0; sg < X86_NSEG; sg++)
		x86_set_seg(cpu, sg, 0x23, 0, 0xffffffff, X86_SEG_DATA32 | 0x60);
	x86_set_seg(cpu, X86_CS, 0x33, 0, 0xffffffff, X86_SEG_CODE32 | 0x60);
	cpu->rip = CODE;
	cpu->gpr[X86_RSP] = USTACK;
	cpu->deliver_exceptions = true;
	x86_set_rflags(cpu, X86_IF);
	assert_int_equal(cpu->cpl, 3);
	assert_int_equal(x86_run(cpu, 100), X86_STOP_HLT);
	/* The first handler saw a 5-dword frame on the TSS stack. */
	assert_int_equal(cpu->gpr[X86_RBX], KSTACK - 20);
	assert_int_equal(*(uint32_t *)(ram + KSTACK - 16), 0x33);
	assert_int_equal(*(uint32_t *)(ram + KSTACK - 8), USTACK);
	assert_int_equal(*(uint32_t *)(ram + KSTACK - 4), 0x23);
	/* Second INT ran after IRETD returned to CPL 3 (then halted at CPL 0). */
	assert_int_equal(cpu->cpl, 0);
	assert_int_equal(cpu->seg[X86_SS].sel, 0x10);
	assert_int_equal(*(uint32_t *)(ram + KSTACK - 20), CODE + 5);
	done(cpu);
}

/* SYSCALL/SYSRET and the MSRs that drive them; SWAPGS. */
static void t_syscall(void **s)
{
	static const uint8_t ucode[] = { 0x0f, 0x05, /* syscall */ 0xcd, 0x40 };
	static const uint8_t kcode[] = {
		0x0f, 0x01, 0xf8, /* swapgs */
		0x48, 0x0f, 0x07, /* sysretq */
	};
	static const uint8_t hnd40[] = { 0xf4 };
	struct x86_cpu *cpu = mk64(ucode, sizeof(ucode));

	memcpy(ram + HND, kcode, sizeof(kcode));
	memcpy(ram + HND + 0x100, hnd40, sizeof(hnd40));
	gate64(0x40, HND + 0x100, 0xe, 3, 0);
	st64(TSS + 4, KSTACK);
	assert_int_equal(x86_msr_write(cpu, 0xc0000081, 0x0018000800000000ull), 0);
	assert_int_equal(x86_msr_write(cpu, 0xc0000082, HND), 0);
	assert_int_equal(x86_msr_write(cpu, 0xc0000084, X86_IF | X86_TF), 0);
	assert_int_equal(x86_msr_write(cpu, 0xc0000102, 0x1234), 0);
	/* Non-canonical LSTAR is #GP. */
	assert_int_equal(x86_msr_write(cpu, 0xc0000082, 0x0000800000000000ull), X86_STOP_EXCEPTION);
	x86_set_seg(cpu, X86_SS, 0x23, 0, 0xffffffff, X86_SEG_DATA32 | 0x60);
	x86_set_seg(cpu, X86_CS, 0x2b, 0, 0xffffffff, X86_SEG_CODE64 | 0x60);
	cpu->gpr[X86_RSP] = USTACK;
	x86_set_rflags(cpu, X86_IF | X86_CF);
	assert_int_equal(x86_run(cpu, 2), X86_STOP_BUDGET);
	/* In the kernel after syscall + swapgs, before sysret. */
	assert_int_equal(cpu->cpl, 0);
	assert_int_equal(cpu->seg[X86_CS].sel, 0x08);
	assert_int_equal(cpu->seg[X86_SS].sel, 0x10);
	assert_int_equal(cpu->gpr[X86_RCX], CODE + 2);
	assert_true(cpu->gpr[X86_R11] & X86_IF);
	assert_false(x86_get_rflags(cpu) & X86_IF); /* SFMASK */
	assert_int_equal(cpu->seg[X86_GS].base, 0x1234);
	assert_int_equal(x86_run(cpu, 100), X86_STOP_HLT);
	/* SYSRET went back to CPL 3 (CS 0x2b, SS 0x23), then INT 0x40. */
	assert_int_equal(*q(KSTACK - 32), 0x2b);
	assert_int_equal(*q(KSTACK - 8), 0x23);
	assert_int_equal(*q(KSTACK - 40), CODE + 4);
	done(cpu);
}

/* SYSCALL is #UD without EFER.SCE; privileged instructions #GP at CPL 3. */
static void t_privilege(void **s)
{
	static const uint8_t code[] = { 0x0f, 0x05 };
	struct x86_cpu *cpu = mk64(code, sizeof(code));
	static const uint8_t priv[][3] = {
		{ 0x0f, 0x20, 0xd8 }, /* mov rax, cr3 */
		{ 0x0f, 0x32, 0x90 }, /* rdmsr */
		{ 0xf4, 0x90, 0x90 }, /* hlt */
		{ 0x0f, 0x01, 0xf8 }, /* swapgs */
		{ 0xfa, 0x90, 0x90 }, /* cli (IOPL 0) */
		{ 0xe4, 0x60, 0x90 }, /* in al, 0x60 */
		{ 0x0f, 0x31, 0x90 }, /* rdtsc with CR4.TSD */
		{ 0x0f, 0x01, 0xf9 }, /* rdtscp with CR4.TSD */
	};

	cpu->deliver_exceptions = false;
	cpu->efer &= ~X86_EFER_SCE;
	assert_int_equal(x86_run(cpu, 10), X86_STOP_EXCEPTION);
	assert_int_equal(cpu->exc_vector, X86_EXC_UD);
	x86_set_seg(cpu, X86_SS, 0x23, 0, 0xffffffff, X86_SEG_DATA32 | 0x60);
	x86_set_seg(cpu, X86_CS, 0x2b, 0, 0xffffffff, X86_SEG_CODE64 | 0x60);
	cpu->cr4 |= X86_CR4_TSD;
	for (unsigned i = 0; i < sizeof(priv) / sizeof(priv[0]); i++) {
		memcpy(ram + CODE, priv[i], 3);
		x86_flush_code(cpu);
		cpu->rip = CODE;
		assert_int_equal(x86_run(cpu, 1), X86_STOP_EXCEPTION);
		assert_int_equal(cpu->exc_vector, X86_EXC_GP);
		assert_int_equal(cpu->exc_error, 0);
	}
	done(cpu);
}

static void t_msrs(void **s)
{
	struct x86_cpu *cpu = mk64(NULL, 0);
	uint64_t v;

	/* EFER: reserved bits, LME while paging, LMA read-only. */
	assert_int_equal(x86_msr_write(cpu, 0xc0000080, cpu->efer | (1ull << 2)), X86_STOP_EXCEPTION);
	assert_int_equal(x86_msr_write(cpu, 0xc0000080, cpu->efer & ~X86_EFER_LME), X86_STOP_EXCEPTION);
	assert_int_equal(x86_msr_write(cpu, 0xc0000080, cpu->efer & ~X86_EFER_LMA), 0);
	assert_true(cpu->efer & X86_EFER_LMA);
	/* PAT: memory types 2 and 3 are reserved. */
	assert_int_equal(x86_msr_write(cpu, 0x277, 0x0007040600070402ull), X86_STOP_EXCEPTION);
	assert_int_equal(x86_msr_write(cpu, 0x277, 0x0007040600070401ull), 0);
	assert_int_equal(x86_msr_read(cpu, 0x277, &v), 0);
	assert_int_equal(v, 0x0007040600070401ull);
	/* Unknown MSRs are #GP(0). */
	assert_int_equal(x86_msr_read(cpu, 0x12345, &v), X86_STOP_EXCEPTION);
	assert_int_equal(cpu->exc_vector, X86_EXC_GP);
	/* x2APIC range goes to the embedder. */
	assert_int_equal(x86_msr_read(cpu, 0x802, &v), 0);
	assert_int_equal(v, 0x42);
	assert_int_equal(x86_msr_write(cpu, 0x80b, 0), 0);
	assert_int_equal(x2apic_last_msr, 0x80b);
	assert_int_equal(x86_msr_read(cpu, 0x803, &v), X86_STOP_EXCEPTION);
	/* TSC writes move the offset. */
	assert_int_equal(x86_msr_write(cpu, 0x10, 1000), 0);
	assert_int_equal(x86_msr_read(cpu, 0x10, &v), 0);
	assert_true(v >= 1000 && v < 1000 + (1ull << 40));
	/* ...and TSC_ADJUST by the same amount; writing TSC_ADJUST moves the TSC. */
	{
		uint64_t adj, t0, t1;

		assert_int_equal(x86_msr_read(cpu, 0x3b, &adj), 0);
		assert_true(adj != 0);
		assert_int_equal(x86_msr_read(cpu, 0x10, &t0), 0);
		assert_int_equal(x86_msr_write(cpu, 0x3b, adj + (1ull << 50)), 0);
		assert_int_equal(x86_msr_read(cpu, 0x10, &t1), 0);
		assert_true(t1 - t0 >= (1ull << 50) && t1 - t0 < (1ull << 50) + (1ull << 40));
		assert_int_equal(x86_msr_read(cpu, 0x3b, &v), 0);
		assert_int_equal(v, adj + (1ull << 50));
	}
	/* MTRR variable ranges are stored. */
	assert_int_equal(x86_msr_write(cpu, 0x201, 0xfff0000800ull), 0);
	assert_int_equal(x86_msr_read(cpu, 0x201, &v), 0);
	assert_int_equal(v, 0xfff0000800ull);
	done(cpu);
}

/* 32-bit protected mode -> long mode by the book, through instructions. */
static void t_mode_switch(void **s)
{
	static const uint8_t code[] = {
		0x0f, 0x20, 0xe0,             /* mov eax, cr4 */
		0x83, 0xc8, 0x20,             /* or eax, 0x20 (PAE) */
		0x0f, 0x22, 0xe0,             /* mov cr4, eax */
		0xb8, 0x00, 0x00, 0x01, 0x00, /* mov eax, PML4 */
		0x0f, 0x22, 0xd8,             /* mov cr3, eax */
		0xb9, 0x80, 0x00, 0x00, 0xc0, /* mov ecx, EFER */
		0x0f, 0x32,                   /* rdmsr */
		0x0d, 0x00, 0x01, 0x00, 0x00, /* or eax, LME */
		0x0f, 0x30,                   /* wrmsr */
		0x0f, 0x20, 0xc0,             /* mov eax, cr0 */
		0x0d, 0x00, 0x00, 0x00, 0x80, /* or eax, PG */
		0x0f, 0x22, 0xc0,             /* mov cr0, eax */
		0xea, 0x00, 0x01, 0x02, 0x00, 0x08, 0x00, /* jmp 0x08:0x20100 */
	};
	static const uint8_t code64[] = {
		0x48, 0xb8, 0, 0, 0, 0, 1, 0, 0, 0, /* mov rax, 1 << 32 */
		0xf4,
	};
	struct x86_cpu *cpu = mk_cpu();

	gdt_setup(false);
	map_identity();
	memcpy(ram + CODE, code, sizeof(code));
	memcpy(ram + CODE + 0x100, code64, sizeof(code64));
	cpu->cr0 = X86_CR0_PE | X86_CR0_ET;
	cpu->gdtr = (struct x86_dtr){ GDT, 0x47 };
	for (int sg = 0; sg < X86_NSEG; sg++)
		x86_set_seg(cpu, sg, 0x10, 0, 0xffffffff, X86_SEG_DATA32);
	x86_set_seg(cpu, X86_CS, 0x18, 0, 0xffffffff, X86_SEG_CODE32);
	cpu->rip = CODE;
	cpu->deliver_exceptions = true;
	assert_int_equal(x86_run(cpu, 100), X86_STOP_HLT);
	assert_int_equal(cpu->mode, X86_MODE_LONG64);
	assert_true(cpu->efer & X86_EFER_LMA);
	assert_int_equal(cpu->gpr[X86_RAX], 1ull << 32);
	/* Leaving long mode from 64-bit code is #GP; clearing PAE too. */
	cpu->deliver_exceptions = false;
	assert_int_equal(x86_write_cr0(cpu, cpu->cr0 & ~X86_CR0_PG), X86_STOP_EXCEPTION);
	assert_int_equal(x86_write_cr4(cpu, 0), X86_STOP_EXCEPTION);
	assert_int_equal(x86_write_cr0(cpu, X86_CR0_PG), X86_STOP_EXCEPTION); /* PG without PE */
	done(cpu);
}

/* STI shadow and the irq_pending stop; injection and HLT wake-up. */
static void t_irq(void **s)
{
	static const uint8_t code[] = {
		0xfb,       /* sti */
		0x90,       /* nop (shadow) */
		0x90, 0x90, /* nops */
		0xeb, 0xfe, /* jmp $ */
	};
	static const uint8_t hnd[] = { 0xb0, 0x77, /* mov al, 0x77 */ 0xf4 };
	struct x86_cpu *cpu = mk64(code, sizeof(code));

	memcpy(ram + HND, hnd, sizeof(hnd));
	gate64(0x30, HND, 0xe, 0, 0);
	x86_set_irq_pending(cpu, true);
	/* IF=0: irq_pending does not stop the CPU. */
	assert_int_equal(x86_run(cpu, 0), X86_STOP_BUDGET);
	assert_false(x86_interrupts_enabled(cpu));
	/* STI, then the shadow lets exactly one more instruction run. */
	/* Interrupts are taken at block boundaries: after the NOPs and JMP. */
	assert_int_equal(x86_run(cpu, 100), X86_STOP_IRQ);
	assert_int_equal(cpu->rip, CODE + 4);
	assert_true(x86_interrupts_enabled(cpu));
	assert_int_equal(x86_inject_interrupt(cpu, 0x30), 0);
	assert_int_equal(cpu->rip, HND);
	assert_false(x86_interrupts_enabled(cpu)); /* interrupt gate cleared IF */
	x86_set_irq_pending(cpu, false);
	assert_int_equal(x86_run(cpu, 100), X86_STOP_HLT);
	assert_int_equal(cpu->gpr[X86_RAX] & 0xff, 0x77);
	assert_int_equal(*q(KSTACK - 40), CODE + 4); /* return address */
	/* NMI: blocked until IRET. */
	gate64(2, HND, 0xe, 0, 0);
	assert_int_equal(x86_inject_nmi(cpu), 0);
	assert_int_equal(x86_inject_nmi(cpu), -16 /* -EBUSY */);
	done(cpu);
}

static void t_descriptor_loads(void **s)
{
	static const uint8_t code[] = {
		0x66, 0xb8, 0x20, 0x00, /* mov ax, 0x20 (DPL 3 data) */
		0x8e, 0xd8,             /* mov ds, ax: ok at CPL 0 */
		0x66, 0xb8, 0x23, 0x00, /* mov ax, 0x23 */
		0x8e, 0xd0,             /* mov ss, ax: RPL != CPL -> #GP(0x20) */
	};
	struct x86_cpu *cpu = mk64(code, sizeof(code));

	cpu->deliver_exceptions = false;
	assert_int_equal(x86_run(cpu, 100), X86_STOP_EXCEPTION);
	assert_int_equal(cpu->exc_vector, X86_EXC_GP);
	assert_int_equal(cpu->exc_error, 0x20);
	assert_int_equal(cpu->seg[X86_DS].sel, 0x20);
	/* At CPL 3 a DPL 0 data segment is refused. */
	x86_set_seg(cpu, X86_SS, 0x23, 0, 0xffffffff, X86_SEG_DATA32 | 0x60);
	assert_int_equal(x86_load_seg(cpu, X86_DS, 0x13), X86_STOP_EXCEPTION);
	assert_int_equal(cpu->exc_error, 0x10);
	assert_int_equal(x86_load_seg(cpu, X86_SS, 0), X86_STOP_EXCEPTION); /* null SS at CPL 3 */
	done(cpu);
}

static void t_tables_and_ltr(void **s)
{
	static const uint8_t code[] = {
		0x66, 0xb8, 0x38, 0x00, /* mov ax, 0x38 */
		0x0f, 0x00, 0xd8,       /* ltr ax */
		0x0f, 0x01, 0x04, 0x25, 0x00, 0x00, 0x06, 0x00, /* sgdt [DATA] */
		0x0f, 0x00, 0xcb,       /* str bx */
		0x66, 0xb9, 0x10, 0x00, /* mov cx, 0x10 */
		0x0f, 0x02, 0xd1,       /* lar edx, ecx */
		0x0f, 0x03, 0xf1,       /* lsl esi, ecx */
		0xf4,
	};
	struct x86_cpu *cpu = mk64(code, sizeof(code));

	cpu->tr = (struct x86_seg){ 0 };
	assert_int_equal(x86_run(cpu, 100), X86_STOP_HLT);
	assert_int_equal(cpu->tr.sel, 0x38);
	assert_int_equal(cpu->tr.base, TSS);
	assert_int_equal(cpu->tr.attr & 0xf, 0xb);        /* busy */
	assert_int_equal((q(GDT)[7] >> 40) & 0xf, 0xb);   /* marked in the GDT */
	assert_int_equal(*(uint16_t *)(ram + DATA), 0x47);
	assert_int_equal(ld64(DATA + 2), GDT);
	assert_int_equal(cpu->gpr[X86_RBX] & 0xffff, 0x38);
	assert_int_equal(cpu->gpr[X86_RDX], 0x00c09300u); /* limit 19:16 masked */
	assert_int_equal(cpu->gpr[X86_RSI], 0xffffffffu);
	assert_true(x86_get_rflags(cpu) & X86_ZF);
	done(cpu);
}

static void t_cpuid_leaves(void **s)
{
	struct x86_cpu *cpu = mk64(NULL, 0);
	uint32_t r[4];
	char v[13] = { 0 };

	x86_cpuid(cpu, 0, 0, r);
	memcpy(v, &r[1], 4);
	memcpy(v + 4, &r[3], 4);
	memcpy(v + 8, &r[2], 4);
	assert_string_equal(v, "GenuineIntel");
	assert_true(r[0] >= 0x16);
	x86_cpuid(cpu, 0x15, 0, r);
	assert_int_equal(r[0], 1);
	assert_int_equal(r[1], 2);
	assert_int_equal(r[2], 1000000000u);
	x86_cpuid(cpu, 1, 0, r);
	assert_true(r[2] & (1u << 24)); /* TSC deadline */
	assert_true(r[2] & (1u << 21)); /* x2APIC */
	assert_false(r[2] & (1u << 26)); /* no XSAVE */
	assert_false(r[2] & (1u << 27)); /* no OSXSAVE */
	cpu->apic_id = 5;
	x86_cpuid(cpu, 0xb, 0, r);
	assert_int_equal(r[3], 5);
	x86_cpuid(cpu, 7, 0, r);
	assert_true(r[1] & (1u << 19));  /* ADX */
	assert_false(r[1] & (1u << 5));  /* no AVX2 */
	assert_false(r[1] & (1u << 20)); /* no SMAP */
	x86_cpuid(cpu, 0x80000007, 0, r);
	assert_true(r[3] & (1u << 8));
	x86_cpuid(cpu, 0x80000001, 0, r);
	assert_true(r[3] & (1u << 20)); /* NX */
	done(cpu);
}

/* SYSENTER/SYSEXIT in 32-bit protected mode. */
static void t_sysenter(void **s)
{
	static const uint8_t ucode[] = { 0x0f, 0x34 };             /* sysenter */
	static const uint8_t kcode[] = { 0x89, 0xe3, 0x0f, 0x35 }; /* mov ebx, esp; sysexit */
	struct x86_cpu *cpu = mk_cpu();

	gdt_setup(false);
	/* SYSEXIT (32-bit) loads CS = SYSENTER_CS + 16, SS = + 24: put a DPL 3
	 * code and data pair there (0x18 + 16 = 0x28 is code64 DPL 3 in this
	 * GDT, but SYSEXIT does not read descriptors: flat 32-bit is loaded). */
	memcpy(ram + CODE, ucode, sizeof(ucode));
	memcpy(ram + HND, kcode, sizeof(kcode));
	cpu->cr0 = X86_CR0_PE | X86_CR0_ET;
	cpu->gdtr = (struct x86_dtr){ GDT, 0x47 };
	for (int sg = 0; sg < X86_NSEG; sg++)
		x86_set_seg(cpu, sg, 0x23, 0, 0xffffffff, X86_SEG_DATA32 | 0x60);
	x86_set_seg(cpu, X86_CS, 0x33, 0, 0xffffffff, X86_SEG_CODE32 | 0x60);
	cpu->rip = CODE;
	cpu->deliver_exceptions = false;
	/* SYSENTER_CS = 0 is #GP(0). */
	assert_int_equal(x86_run(cpu, 1), X86_STOP_EXCEPTION);
	assert_int_equal(cpu->exc_vector, X86_EXC_GP);
	assert_int_equal(x86_msr_write(cpu, 0x174, 0x18), 0);
	assert_int_equal(x86_msr_write(cpu, 0x175, KSTACK), 0);
	assert_int_equal(x86_msr_write(cpu, 0x176, HND), 0);
	cpu->gpr[X86_RCX] = USTACK;
	cpu->gpr[X86_RDX] = CODE + 0x100;
	x86_set_rflags(cpu, X86_IF);
	assert_int_equal(x86_run(cpu, 2), X86_STOP_BUDGET);
	assert_int_equal(cpu->cpl, 0);
	assert_int_equal(cpu->seg[X86_CS].sel, 0x18);
	assert_int_equal(cpu->seg[X86_SS].sel, 0x20);
	assert_false(x86_get_rflags(cpu) & X86_IF);
	assert_int_equal(cpu->gpr[X86_RBX], KSTACK);
	assert_int_equal(x86_run(cpu, 1), X86_STOP_BUDGET);
	assert_int_equal(cpu->cpl, 3);
	assert_int_equal(cpu->seg[X86_CS].sel, 0x2b);
	assert_int_equal(cpu->seg[X86_SS].sel, 0x33);
	assert_int_equal(cpu->rip, CODE + 0x100);
	assert_int_equal(cpu->gpr[X86_RSP], USTACK);
	assert_int_equal(cpu->mode, X86_MODE_PROT32);
	done(cpu);
}

/* IRETQ refuses bad frames: CS RPL below CPL, a data segment as CS, a
 * non-canonical RIP, a null SS for CPL 3, and NT set. */
static void t_iret_checks(void **s)
{
	static const uint8_t code[] = { 0x48, 0xcf }; /* iretq */
	struct x86_cpu *cpu = mk64(code, sizeof(code));
	static const struct {
		uint64_t rip, cs, ss;
		uint32_t err;
	} bad[] = {
		{ CODE, 0x10, 0x10, 0x10 },                 /* data segment as CS */
		{ 0x0000800000000000ull, 0x08, 0x10, 0 },   /* non-canonical RIP */
		{ CODE, 0x2b, 0x00, 0 },                    /* null SS at CPL 3 */
		{ CODE, 0x2b, 0x10, 0x10 },                 /* SS RPL != CS RPL */
		{ CODE, 0x0b, 0x10, 0x08 },                 /* RPL 3 with a DPL 0 CS */
		{ CODE, 0x50, 0x10, 0x50 },                 /* beyond the GDT limit */
	};

	cpu->deliver_exceptions = false;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t *f = q(KSTACK - 40);

		f[0] = bad[i].rip;
		f[1] = bad[i].cs;
		f[2] = 2;
		f[3] = USTACK;
		f[4] = bad[i].ss;
		cpu->rip = CODE;
		cpu->gpr[X86_RSP] = KSTACK - 40;
		assert_int_equal(x86_run(cpu, 1), X86_STOP_EXCEPTION);
		assert_int_equal(cpu->exc_vector, X86_EXC_GP);
		assert_int_equal(cpu->exc_error, bad[i].err);
		/* Nothing changed. */
		assert_int_equal(cpu->gpr[X86_RSP], KSTACK - 40);
		assert_int_equal(cpu->seg[X86_CS].sel, 0x08);
		assert_int_equal(cpu->cpl, 0);
	}
	/* NT: task return is not modelled, #GP(0). */
	q(KSTACK - 40)[1] = 0x08;
	q(KSTACK - 40)[0] = CODE;
	cpu->rip = CODE;
	x86_set_rflags(cpu, X86_NT);
	assert_int_equal(x86_run(cpu, 1), X86_STOP_EXCEPTION);
	assert_int_equal(cpu->exc_vector, X86_EXC_GP);
	/* A good frame to CPL 3 with IF; IOPL stays (CPL 0 may change it). */
	x86_set_rflags(cpu, 0);
	q(KSTACK - 40)[0] = CODE + 0x10;
	q(KSTACK - 40)[1] = 0x2b;
	q(KSTACK - 40)[2] = X86_IF | X86_IOPL | X86_CF;
	q(KSTACK - 40)[4] = 0x23;
	cpu->rip = CODE;
	assert_int_equal(x86_run(cpu, 1), X86_STOP_BUDGET);
	assert_int_equal(cpu->cpl, 3);
	assert_int_equal(cpu->rip, CODE + 0x10);
	assert_int_equal(cpu->gpr[X86_RSP], USTACK);
	assert_int_equal(x86_get_rflags(cpu) & (X86_IF | X86_IOPL | X86_CF),
			 X86_IF | X86_IOPL | X86_CF);
	done(cpu);
}

/* INVLPG and MOV CR3 as instructions; a page-table write needs them. */
static void t_invlpg_insn(void **s)
{
	static const uint8_t code[] = {
		0x8b, 0x04, 0x25, 0x00, 0x00, 0x07, 0x00, /* mov eax, [0x70000] */
		0xc7, 0x04, 0x25, 0x80, 0x33, 0x01, 0x00, 0x03, 0x10, 0x07, 0x00,
		/* mov dword [PT + 0x70*8], 0x71003 */
		0x8b, 0x1c, 0x25, 0x00, 0x00, 0x07, 0x00, /* mov ebx, [0x70000] (stale) */
		0x0f, 0x01, 0x3c, 0x25, 0x00, 0x00, 0x07, 0x00, /* invlpg [0x70000] */
		0x8b, 0x0c, 0x25, 0x00, 0x00, 0x07, 0x00, /* mov ecx, [0x70000] */
		0xf4,
	};
	struct x86_cpu *cpu = mk64(code, sizeof(code));

	ram[0x70000] = 0x11;
	ram[0x71000] = 0x22;
	assert_int_equal(x86_run(cpu, 100), X86_STOP_HLT);
	assert_int_equal(cpu->gpr[X86_RAX] & 0xff, 0x11);
	assert_int_equal(cpu->gpr[X86_RBX] & 0xff, 0x11);
	assert_int_equal(cpu->gpr[X86_RCX] & 0xff, 0x22);
	done(cpu);
}

/* Code in a page that is remapped: the block cache must follow CR3. */
static void t_code_remap(void **s)
{
	static const uint8_t a[] = { 0xb0, 0x01, 0xf4 }; /* mov al, 1; hlt */
	static const uint8_t b[] = { 0xb0, 0x02, 0xf4 }; /* mov al, 2; hlt */
	struct x86_cpu *cpu = mk64(NULL, 0);

	memcpy(ram + 0x80000, a, sizeof(a));
	memcpy(ram + 0x81000, b, sizeof(b));
	q(PT)[0x70] = 0x80000 | 3;
	cpu->rip = 0x70000;
	assert_int_equal(x86_run(cpu, 10), X86_STOP_HLT);
	assert_int_equal(cpu->gpr[X86_RAX] & 0xff, 1);
	q(PT)[0x70] = 0x81000 | 3;
	assert_int_equal(x86_write_cr3(cpu, PML4), 0);
	cpu->rip = 0x70000;
	assert_int_equal(x86_run(cpu, 10), X86_STOP_HLT);
	assert_int_equal(cpu->gpr[X86_RAX] & 0xff, 2);
	/* A user-mode jump into a supervisor-only code page faults even though
	 * the block is cached. */
	q(PT)[0x70] = 0x81000 | 3; /* U/S clear */
	x86_set_seg(cpu, X86_SS, 0x23, 0, 0xffffffff, X86_SEG_DATA32 | 0x60);
	x86_set_seg(cpu, X86_CS, 0x2b, 0, 0xffffffff, X86_SEG_CODE64 | 0x60);
	cpu->rip = 0x70000;
	cpu->deliver_exceptions = false;
	assert_int_equal(x86_run(cpu, 10), X86_STOP_EXCEPTION);
	assert_int_equal(cpu->exc_vector, X86_EXC_PF);
	assert_int_equal(cpu->exc_error, X86_PF_P | X86_PF_U | X86_PF_I);
	done(cpu);
}

/* Far JMP through code descriptors: privilege rules, call gates refused. */
static void t_far_jmp(void **s)
{
	static const uint8_t code[] = { 0xff, 0x2c, 0x25, 0x00, 0x00, 0x06, 0x00 }; /* jmp far [DATA] */
	struct x86_cpu *cpu = mk64(code, sizeof(code));
	static const struct {
		uint16_t sel;
		int ok;
		uint32_t err;
	} cases[] = {
		{ 0x08, 1, 0 },    /* same privilege */
		{ 0x2b, 0, 0x28 }, /* DPL 3 non-conforming from CPL 0 */
		{ 0x0b, 0, 0x08 }, /* RPL 3 > CPL 0 */
		{ 0x38, 0, 0x38 }, /* system descriptor (TSS; gates likewise) */
		{ 0x10, 0, 0x10 }, /* data segment */
	};

	cpu->deliver_exceptions = false;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		*(uint32_t *)(ram + DATA) = CODE + 0x40;
		*(uint16_t *)(ram + DATA + 4) = cases[i].sel;
		x86_set_seg(cpu, X86_CS, 0x08, 0, 0xffffffff, X86_SEG_CODE64);
		cpu->rip = CODE;
		if (cases[i].ok) {
			assert_int_equal(x86_run(cpu, 1), X86_STOP_BUDGET);
			assert_int_equal(cpu->rip, CODE + 0x40);
			assert_int_equal(cpu->seg[X86_CS].sel, cases[i].sel);
		} else {
			assert_int_equal(x86_run(cpu, 1), X86_STOP_EXCEPTION);
			assert_int_equal(cpu->exc_vector, X86_EXC_GP);
			assert_int_equal(cpu->exc_error, cases[i].err);
			assert_int_equal(cpu->rip, CODE);
		}
	}
	done(cpu);
}

/* MOV SS holds interrupts for one instruction, like STI. */
static void t_mov_ss_shadow(void **s)
{
	static const uint8_t code[] = {
		0x8e, 0xd0, /* mov ss, eax */
		0x90,       /* nop */
		0xeb, 0xfe, /* jmp $ */
	};
	struct x86_cpu *cpu = mk64(code, sizeof(code));

	cpu->gpr[X86_RAX] = 0x10;
	x86_set_rflags(cpu, X86_IF);
	x86_set_irq_pending(cpu, true);
	assert_int_equal(x86_run(cpu, 100), X86_STOP_IRQ); /* enabled at once */
	assert_int_equal(cpu->rip, CODE);
	x86_set_irq_pending(cpu, false);
	assert_int_equal(x86_run(cpu, 1), X86_STOP_BUDGET);
	assert_int_equal(cpu->rip, CODE + 2);
	assert_false(x86_interrupts_enabled(cpu));
	x86_set_irq_pending(cpu, true);
	assert_int_equal(x86_run(cpu, 100), X86_STOP_IRQ);
	assert_int_equal(cpu->rip, CODE + 3);
	done(cpu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_walk4),
		cmocka_unit_test(t_pf_codes),
		cmocka_unit_test(t_pae_and_32bit),
		cmocka_unit_test(t_tlb_policy),
		cmocka_unit_test(t_pf_delivery),
		cmocka_unit_test(t_exceptions_returned),
		cmocka_unit_test(t_int64_user),
		cmocka_unit_test(t_double_triple),
		cmocka_unit_test(t_real_int),
		cmocka_unit_test(t_prot32_int),
		cmocka_unit_test(t_syscall),
		cmocka_unit_test(t_privilege),
		cmocka_unit_test(t_msrs),
		cmocka_unit_test(t_mode_switch),
		cmocka_unit_test(t_irq),
		cmocka_unit_test(t_descriptor_loads),
		cmocka_unit_test(t_tables_and_ltr),
		cmocka_unit_test(t_cpuid_leaves),
		cmocka_unit_test(t_sysenter),
		cmocka_unit_test(t_iret_checks),
		cmocka_unit_test(t_invlpg_insn),
		cmocka_unit_test(t_code_remap),
		cmocka_unit_test(t_far_jmp),
		cmocka_unit_test(t_mov_ss_shadow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
