/*
 * Random input values biased towards the interesting ones: integer
 * boundaries, shift counts, float/double/80-bit specials (zeros, infinities,
 * QNaN/SNaN, denormals, unnormals), MXCSR and FCW settings, whole FXSAVE
 * images the host accepts.
 */
#include <string.h>

#include "cpudiff.h"

uint64_t cd_interesting64(struct cd_rng *r)
{
	static const uint64_t v[] = {
		0, 1, 2, 3, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000,
		0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ull, 0x7fffffffffffffffull,
		0x8000000000000000ull, 0xffffffffffffffffull, 0xfffffffffffffffeull,
		0xffffffff80000000ull, 0xffffffffffff8000ull, 0xffffffffffffff80ull,
		0x5555555555555555ull, 0xaaaaaaaaaaaaaaaaull, 0x0123456789abcdefull,
	};
	uint64_t x = cd_rng_next(r);

	switch (cd_rng_below(r, 8)) {
	case 0:
	case 1:
	case 2:
		return v[cd_rng_below(r, sizeof(v) / sizeof(v[0]))];
	case 3:
		return x & 0xff;
	case 4:
		return (uint64_t)(int64_t)(int8_t)x; /* small, either sign */
	case 5:
		return x & 0xffffffff;
	default:
		return x;
	}
}

uint8_t cd_shift_count(struct cd_rng *r)
{
	static const uint8_t v[] = { 0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 255 };

	if (cd_rng_below(r, 4) == 0)
		return (uint8_t)cd_rng_next(r);
	return v[cd_rng_below(r, sizeof(v) / sizeof(v[0]))];
}

static uint32_t float_bits(struct cd_rng *r)
{
	static const uint32_t v[] = {
		0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x3fc00000, 0x40490fdb,
		0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fa00000, 0x00000001,
		0x007fffff, 0x00800000, 0x7f7fffff, 0x4f000000, 0xcf000000, 0x5f000000,
		0x3effffff, 0x3f000000, 0x4b000000, 0x4b7fffff,
	};
	uint32_t x = (uint32_t)cd_rng_next(r);

	if (cd_rng_below(r, 2))
		return v[cd_rng_below(r, sizeof(v) / sizeof(v[0]))];
	if (cd_rng_below(r, 2)) {
		float f = (float)((int32_t)x % 100000) / (float)(1 + (x >> 24));

		memcpy(&x, &f, 4);
	}
	return x;
}

static uint64_t double_bits(struct cd_rng *r)
{
	static const uint64_t v[] = {
		0, 0x8000000000000000ull, 0x3ff0000000000000ull, 0xbff0000000000000ull,
		0x3ff8000000000000ull, 0x400921fb54442d18ull, 0x7ff0000000000000ull,
		0xfff0000000000000ull, 0x7ff8000000000000ull, 0xfff8000000000000ull,
		0x7ff4000000000000ull, 1, 0x000fffffffffffffull, 0x0010000000000000ull,
		0x7fefffffffffffffull, 0x41e0000000000000ull, 0xc1e0000000000000ull,
		0x43e0000000000000ull, 0xc3e0000000000000ull, 0x3fdfffffffffffffull,
		0x3fe0000000000000ull, 0x4330000000000000ull,
	};
	uint64_t x = cd_rng_next(r);

	if (cd_rng_below(r, 2))
		return v[cd_rng_below(r, sizeof(v) / sizeof(v[0]))];
	if (cd_rng_below(r, 2)) {
		double d = (double)((int64_t)x % 10000000) / (double)(1 + (x >> 40));

		memcpy(&x, &d, 8);
	}
	return x;
}

/* Eight bytes of mixed content: two floats, a double, integers or noise. */
static uint64_t chunk64(struct cd_rng *r)
{
	switch (cd_rng_below(r, 5)) {
	case 0:
		return float_bits(r) | (uint64_t)float_bits(r) << 32;
	case 1:
		return double_bits(r);
	case 2:
		return cd_interesting64(r);
	case 3:
		return (cd_interesting64(r) & 0xffff) * 0x0001000100010001ull ^ (cd_rng_next(r) & 0x00ff00ff00ff00ffull);
	default:
		return cd_rng_next(r);
	}
}

static void x87_value(struct cd_rng *r, uint8_t out[10])
{
	long double v;
	uint64_t m;
	uint16_t se;

	switch (cd_rng_below(r, 10)) {
	case 0: {
		static const long double k[] = { 0.0L, -0.0L, 1.0L, -1.0L, 0.5L, 2.0L,
						 3.14159265358979323846L, 1e10L, -1e-10L,
						 65536.0L, 2147483648.0L, -9.3e18L, 1e4000L };

		v = k[cd_rng_below(r, sizeof(k) / sizeof(k[0]))];
		memcpy(out, &v, 10);
		return;
	}
	case 1:
		m = 0x8000000000000000ull; /* infinity */
		se = 0x7fff;
		break;
	case 2:
		m = 0xc000000000000000ull | (cd_rng_next(r) >> 2); /* QNaN */
		se = 0x7fff;
		break;
	case 3:
		m = 0x8000000000000000ull | ((cd_rng_next(r) >> 2) | 1); /* SNaN */
		se = 0x7fff;
		break;
	case 4:
		m = cd_rng_next(r) >> 1; /* denormal */
		se = 0;
		break;
	case 5:
		m = cd_rng_next(r) >> 1; /* unnormal: an invalid operand */
		se = (uint16_t)(1 + cd_rng_below(r, 0x7ffe));
		break;
	case 6:
		v = (long double)(int64_t)cd_interesting64(r);
		memcpy(out, &v, 10);
		return;
	case 7:
		v = (long double)(int32_t)cd_rng_next(r) / (long double)(1 + cd_rng_below(r, 1000));
		memcpy(out, &v, 10);
		return;
	default:
		m = cd_rng_next(r) | 0x8000000000000000ull;
		se = (uint16_t)((0x3fff - 80 + cd_rng_below(r, 160)) | (cd_rng_below(r, 2) << 15));
		break;
	}
	se |= (uint16_t)(cd_rng_below(r, 2) << 15);
	memcpy(out, &m, 8);
	memcpy(out + 8, &se, 2);
}

uint32_t cd_random_mxcsr(struct cd_rng *r)
{
	uint32_t m = 0x1f80;

	if (cd_rng_below(r, 2))
		m = (m & ~0x6000u) | (uint32_t)cd_rng_below(r, 4) << 13; /* RC */
	if (cd_rng_below(r, 4) == 0)
		m |= 0x8000; /* FTZ */
	if (cd_rng_below(r, 4) == 0)
		m |= 0x0040; /* DAZ */
	if (cd_rng_below(r, 4) == 0)
		m |= (uint32_t)cd_rng_below(r, 64); /* sticky flags */
	if (cd_rng_below(r, 8) == 0)
		m &= ~((uint32_t)cd_rng_below(r, 64) << 7); /* unmask some */
	return m;
}

/* A complete FXSAVE image the host will accept (MXCSR reserved bits clear). */
void cd_random_fx(struct cd_rng *r, uint8_t fx[512])
{
	uint16_t fcw = 0x037f, fsw;
	uint32_t mxcsr = cd_random_mxcsr(r);

	memset(fx, 0, 512);
	if (cd_rng_below(r, 2))
		fcw = (uint16_t)((fcw & ~0x0f00u) | (uint16_t)cd_rng_below(r, 4) << 10 |
				 (uint16_t)(cd_rng_below(r, 3) ? 3 : 2) << 8 * 1);
	if (cd_rng_below(r, 16) == 0)
		fcw &= (uint16_t)~cd_rng_below(r, 64); /* unmask some: #MF possible */
	fsw = (uint16_t)(cd_rng_below(r, 8) << 11);                 /* TOP */
	fsw |= (uint16_t)(cd_rng_next(r) & 0x4700);                 /* C0-C3 */
	if (cd_rng_below(r, 4) == 0)
		fsw |= (uint16_t)(cd_rng_below(r, 64) & fcw & 0x3f); /* masked sticky flags */
	if (fsw & 0x3f & ~fcw)
		fsw |= 0x8080; /* ES and B follow pending unmasked exceptions */
	memcpy(fx + FX_FCW, &fcw, 2);
	memcpy(fx + FX_FSW, &fsw, 2);
	switch (cd_rng_below(r, 4)) {
	case 0:
		fx[FX_FTW] = 0xff;
		break;
	case 1:
		fx[FX_FTW] = 0;
		break;
	default:
		fx[FX_FTW] = (uint8_t)cd_rng_next(r);
	}
	memcpy(fx + FX_MXCSR, &mxcsr, 4);
	for (int i = 0; i < 8; i++)
		x87_value(r, fx + FX_ST(i));
	for (int i = 0; i < 16; i++) {
		uint64_t a = chunk64(r), b = chunk64(r);

		memcpy(fx + FX_XMM(i), &a, 8);
		memcpy(fx + FX_XMM(i) + 8, &b, 8);
	}
}

void cd_fill_page(struct cd_rng *r, uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = chunk64(r);

		memcpy(p + i, &v, 8);
	}
}

