/* FXSAVE/FXRSTOR images (SDM Vol 1, 10.5.1) and the reset state. */
#include <errno.h>

#include "cpu/x86/fpu/fpu_internal.h"

void fpu_state_reset(struct x86_fpu_state *fs)
{
	memset(fs, 0, sizeof(*fs));
	fs->fcw = 0x0040; /* power-up value (SDM Vol 3, Table 9-1); FNINIT gives 0x037f */
	fs->mxcsr = MXCSR_DEFAULT;
}

void fpu_fxsave(const struct x86_fpu_state *fs, uint8_t img[512], bool rex_w)
{
	unsigned top = fpu_top(fs);
	uint32_t mask = MXCSR_MASK;

	memset(img, 0, 512);
	memcpy(img, &fs->fcw, 2);
	memcpy(img + 2, &fs->fsw, 2);
	img[4] = (uint8_t)fs->ftw;
	memcpy(img + 6, &fs->fop, 2);
	if (rex_w) {
		memcpy(img + 8, &fs->fip, 8);
		memcpy(img + 16, &fs->fdp, 8);
	} else {
		uint32_t ip = (uint32_t)fs->fip, dp = (uint32_t)fs->fdp;

		memcpy(img + 8, &ip, 4);
		memcpy(img + 12, &fs->fcs, 2);
		memcpy(img + 16, &dp, 4);
		memcpy(img + 20, &fs->fds, 2);
	}
	memcpy(img + 24, &fs->mxcsr, 4);
	memcpy(img + 28, &mask, 4);
	for (unsigned i = 0; i < 8; i++) {
		const struct x87_reg *r = &fs->st[(top + i) & 7];

		memcpy(img + 32 + 16 * i, &r->signif, 8);
		memcpy(img + 40 + 16 * i, &r->sign_exp, 2);
	}
	memcpy(img + 160, fs->xmm, 256);
}

int fpu_fxrstor(struct x86_fpu_state *fs, const uint8_t img[512], bool rex_w)
{
	uint32_t mxcsr;
	unsigned top;

	/* Guest- or snapshot-supplied: MXCSR reserved bits would make the
	 * host's LDMXCSR fault later, so they are rejected (#GP) up front. */
	memcpy(&mxcsr, img + 24, 4);
	if (mxcsr & ~MXCSR_MASK)
		return -EINVAL;
	fs->mxcsr = mxcsr;
	memcpy(&fs->fcw, img, 2);
	memcpy(&fs->fsw, img + 2, 2);
	fs->ftw = img[4];
	memcpy(&fs->fop, img + 6, 2);
	fs->fop &= 0x7ff;
	if (rex_w) {
		memcpy(&fs->fip, img + 8, 8);
		memcpy(&fs->fdp, img + 16, 8);
	} else {
		uint32_t ip, dp;

		memcpy(&ip, img + 8, 4);
		memcpy(&fs->fcs, img + 12, 2);
		memcpy(&dp, img + 16, 4);
		memcpy(&fs->fds, img + 20, 2);
		fs->fip = ip;
		fs->fdp = dp;
	}
	top = fpu_top(fs);
	for (unsigned i = 0; i < 8; i++) {
		struct x87_reg *r = &fs->st[(top + i) & 7];

		memcpy(&r->signif, img + 32 + 16 * i, 8);
		memcpy(&r->sign_exp, img + 40 + 16 * i, 2);
		memset(r->pad, 0, sizeof(r->pad));
	}
	memcpy(fs->xmm, img + 160, 256);
	x87_normalize(fs); /* as FXRSTOR does: FCW reserved bits, ES/B from the flags */
	return 0;
}
