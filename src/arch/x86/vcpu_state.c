#include "arch/x86/vcpu_state.h"

#include <inttypes.h>
#include <stdio.h>

static const char *const gpr_names[16] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15",
};
static const char *const seg_names[X86_NR_SEGS] = {
	"es", "cs", "ss", "ds", "fs", "gs", "ldt", "tr",
};

void x86_vcpu_state_dump(const struct x86_vcpu_state *s, void *file)
{
	FILE *f = file;

	if (!s || !f)
		return;
	for (int i = 0; i < 16; i += 2)
		fprintf(f, "%-3s=%016" PRIx64 "  %-3s=%016" PRIx64 "\n", gpr_names[i], s->gpr[i],
			gpr_names[i + 1], s->gpr[i + 1]);
	fprintf(f, "rip=%016" PRIx64 "  rflags=%08" PRIx64 "\n", s->rip, s->rflags);
	for (int i = 0; i < X86_NR_SEGS; i++) {
		const struct x86_segment *g = &s->seg[i];

		fprintf(f,
			"%-3s sel=%04x base=%016" PRIx64 " limit=%08x type=%x s=%u dpl=%u p=%u l=%u "
			"db=%u g=%u%s\n",
			seg_names[i], g->selector, g->base, g->limit, g->type, g->s, g->dpl,
			g->present, g->l, g->db, g->g, g->unusable ? " unusable" : "");
	}
	fprintf(f, "gdt base=%016" PRIx64 " limit=%04x  idt base=%016" PRIx64 " limit=%04x\n",
		s->gdt.base, s->gdt.limit, s->idt.base, s->idt.limit);
	fprintf(f, "cr0=%016" PRIx64 " cr2=%016" PRIx64 " cr3=%016" PRIx64 "\n", s->cr0, s->cr2,
		s->cr3);
	fprintf(f, "cr4=%016" PRIx64 " cr8=%016" PRIx64 " efer=%016" PRIx64 "\n", s->cr4, s->cr8,
		s->efer);
	fprintf(f, "apic_base=%016" PRIx64 " pat=%016" PRIx64 " tsc=%016" PRIx64 "\n",
		s->apic_base, s->pat, s->tsc);
	fprintf(f, "star=%016" PRIx64 " lstar=%016" PRIx64 " cstar=%016" PRIx64 " sfmask=%016" PRIx64
		"\n", s->star, s->lstar, s->cstar, s->sfmask);
	fprintf(f, "kernel_gs_base=%016" PRIx64 " sysenter cs=%" PRIx64 " esp=%016" PRIx64
		" eip=%016" PRIx64 "\n", s->kernel_gs_base, s->sysenter_cs, s->sysenter_esp,
		s->sysenter_eip);
}
