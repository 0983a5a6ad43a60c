/*
 * MMX / SSE2 / SSSE3 integer SIMD, in plain C.
 *
 * Integer lane operations have a single correct answer and no flags, so C
 * is exact; one implementation serves both widths (n = 8 bytes for MMX
 * registers, 16 for XMM), which matters for the operations whose MMX form
 * is not the low half of the XMM form (pack, unpack-high, horizontal adds,
 * PSHUFB index width, PALIGNR).
 */
#include "cpu/x86/fpu/fpu_internal.h"

typedef union {
	uint8_t b[32];
	int8_t sb[32];
	uint16_t w[16];
	int16_t sw[16];
	uint32_t d[8];
	int32_t sd[8];
	uint64_t q[4];
	int64_t sq[4];
} v256;

#define MIN_U(x, y) ((x) < (y) ? (x) : (y))
#define MAX_U(x, y) ((x) > (y) ? (x) : (y))

static int8_t sat8(int v) { return v > 127 ? 127 : v < -128 ? -128 : (int8_t)v; }
static uint8_t satu8(int v) { return v > 255 ? 255 : v < 0 ? 0 : (uint8_t)v; }
static int16_t sat16(int v) { return v > 32767 ? 32767 : v < -32768 ? -32768 : (int16_t)v; }
static uint16_t satu16(int v) { return v > 65535 ? 65535 : v < 0 ? 0 : (uint16_t)v; }

/* Interleave: e = element size in bytes, hi selects the upper halves. */
static void unpack(v256 *r, const v256 *a, const v256 *b, unsigned n, unsigned e, bool hi)
{
	unsigned cnt = n / e, base = hi ? cnt / 2 : 0;

	for (unsigned i = 0; i < cnt / 2; i++) {
		memcpy(&r->b[(2 * i) * e], &a->b[(base + i) * e], e);
		memcpy(&r->b[(2 * i + 1) * e], &b->b[(base + i) * e], e);
	}
}

static void shift(v256 *r, const v256 *a, uint64_t cnt, unsigned n, unsigned e, int kind)
{
	unsigned bits = e * 8;

	for (unsigned i = 0; i < n / e; i++) {
		int64_t sv;
		uint64_t v;

		switch (e) {
		case 2: v = a->w[i]; sv = a->sw[i]; break;
		case 4: v = a->d[i]; sv = a->sd[i]; break;
		default: v = a->q[i]; sv = a->sq[i]; break;
		}
		if (kind == 0) /* logical left */
			v = cnt >= bits ? 0 : v << cnt;
		else if (kind == 1) /* logical right */
			v = cnt >= bits ? 0 : v >> cnt;
		else /* arithmetic right: counts past the width fill with the sign */
			v = (uint64_t)(sv >> (cnt >= bits ? bits - 1 : cnt));
		switch (e) {
		case 2: r->w[i] = (uint16_t)v; break;
		case 4: r->d[i] = (uint32_t)v; break;
		default: r->q[i] = v; break;
		}
	}
}

static bool op_0f(unsigned op, v256 *r, const v256 *a, const v256 *b, unsigned n)
{
	unsigned i;

	switch (op) {
	case 0x60: unpack(r, a, b, n, 1, false); break;
	case 0x61: unpack(r, a, b, n, 2, false); break;
	case 0x62: unpack(r, a, b, n, 4, false); break;
	case 0x68: unpack(r, a, b, n, 1, true); break;
	case 0x69: unpack(r, a, b, n, 2, true); break;
	case 0x6a: unpack(r, a, b, n, 4, true); break;
	case 0x6c: unpack(r, a, b, n, 8, false); break;
	case 0x6d: unpack(r, a, b, n, 8, true); break;
	case 0x63: /* PACKSSWB */
		for (i = 0; i < n / 2; i++) {
			r->sb[i] = sat8(a->sw[i]);
			r->sb[n / 2 + i] = sat8(b->sw[i]);
		}
		break;
	case 0x67: /* PACKUSWB */
		for (i = 0; i < n / 2; i++) {
			r->b[i] = satu8(a->sw[i]);
			r->b[n / 2 + i] = satu8(b->sw[i]);
		}
		break;
	case 0x6b: /* PACKSSDW */
		for (i = 0; i < n / 4; i++) {
			r->sw[i] = sat16(a->sd[i]);
			r->sw[n / 4 + i] = sat16(b->sd[i]);
		}
		break;
	case 0x64: for (i = 0; i < n; i++) r->b[i] = a->sb[i] > b->sb[i] ? 0xff : 0; break;
	case 0x65: for (i = 0; i < n / 2; i++) r->w[i] = a->sw[i] > b->sw[i] ? 0xffff : 0; break;
	case 0x66: for (i = 0; i < n / 4; i++) r->d[i] = a->sd[i] > b->sd[i] ? ~0u : 0; break;
	case 0x74: for (i = 0; i < n; i++) r->b[i] = a->b[i] == b->b[i] ? 0xff : 0; break;
	case 0x75: for (i = 0; i < n / 2; i++) r->w[i] = a->w[i] == b->w[i] ? 0xffff : 0; break;
	case 0x76: for (i = 0; i < n / 4; i++) r->d[i] = a->d[i] == b->d[i] ? ~0u : 0; break;
	case 0xd1: shift(r, a, b->q[0], n, 2, 1); break;
	case 0xd2: shift(r, a, b->q[0], n, 4, 1); break;
	case 0xd3: shift(r, a, b->q[0], n, 8, 1); break;
	case 0xe1: shift(r, a, b->q[0], n, 2, 2); break;
	case 0xe2: shift(r, a, b->q[0], n, 4, 2); break;
	case 0xf1: shift(r, a, b->q[0], n, 2, 0); break;
	case 0xf2: shift(r, a, b->q[0], n, 4, 0); break;
	case 0xf3: shift(r, a, b->q[0], n, 8, 0); break;
	case 0xd4: for (i = 0; i < n / 8; i++) r->q[i] = a->q[i] + b->q[i]; break;
	case 0xfb: for (i = 0; i < n / 8; i++) r->q[i] = a->q[i] - b->q[i]; break;
	case 0xd5: for (i = 0; i < n / 2; i++) r->w[i] = (uint16_t)((uint32_t)a->w[i] * b->w[i]); break;
	case 0xe5:
		for (i = 0; i < n / 2; i++)
			r->w[i] = (uint16_t)((uint32_t)(a->sw[i] * b->sw[i]) >> 16);
		break;
	case 0xe4:
		for (i = 0; i < n / 2; i++)
			r->w[i] = (uint16_t)(((uint32_t)a->w[i] * b->w[i]) >> 16);
		break;
	case 0xf4:
		for (i = 0; i < n / 8; i++)
			r->q[i] = (uint64_t)a->d[2 * i] * b->d[2 * i];
		break;
	case 0xd8: for (i = 0; i < n; i++) r->b[i] = satu8(a->b[i] - b->b[i]); break;
	case 0xd9: for (i = 0; i < n / 2; i++) r->w[i] = satu16(a->w[i] - b->w[i]); break;
	case 0xdc: for (i = 0; i < n; i++) r->b[i] = satu8(a->b[i] + b->b[i]); break;
	case 0xdd: for (i = 0; i < n / 2; i++) r->w[i] = satu16(a->w[i] + b->w[i]); break;
	case 0xe8: for (i = 0; i < n; i++) r->sb[i] = sat8(a->sb[i] - b->sb[i]); break;
	case 0xe9: for (i = 0; i < n / 2; i++) r->sw[i] = sat16(a->sw[i] - b->sw[i]); break;
	case 0xec: for (i = 0; i < n; i++) r->sb[i] = sat8(a->sb[i] + b->sb[i]); break;
	case 0xed: for (i = 0; i < n / 2; i++) r->sw[i] = sat16(a->sw[i] + b->sw[i]); break;
	case 0xda: for (i = 0; i < n; i++) r->b[i] = MIN_U(a->b[i], b->b[i]); break;
	case 0xde: for (i = 0; i < n; i++) r->b[i] = MAX_U(a->b[i], b->b[i]); break;
	case 0xea: for (i = 0; i < n / 2; i++) r->sw[i] = MIN_U(a->sw[i], b->sw[i]); break;
	case 0xee: for (i = 0; i < n / 2; i++) r->sw[i] = MAX_U(a->sw[i], b->sw[i]); break;
	case 0xdb: for (i = 0; i < n / 8; i++) r->q[i] = a->q[i] & b->q[i]; break;
	case 0xdf: for (i = 0; i < n / 8; i++) r->q[i] = ~a->q[i] & b->q[i]; break;
	case 0xeb: for (i = 0; i < n / 8; i++) r->q[i] = a->q[i] | b->q[i]; break;
	case 0xef: for (i = 0; i < n / 8; i++) r->q[i] = a->q[i] ^ b->q[i]; break;
	case 0xe0: for (i = 0; i < n; i++) r->b[i] = (uint8_t)((a->b[i] + b->b[i] + 1) >> 1); break;
	case 0xe3:
		for (i = 0; i < n / 2; i++)
			r->w[i] = (uint16_t)(((uint32_t)a->w[i] + b->w[i] + 1) >> 1);
		break;
	case 0xf5: /* PMADDWD: 0x8000*0x8000 twice wraps to 0x80000000 */
		for (i = 0; i < n / 4; i++)
			r->d[i] = (uint32_t)((int64_t)a->sw[2 * i] * b->sw[2 * i] +
					     (int64_t)a->sw[2 * i + 1] * b->sw[2 * i + 1]);
		break;
	case 0xf6: /* PSADBW */
		memset(r, 0, sizeof(*r));
		for (i = 0; i < n; i++) {
			int d = a->b[i] - b->b[i];

			r->w[(i / 8) * 4] += (uint16_t)(d < 0 ? -d : d);
		}
		break;
	case 0xf8: for (i = 0; i < n; i++) r->b[i] = (uint8_t)(a->b[i] - b->b[i]); break;
	case 0xf9: for (i = 0; i < n / 2; i++) r->w[i] = (uint16_t)(a->w[i] - b->w[i]); break;
	case 0xfa: for (i = 0; i < n / 4; i++) r->d[i] = a->d[i] - b->d[i]; break;
	case 0xfc: for (i = 0; i < n; i++) r->b[i] = (uint8_t)(a->b[i] + b->b[i]); break;
	case 0xfd: for (i = 0; i < n / 2; i++) r->w[i] = (uint16_t)(a->w[i] + b->w[i]); break;
	case 0xfe: for (i = 0; i < n / 4; i++) r->d[i] = a->d[i] + b->d[i]; break;
	default:
		return false;
	}
	return true;
}

/* Horizontal add/subtract of adjacent pairs: a's pairs fill the low half,
 * b's the high half. e = 2 or 4; sat for the W forms. */
static void hop(v256 *r, const v256 *a, const v256 *b, unsigned n, unsigned e, bool sub,
		bool sat)
{
	unsigned cnt = n / e;

	for (unsigned i = 0; i < cnt; i++) {
		const v256 *src = i < cnt / 2 ? a : b;
		unsigned j = 2 * (i % (cnt / 2));

		if (e == 2) {
			int v = sub ? src->sw[j] - src->sw[j + 1] : src->sw[j] + src->sw[j + 1];

			r->sw[i] = sat ? sat16(v) : (int16_t)v;
		} else {
			r->d[i] = sub ? src->d[j] - src->d[j + 1] : src->d[j] + src->d[j + 1];
		}
	}
}

static bool op_0f38(unsigned op, v256 *r, const v256 *a, const v256 *b, unsigned n)
{
	unsigned i;

	switch (op) {
	case 0x00: /* PSHUFB: index bits beyond the register width are ignored */
		for (i = 0; i < n; i++)
			r->b[i] = (b->b[i] & 0x80) ? 0 : a->b[b->b[i] & (n - 1)];
		break;
	case 0x01: hop(r, a, b, n, 2, false, false); break;
	case 0x02: hop(r, a, b, n, 4, false, false); break;
	case 0x03: hop(r, a, b, n, 2, false, true); break;
	case 0x05: hop(r, a, b, n, 2, true, false); break;
	case 0x06: hop(r, a, b, n, 4, true, false); break;
	case 0x07: hop(r, a, b, n, 2, true, true); break;
	case 0x04: /* PMADDUBSW: unsigned bytes of a times signed bytes of b */
		for (i = 0; i < n / 2; i++)
			r->sw[i] = sat16(a->b[2 * i] * b->sb[2 * i] +
					 a->b[2 * i + 1] * b->sb[2 * i + 1]);
		break;
	case 0x08:
		for (i = 0; i < n; i++)
			r->sb[i] = b->sb[i] < 0 ? (int8_t)-a->sb[i] : b->sb[i] ? a->sb[i] : 0;
		break;
	case 0x09:
		for (i = 0; i < n / 2; i++)
			r->sw[i] = b->sw[i] < 0 ? (int16_t)-a->sw[i] : b->sw[i] ? a->sw[i] : 0;
		break;
	case 0x0a:
		for (i = 0; i < n / 4; i++)
			r->d[i] = b->sd[i] < 0 ? -a->d[i] : b->sd[i] ? a->d[i] : 0;
		break;
	case 0x0b: /* PMULHRSW */
		for (i = 0; i < n / 2; i++)
			r->w[i] = (uint16_t)((((int32_t)a->sw[i] * b->sw[i] >> 14) + 1) >> 1);
		break;
	case 0x1c:
		for (i = 0; i < n; i++)
			r->b[i] = (uint8_t)(b->sb[i] < 0 ? -b->sb[i] : b->sb[i]);
		break;
	case 0x1d:
		for (i = 0; i < n / 2; i++)
			r->w[i] = (uint16_t)(b->sw[i] < 0 ? -b->sw[i] : b->sw[i]);
		break;
	case 0x1e:
		for (i = 0; i < n / 4; i++)
			r->d[i] = b->sd[i] < 0 ? 0u - b->d[i] : b->d[i];
		break;
	default:
		return false;
	}
	return true;
}

bool simd_int_op(unsigned map, unsigned op, unsigned imm, uint8_t *d, const uint8_t *s,
		 unsigned n)
{
	v256 a, b, r;
	bool ok;

	/* Every operation reads lanes below n only and writes all n bytes of r. */
	memcpy(a.b, d, n);
	memcpy(b.b, s, n);
	if (map == FPU_MAP_0F) {
		ok = op_0f(op, &r, &a, &b, n);
	} else if (map == FPU_MAP_0F38) {
		ok = op_0f38(op, &r, &a, &b, n);
	} else if (map == FPU_MAP_0F3A && op == 0x0f) {
		/* PALIGNR: (a:b) >> imm bytes; a 2n-byte concatenation */
		uint8_t cat[32];

		memcpy(cat, b.b, n);
		memcpy(cat + n, a.b, n);
		for (unsigned i = 0; i < n; i++)
			r.b[i] = imm + i < 2 * n ? cat[imm + i] : 0;
		ok = true;
	} else {
		ok = false;
	}
	if (ok)
		memcpy(d, r.b, n);
	return ok;
}
