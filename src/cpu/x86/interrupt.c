/*
 * Event delivery (SDM Vol. 3 chapter 6): exceptions, external interrupts,
 * NMI and software interrupts through the real-mode IVT, 16/32-bit
 * interrupt and trap gates (with the TSS stack switch on a privilege
 * change) and 64-bit gates (IST, 16-byte aligned frames, null SS on a CPL
 * change). A fault during delivery follows the double-fault rules; a fault
 * while delivering #DF is a triple fault (X86_STOP_SHUTDOWN).
 *
 * Delivery is all-or-nothing: every table and stack access happens before
 * any register changes, and the frame is written with one linear write
 * (which looks up both pages before writing either).
 *
 * Not modelled (documented): task gates and hardware task switches (#GP),
 * virtual-8086 mode, the EXT bit in #NP/#SS/#TS from task switches. STI,
 * MOV SS and POP SS hold interrupts for one instruction (X86_CONT_SHADOW).
 */
#include <errno.h>

#include "cpu/x86/system.h"

bool x86_interrupts_enabled(const struct x86_cpu *cpu)
{
	return (cpu->rflags & X86_IF) && cpu->shadow_icount != cpu->icount + 1;
}

static int raise_err(struct x86_cpu *cpu, unsigned vec, uint32_t err)
{
	return x86_raise(cpu, vec, true, err);
}

/* Where and how the handler runs, gathered before anything changes. */
struct target {
	struct x86_seg cs, ss;
	uint64_t rip, rsp;
	unsigned cpl;
	bool new_stack;
};

static int deliver_real(struct x86_cpu *cpu, unsigned vec, uint32_t ext)
{
	uint32_t ivt;
	uint16_t frame[3];
	uint64_t flags = x86_get_rflags(cpu), sp, la;
	int rc;

	/* vec comes from the guest (INT n) or a device: the IVT limit bounds it. */
	if (vec * 4 + 3 > cpu->idtr.limit)
		return raise_err(cpu, X86_EXC_GP, vec * 8 + 2 + ext);
	rc = x86_sys_read(cpu, cpu->idtr.base + vec * 4, &ivt, 4);
	if (rc)
		return rc;
	frame[0] = (uint16_t)cpu->rip;
	frame[1] = cpu->seg[X86_CS].sel;
	frame[2] = (uint16_t)flags;
	sp = (uint16_t)(cpu->gpr[X86_RSP] - 6);
	if (sp + 5 > cpu->seg[X86_SS].limit)
		return raise_err(cpu, X86_EXC_SS, 0);
	la = cpu->seg[X86_SS].base + sp;
	rc = x86_sys_write(cpu, la, frame, 6);
	if (rc)
		return rc;
	cpu->gpr[X86_RSP] = (cpu->gpr[X86_RSP] & ~0xffffull) | sp;
	x86_set_rflags(cpu, flags & ~(uint64_t)(X86_IF | X86_TF | X86_AC | X86_RF));
	cpu->seg[X86_CS].sel = (uint16_t)(ivt >> 16);
	cpu->seg[X86_CS].base = (uint64_t)(ivt >> 16) << 4;
	cpu->rip = ivt & 0xffff;
	return 0;
}

/* The inner stack from the TSS for privilege level dpl (32/16-bit TSS). */
static int tss_stack_legacy(struct x86_cpu *cpu, unsigned dpl, uint32_t ext, uint16_t *ss,
			    uint32_t *esp)
{
	bool t32 = (cpu->tr.attr & 0xf) == 9 || (cpu->tr.attr & 0xf) == 0xb;
	unsigned off = t32 ? 4 + dpl * 8 : 2 + dpl * 4, wide = t32 ? 4 : 2;
	uint32_t sp = 0;
	uint16_t sel;
	int rc;

	if (off + wide + 1 > cpu->tr.limit)
		return raise_err(cpu, X86_EXC_TS, (cpu->tr.sel & ~3u) | ext);
	rc = x86_sys_read(cpu, cpu->tr.base + off, &sp, wide);
	if (!rc)
		rc = x86_sys_read(cpu, cpu->tr.base + off + wide, &sel, 2);
	if (rc)
		return rc;
	*ss = sel;
	*esp = sp;
	return 0;
}

/* The inner SS from the TSS must be a writable data segment at dpl. */
static int load_inner_ss(struct x86_cpu *cpu, uint16_t sel, unsigned dpl, uint32_t ext,
			 struct x86_seg *ss)
{
	uint32_t d[2];
	int rc;

	if (!(sel & ~3u) || (sel & 3) != dpl)
		return raise_err(cpu, X86_EXC_TS, (sel & ~3u) | ext);
	rc = x86_desc_read(cpu, sel, d, X86_EXC_TS, ext);
	if (rc)
		return rc;
	x86_desc_unpack(d, sel, ss);
	if (!(ss->attr & X86_SEG_S) || (ss->attr & 0xa) != 0x2 || X86_SEG_DPL(ss->attr) != dpl)
		return raise_err(cpu, X86_EXC_TS, (sel & ~3u) | ext);
	if (!(ss->attr & X86_SEG_P))
		return raise_err(cpu, X86_EXC_SS, (sel & ~3u) | ext);
	return 0;
}

static int deliver_prot(struct x86_cpu *cpu, unsigned vec, enum x86_event_kind kind,
			bool has_err, uint32_t err)
{
	bool lm = (cpu->efer & X86_EFER_LMA) != 0;
	uint32_t ext = kind == X86_EV_SOFT ? 0 : 1, gate[4], cd[2], idt_err = vec * 8 + 2 + ext;
	unsigned esize = lm ? 16 : 8, type, gdpl, w, ist = 0, n = 0, dpl;
	struct target t;
	uint64_t frame[6], flags = x86_get_rflags(cpu), la;
	uint16_t sel;
	bool trap;
	int rc;

	/* vec and the IDT are guest-controlled: the entry must lie inside. */
	if (vec * esize + esize - 1 > cpu->idtr.limit)
		return raise_err(cpu, X86_EXC_GP, idt_err);
	rc = x86_sys_read(cpu, cpu->idtr.base + vec * esize, gate, esize);
	if (rc)
		return rc;
	type = (gate[1] >> 8) & 0x1f; /* includes S, which must be 0 */
	gdpl = (gate[1] >> 13) & 3;
	if (lm ? (type != 0xe && type != 0xf)
	       : (type != 0x6 && type != 0x7 && type != 0xe && type != 0xf))
		return raise_err(cpu, X86_EXC_GP, idt_err); /* incl. task gates */
	if (kind == X86_EV_SOFT && gdpl < cpu->cpl)
		return raise_err(cpu, X86_EXC_GP, idt_err);
	if (!(gate[1] & (1u << 15)))
		return raise_err(cpu, X86_EXC_NP, idt_err);
	trap = type & 1;
	w = lm ? 8 : (type & 8) ? 4 : 2;
	sel = (uint16_t)(gate[0] >> 16);
	t.rip = (gate[0] & 0xffff) | (w >= 4 ? (gate[1] & 0xffff0000u) : 0);
	if (lm) {
		t.rip |= (uint64_t)gate[2] << 32;
		ist = gate[1] & 7;
	}

	/* The handler's code segment. */
	if (!(sel & ~3u))
		return raise_err(cpu, X86_EXC_GP, ext);
	rc = x86_desc_read(cpu, sel, cd, X86_EXC_GP, ext);
	if (rc)
		return rc;
	x86_desc_unpack(cd, sel, &t.cs);
	dpl = X86_SEG_DPL(t.cs.attr);
	if (!(t.cs.attr & X86_SEG_S) || !(t.cs.attr & 8) || dpl > cpu->cpl)
		return raise_err(cpu, X86_EXC_GP, (sel & ~3u) | ext);
	if (lm && (!(t.cs.attr & X86_SEG_L) || (t.cs.attr & X86_SEG_DB)))
		return raise_err(cpu, X86_EXC_GP, (sel & ~3u) | ext);
	if (!(t.cs.attr & X86_SEG_P))
		return raise_err(cpu, X86_EXC_NP, (sel & ~3u) | ext);
	if (flags & X86_VM)
		return raise_err(cpu, X86_EXC_GP, (sel & ~3u) | ext); /* v8086: not modelled */
	t.cpl = (t.cs.attr & 4) ? cpu->cpl : dpl; /* conforming keeps CPL */
	t.new_stack = t.cpl < cpu->cpl;
	if (lm) {
		if ((uint64_t)((int64_t)(t.rip << 16) >> 16) != t.rip)
			return raise_err(cpu, X86_EXC_GP, ext);
	} else if (t.rip > t.cs.limit) {
		return raise_err(cpu, X86_EXC_GP, ext);
	}

	/* The stack. */
	t.ss = cpu->seg[X86_SS];
	t.rsp = cpu->gpr[X86_RSP];
	if (lm) {
		uint64_t v = 0;
		unsigned off = 0;

		if (ist)
			off = 0x24 + (ist - 1) * 8;
		else if (t.new_stack)
			off = 4 + t.cpl * 8;
		if (off) {
			if (off + 7 > cpu->tr.limit)
				return raise_err(cpu, X86_EXC_TS, (cpu->tr.sel & ~3u) | ext);
			rc = x86_sys_read(cpu, cpu->tr.base + off, &v, 8);
			if (rc)
				return rc;
			t.rsp = v;
		}
		if (t.new_stack) {
			t.ss = (struct x86_seg){ .sel = (uint16_t)t.cpl,
						 .attr = (uint16_t)(0x93 | t.cpl << 5) };
		}
		t.rsp &= ~0xfull;
		frame[n++] = cpu->rip;
		frame[n++] = cpu->seg[X86_CS].sel;
		frame[n++] = flags;
		frame[n++] = cpu->gpr[X86_RSP];
		frame[n++] = cpu->seg[X86_SS].sel;
		if ((uint64_t)((int64_t)((t.rsp - 48) << 16) >> 16) != t.rsp - 48)
			return raise_err(cpu, X86_EXC_SS, ext);
	} else {
		if (t.new_stack) {
			uint16_t ss_sel = 0;
			uint32_t esp = 0;

			rc = tss_stack_legacy(cpu, t.cpl, ext, &ss_sel, &esp);
			if (!rc)
				rc = load_inner_ss(cpu, ss_sel, t.cpl, ext, &t.ss);
			if (rc)
				return rc;
			t.rsp = esp;
		}
		frame[n++] = cpu->rip;
		frame[n++] = cpu->seg[X86_CS].sel;
		frame[n++] = flags;
		if (t.new_stack) {
			frame[n++] = cpu->gpr[X86_RSP];
			frame[n++] = cpu->seg[X86_SS].sel;
		}
	}
	{
		/* Pack the frame at the gate's width, error code lowest. */
		uint8_t buf[6 * 8 + 8];
		unsigned k, len = 0, total = (n + has_err) * w;
		uint64_t mask = lm ? ~0ull : (t.ss.attr & X86_SEG_DB) ? 0xffffffffull : 0xffffull;
		uint64_t sp = (t.rsp - total) & mask;

		if (has_err) {
			memcpy(buf, &(uint64_t){ err }, w);
			len = w;
		}
		for (k = 0; k < n; k++) {
			memcpy(buf + len, &frame[k], w);
			len += w;
		}
		if (!lm && (sp + total - 1 > t.ss.limit || sp > sp + total - 1))
			return raise_err(cpu, X86_EXC_SS,
					 t.new_stack ? ((t.ss.sel & ~3u) | ext) : ext);
		la = lm ? sp : (uint32_t)(t.ss.base + sp);
		cpu->implicit_sv = t.new_stack || t.cpl < 3;
		rc = x86_write_lin(cpu, la, buf, len);
		cpu->implicit_sv = 0;
		if (rc)
			return rc;
		t.rsp = (t.rsp & ~mask) | sp;
	}

	/* Commit. */
	flags &= ~(uint64_t)(X86_TF | X86_NT | X86_RF | X86_VM);
	if (!trap)
		flags &= ~(uint64_t)X86_IF;
	x86_set_rflags(cpu, flags);
	t.cs.sel = (uint16_t)((sel & ~3u) | t.cpl);
	cpu->seg[X86_CS] = t.cs;
	cpu->seg[X86_SS] = t.ss;
	cpu->gpr[X86_RSP] = t.rsp;
	cpu->rip = t.rip;
	x86_update_mode(cpu);
	return 0;
}

static bool contributory(unsigned v)
{
	return v == X86_EXC_DE || (v >= X86_EXC_TS && v <= X86_EXC_GP);
}

static int deliver_one(struct x86_cpu *cpu, unsigned vec, enum x86_event_kind kind,
		       bool has_err, uint32_t err)
{
	if (kind == X86_EV_EXC && vec == X86_EXC_PF)
		cpu->cr2 = cpu->exc_addr;
	if (!(cpu->cr0 & X86_CR0_PE))
		return deliver_real(cpu, vec, kind == X86_EV_SOFT ? 0 : 1);
	return deliver_prot(cpu, vec, kind, has_err, err);
}

int x86_deliver_event(struct x86_cpu *cpu, unsigned vector, enum x86_event_kind kind,
		      bool has_error, uint32_t error)
{
	unsigned tries;

	cpu->shadow_icount = 0;
	if (kind == X86_EV_NMI)
		vector = 2;
	/* Real mode pushes no error codes. */
	for (tries = 0; tries < 4; tries++) {
		bool first_exc = kind == X86_EV_EXC;
		unsigned second;
		int rc = deliver_one(cpu, vector, kind, has_error && (cpu->cr0 & X86_CR0_PE), error);

		if (rc != X86_STOP_EXCEPTION) {
			if (!rc && kind == X86_EV_NMI)
				cpu->nmi_blocked = 1;
			return rc;
		}
		second = cpu->exc_vector;
		if (first_exc && vector == X86_EXC_DF)
			return X86_STOP_SHUTDOWN;
		if (first_exc && ((contributory(vector) && contributory(second)) ||
				  (vector == X86_EXC_PF &&
				   (second == X86_EXC_PF || contributory(second))))) {
			vector = X86_EXC_DF;
			has_error = true;
			error = 0;
		} else {
			/* Benign first event: the second is handled serially. */
			vector = second;
			has_error = cpu->exc_has_error;
			error = cpu->exc_error;
		}
		kind = X86_EV_EXC;
	}
	return X86_STOP_SHUTDOWN;
}

int x86_exception(struct x86_cpu *cpu, const struct x86_insn *in)
{
	/* INT n, INT3 and INTO are software interrupts (gate DPL checked);
	 * their handler already moved RIP past the instruction (a trap). */
	bool soft = in && in->map == X86_MAP_1B &&
		    (in->op == 0xcc || in->op == 0xcd || in->op == 0xce);

	if (!cpu->deliver_exceptions) {
		if (cpu->exc_vector == X86_EXC_PF && !soft)
			cpu->cr2 = cpu->exc_addr;
		return X86_STOP_EXCEPTION;
	}
	if (soft) {
		int rc;

		cpu->shadow_icount = 0;
		rc = deliver_one(cpu, cpu->exc_vector, X86_EV_SOFT, false, 0);
		if (rc != X86_STOP_EXCEPTION) {
			if (!rc)
				cpu->icount++; /* a trap retires its instruction */
			return rc;
		}
		/* The delivery faulted (gate DPL, not present...): that fault
		 * belongs to the INT instruction, so RIP goes back to it. */
		cpu->rip -= in->len;
	}
	return x86_deliver_event(cpu, cpu->exc_vector, X86_EV_EXC, cpu->exc_has_error,
				 cpu->exc_error);
}

int x86_inject_interrupt(struct x86_cpu *cpu, uint8_t vector)
{
	return x86_deliver_event(cpu, vector, X86_EV_HW, false, 0);
}

int x86_inject_nmi(struct x86_cpu *cpu)
{
	if (cpu->nmi_blocked)
		return -EBUSY;
	return x86_deliver_event(cpu, 2, X86_EV_NMI, false, 0);
}
