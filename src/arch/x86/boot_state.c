/*
 * The boot vCPU's state: a flat GDT, identity page tables for long mode and
 * the register file a boot protocol asks for.
 *
 * GDT selectors (docs/boot.md): 0x10 is always the code segment the vCPU
 * starts in and 0x18 the flat data segment, because Linux's boot protocols
 * (32-bit and 64-bit) name __BOOT_CS = 0x10 and __BOOT_DS = 0x18. In long
 * mode 0x10 is 64-bit code and 0x08 32-bit code; in 32-bit protected mode
 * the two swap, so 0x10 is 32-bit code there.
 */
#include "arch/x86/boot_state.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "mem/guest_mem.h"

#define SEL_CODE_OTHER 0x08
#define SEL_CODE       0x10
#define SEL_DATA       0x18
#define GDT_ENTRIES    4

#define GDT_CODE32 0x00cf9b000000ffffull /* base 0, 4 GiB, G, D, P, execute/read, accessed */
#define GDT_CODE64 0x00af9b000000ffffull /* as above with L instead of D */
#define GDT_DATA   0x00cf93000000ffffull /* base 0, 4 GiB, G, B, P, read/write, accessed */

#define CR0_PE (1ull << 0)
#define CR0_ET (1ull << 4)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

#define PTE_P  (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_PS (1ull << 7)

#define APIC_BASE_BSP    (1ull << 8)
#define APIC_BASE_ENABLE (1ull << 11)
#define PAT_POWER_ON     0x0007040600070406ull

static void seg_flat(struct x86_segment *s, uint16_t sel, uint8_t type, bool l, bool db)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = 0;
	s->limit = 0xffffffff;
	s->type = type;
	s->s = 1;
	s->present = 1;
	s->l = l;
	s->db = db;
	s->g = 1;
}

static void seg_real(struct x86_segment *s, uint8_t type)
{
	memset(s, 0, sizeof(*s));
	s->limit = 0xffff;
	s->type = type;
	s->s = 1;
	s->present = 1;
}

static void seg_system(struct x86_vcpu_state *st, bool real)
{
	struct x86_segment *tr = &st->seg[X86_SEG_TR];
	struct x86_segment *ldt = &st->seg[X86_SEG_LDTR];

	/*
	 * VM entry wants a present busy TSS even though the guest never uses it
	 * before loading its own; a null LDT is marked unusable.
	 */
	memset(tr, 0, sizeof(*tr));
	tr->limit = 0x67;
	tr->type = real ? 3 : 11;
	tr->present = 1;
	memset(ldt, 0, sizeof(*ldt));
	ldt->limit = 0xffff;
	ldt->type = 2;
	ldt->present = 1;
	ldt->unusable = 1;
}

static int write_u64(struct guest_mem *gm, uint64_t gpa, uint64_t v)
{
	return gmem_write(gm, gpa, &v, sizeof(v));
}

static int write_gdt(struct guest_mem *gm, bool long_mode)
{
	uint64_t gdt[GDT_ENTRIES] = {0};

	gdt[SEL_CODE_OTHER / 8] = long_mode ? GDT_CODE32 : GDT_CODE64;
	gdt[SEL_CODE / 8] = long_mode ? GDT_CODE64 : GDT_CODE32;
	gdt[SEL_DATA / 8] = GDT_DATA;
	return gmem_write(gm, LAYOUT_BOOT_GDT, gdt, sizeof(gdt));
}

/* PML4[0] -> PDPT, PDPT[0..3] -> 4 PDs of 2 MiB pages: identity map of 0-4 GiB. */
static int write_page_tables(struct guest_mem *gm)
{
	uint64_t pd[512];
	int rc;

	rc = write_u64(gm, LAYOUT_PML4, LAYOUT_PDPT | PTE_P | PTE_RW);
	for (unsigned i = 1; i < 512 && !rc; i++)
		rc = write_u64(gm, LAYOUT_PML4 + i * 8, 0);
	for (unsigned i = 0; i < 512 && !rc; i++) {
		uint64_t v = i < 4 ? (LAYOUT_PD + i * 0x1000ull) | PTE_P | PTE_RW : 0;

		rc = write_u64(gm, LAYOUT_PDPT + i * 8, v);
	}
	for (unsigned t = 0; t < 4 && !rc; t++) {
		for (unsigned i = 0; i < 512; i++)
			pd[i] = ((uint64_t)(t * 512 + i) << 21) | PTE_P | PTE_RW | PTE_PS;
		rc = gmem_write(gm, LAYOUT_PD + t * 0x1000ull, pd, sizeof(pd));
	}
	return rc;
}

int x86_boot_state_apply(const struct x86_boot_state *bs, struct guest_mem *gm,
			 struct x86_vcpu_state *out)
{
	struct x86_vcpu_state st;
	int rc;

	if (!bs || !gm || !out)
		return -EINVAL;
	memset(&st, 0, sizeof(st));
	st.rflags = 0x2;
	st.apic_base = LAYOUT_LAPIC | APIC_BASE_BSP | APIC_BASE_ENABLE;
	st.pat = PAT_POWER_ON;
	st.gpr[X86_RAX] = bs->rax;
	st.gpr[X86_RBX] = bs->rbx;
	st.gpr[X86_RSI] = bs->rsi;
	st.gpr[X86_RSP] = bs->rsp;
	st.rip = bs->entry;
	st.idt.base = 0;
	st.idt.limit = 0xffff;

	switch (bs->mode) {
	case X86_BOOT_REAL16:
		/* CS base 0 means IP alone addresses the entry: it must fit 16 bits. */
		if (bs->entry > 0xffff || bs->rsp > 0xffff)
			return -EINVAL;
		st.cr0 = CR0_ET;
		seg_real(&st.seg[X86_SEG_CS], 0xb);
		for (int s = X86_SEG_ES; s <= X86_SEG_GS; s++)
			if (s != X86_SEG_CS)
				seg_real(&st.seg[s], 0x3);
		seg_system(&st, true);
		break;
	case X86_BOOT_PROT32:
	case X86_BOOT_LONG64: {
		bool lm = bs->mode == X86_BOOT_LONG64;

		/*
		 * 32-bit mode cannot reach past 4 GiB, and in long mode the boot
		 * page tables map only 0-4 GiB: an entry or stack beyond would fault
		 * before the kernel could build its own tables.
		 */
		if (bs->entry > 0xffffffffull || bs->rsp > 0x100000000ull ||
		    (!lm && bs->rsp > 0xffffffffull))
			return -EINVAL;
		rc = write_gdt(gm, lm);
		if (rc)
			return rc;
		st.gdt.base = LAYOUT_BOOT_GDT;
		st.gdt.limit = GDT_ENTRIES * 8 - 1;
		st.cr0 = CR0_PE | CR0_ET;
		seg_flat(&st.seg[X86_SEG_CS], SEL_CODE, 0xb, lm, !lm);
		for (int s = X86_SEG_ES; s <= X86_SEG_GS; s++)
			if (s != X86_SEG_CS)
				seg_flat(&st.seg[s], SEL_DATA, 0x3, false, true);
		seg_system(&st, false);
		if (lm) {
			rc = write_page_tables(gm);
			if (rc)
				return rc;
			st.cr0 |= CR0_PG;
			st.cr3 = LAYOUT_PML4;
			st.cr4 = CR4_PAE;
			st.efer = EFER_LME | EFER_LMA;
		}
		break;
	}
	default:
		return -EINVAL;
	}
	*out = st;
	return 0;
}
