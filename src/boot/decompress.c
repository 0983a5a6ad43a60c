/*
 * Host-side decompression of a Linux payload (docs/boot.md). The input is
 * untrusted: every decoder writes into a buffer that grows only up to `cap`
 * (the guest's RAM size), so a decompression bomb ends with -EFBIG.
 */
#include <bzlib.h>
#include <errno.h>
#include <lz4.h>
#include <lzma.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "boot/boot.h"
#include "util/compiler.h"

#define LZ4_LEGACY_MAGIC 0x184c2102u
#define LZ4_LEGACY_BLOCK (8u << 20)
#define LZMA_MEMLIMIT (256ull << 20)

struct outbuf {
	uint8_t *p;
	size_t len, size, cap;
	char *err;
	size_t err_len;
};

static int dfail(struct outbuf *o, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int dfail(struct outbuf *o, int rc, const char *fmt, ...)
{
	va_list ap;

	if (o->err && o->err_len) {
		va_start(ap, fmt);
		vsnprintf(o->err, o->err_len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Make room for at least `want` more bytes (fewer only at the cap). */
static int out_grow(struct outbuf *o, size_t want)
{
	size_t n;
	uint8_t *p;

	if (o->size - o->len >= want)
		return 0;
	if (o->size >= o->cap) {
		if (o->len < o->size)
			return 0;
		return dfail(o, -EFBIG, "decompressed payload exceeds %zu bytes (guest RAM)",
			     o->cap);
	}
	n = o->size ? o->size : 1u << 20;
	while (n - o->len < want && n < o->cap)
		n = n > o->cap / 2 ? o->cap : n * 2;
	n = MIN(n, o->cap);
	p = realloc(o->p, n);
	if (!p)
		return dfail(o, -ENOMEM, "out of memory decompressing (%zu bytes)", n);
	o->p = p;
	o->size = n;
	return 0;
}

enum boot_compression boot_detect_compression(const void *data, size_t len)
{
	const uint8_t *d = data;

	if (!d)
		return BOOT_COMP_NONE;
	if (len >= 2 && d[0] == 0x1f && (d[1] == 0x8b || d[1] == 0x9e))
		return BOOT_COMP_GZIP;
	if (len >= 6 && memcmp(d, "\xfd" "7zXZ\0", 6) == 0)
		return BOOT_COMP_XZ;
	if (len >= 4 && memcmp(d, "\x28\xb5\x2f\xfd", 4) == 0)
		return BOOT_COMP_ZSTD;
	if (len >= 4 && memcmp(d, "\x02\x21\x4c\x18", 4) == 0)
		return BOOT_COMP_LZ4;
	if (len >= 3 && memcmp(d, "BZh", 3) == 0)
		return BOOT_COMP_BZIP2;
	/* .lzma has no magic; Linux writes properties 0x5d and a 64 KiB+ dictionary. */
	if (len >= 13 && d[0] == 0x5d && d[1] == 0x00)
		return BOOT_COMP_LZMA;
	return BOOT_COMP_NONE;
}

const char *boot_compression_name(enum boot_compression c)
{
	static const char *const names[] = { "none", "gzip", "xz", "zstd", "lzma", "lz4", "bzip2" };

	if ((unsigned)c < ARRAY_SIZE(names))
		return names[c];
	return "unknown";
}

static int dec_gzip(const uint8_t *in, size_t len, struct outbuf *o)
{
	z_stream z;
	int r, rc = 0;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return dfail(o, -ENOMEM, "gzip: cannot initialise zlib");
	z.next_in = (Bytef *)in;
	/* zlib counts in uInt; kernel payloads are far below 4 GiB. */
	if (len > UINT32_MAX) {
		rc = dfail(o, -EFBIG, "gzip: payload too large");
		goto out;
	}
	z.avail_in = (uInt)len;
	for (;;) {
		rc = out_grow(o, 1u << 20);
		if (rc)
			goto out;
		z.next_out = o->p + o->len;
		z.avail_out = (uInt)MIN(o->size - o->len, (size_t)UINT32_MAX);
		r = inflate(&z, Z_NO_FLUSH);
		o->len = (size_t)(z.next_out - o->p);
		if (r == Z_STREAM_END)
			break;
		if (r == Z_BUF_ERROR && z.avail_out == 0)
			continue;
		if (r == Z_BUF_ERROR) {
			rc = dfail(o, -EINVAL, "gzip: payload is truncated");
			goto out;
		}
		if (r != Z_OK && r != Z_BUF_ERROR) {
			rc = dfail(o, -EINVAL, "gzip: corrupt data (%s)", z.msg ? z.msg : "?");
			goto out;
		}
	}
out:
	inflateEnd(&z);
	return rc;
}

static int dec_lzma_common(const uint8_t *in, size_t len, struct outbuf *o, bool xz)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret r;
	int rc = 0;

	/* A header may ask for a huge dictionary; kernels use at most a few tens of MiB. */
	r = xz ? lzma_stream_decoder(&s, LZMA_MEMLIMIT, 0) : lzma_alone_decoder(&s, LZMA_MEMLIMIT);
	if (r != LZMA_OK)
		return dfail(o, -ENOMEM, "%s: cannot initialise liblzma", xz ? "xz" : "lzma");
	s.next_in = in;
	s.avail_in = len;
	for (;;) {
		rc = out_grow(o, 1u << 20);
		if (rc)
			goto out;
		s.next_out = o->p + o->len;
		s.avail_out = o->size - o->len;
		/* LZMA_FINISH: all input is present, so running dry means truncation. */
		r = lzma_code(&s, LZMA_FINISH);
		o->len = (size_t)(s.next_out - o->p);
		if (r == LZMA_STREAM_END)
			break;
		if (r == LZMA_OK)
			continue;
		if (r == LZMA_BUF_ERROR && s.avail_out != 0) {
			rc = dfail(o, -EINVAL, "%s: payload is truncated", xz ? "xz" : "lzma");
			goto out;
		}
		if (r == LZMA_BUF_ERROR)
			continue;
		if (r == LZMA_MEMLIMIT_ERROR)
			rc = dfail(o, -EINVAL, "%s: dictionary larger than %llu MiB",
				   xz ? "xz" : "lzma", LZMA_MEMLIMIT >> 20);
		else
			rc = dfail(o, -EINVAL, "%s: corrupt data (liblzma error %d)",
				   xz ? "xz" : "lzma", (int)r);
		goto out;
	}
out:
	lzma_end(&s);
	return rc;
}

static int dec_zstd(const uint8_t *in, size_t len, struct outbuf *o)
{
	ZSTD_DStream *ds = ZSTD_createDStream();
	ZSTD_inBuffer ib = { in, len, 0 };
	size_t r;
	int rc = 0;

	if (!ds)
		return dfail(o, -ENOMEM, "zstd: cannot create a decoder");
	/* Windows beyond 128 MiB would let a small payload pin a lot of host memory. */
	ZSTD_DCtx_setParameter(ds, ZSTD_d_windowLogMax, 27);
	for (;;) {
		ZSTD_outBuffer ob;

		rc = out_grow(o, 1u << 20);
		if (rc)
			goto out;
		ob.dst = o->p;
		ob.size = o->size;
		ob.pos = o->len;
		r = ZSTD_decompressStream(ds, &ob, &ib);
		o->len = ob.pos;
		if (ZSTD_isError(r)) {
			rc = dfail(o, -EINVAL, "zstd: corrupt data (%s)", ZSTD_getErrorName(r));
			goto out;
		}
		/* 0: the first frame is complete; Linux appends the size after it. */
		if (r == 0)
			break;
		if (ib.pos == ib.size && ob.pos < ob.size) {
			rc = dfail(o, -EINVAL, "zstd: payload is truncated");
			goto out;
		}
	}
out:
	ZSTD_freeDStream(ds);
	return rc;
}

static int dec_bzip2(const uint8_t *in, size_t len, struct outbuf *o)
{
	bz_stream b;
	int r, rc = 0;

	memset(&b, 0, sizeof(b));
	if (BZ2_bzDecompressInit(&b, 0, 0) != BZ_OK)
		return dfail(o, -ENOMEM, "bzip2: cannot initialise libbz2");
	if (len > UINT32_MAX) {
		rc = dfail(o, -EFBIG, "bzip2: payload too large");
		goto out;
	}
	b.next_in = (char *)in;
	b.avail_in = (unsigned)len;
	for (;;) {
		rc = out_grow(o, 1u << 20);
		if (rc)
			goto out;
		b.next_out = (char *)o->p + o->len;
		b.avail_out = (unsigned)MIN(o->size - o->len, (size_t)UINT32_MAX);
		r = BZ2_bzDecompress(&b);
		o->len = (size_t)((uint8_t *)b.next_out - o->p);
		if (r == BZ_STREAM_END)
			break;
		if (r != BZ_OK) {
			rc = dfail(o, -EINVAL, "bzip2: corrupt data (libbz2 error %d)", r);
			goto out;
		}
		if (b.avail_in == 0 && b.avail_out != 0) {
			rc = dfail(o, -EINVAL, "bzip2: payload is truncated");
			goto out;
		}
	}
out:
	BZ2_bzDecompressEnd(&b);
	return rc;
}

/*
 * The legacy LZ4 frame Linux uses: a magic, then blocks of (32-bit LE
 * compressed size, data), each decoding to at most 8 MiB. A block size equal
 * to the magic starts a concatenated stream; anything too short ends it.
 */
static int dec_lz4(const uint8_t *in, size_t len, struct outbuf *o)
{
	size_t pos = 4;
	int rc;

	while (len - pos >= 4) {
		uint32_t bsz = (uint32_t)in[pos] | (uint32_t)in[pos + 1] << 8 |
			       (uint32_t)in[pos + 2] << 16 | (uint32_t)in[pos + 3] << 24;
		int n;

		pos += 4;
		if (bsz == LZ4_LEGACY_MAGIC)
			continue;
		/* Guest-controlled block size: must lie inside the payload. */
		if (bsz == 0 || bsz > len - pos || bsz > (uint32_t)LZ4_compressBound(LZ4_LEGACY_BLOCK))
			break;
		rc = out_grow(o, LZ4_LEGACY_BLOCK);
		if (rc)
			return rc;
		n = LZ4_decompress_safe((const char *)in + pos, (char *)o->p + o->len, (int)bsz,
					(int)MIN(o->size - o->len, (size_t)LZ4_LEGACY_BLOCK));
		if (n < 0) {
			if (o->size - o->len < LZ4_LEGACY_BLOCK && o->size >= o->cap)
				return dfail(o, -EFBIG, "decompressed payload exceeds %zu bytes "
					     "(guest RAM)", o->cap);
			return dfail(o, -EINVAL, "lz4: corrupt block at offset %zu", pos - 4);
		}
		o->len += (size_t)n;
		pos += bsz;
	}
	if (o->len == 0)
		return dfail(o, -EINVAL, "lz4: no data blocks");
	return 0;
}

int boot_decompress(const void *data, size_t len, size_t cap, void **out, size_t *out_len,
		    char *err, size_t err_len)
{
	struct outbuf o = { .cap = cap, .err = err, .err_len = err_len };
	enum boot_compression comp = boot_detect_compression(data, len);
	int rc;

	*out = NULL;
	*out_len = 0;
	if (cap == 0)
		return dfail(&o, -EFBIG, "no room for a decompressed payload");
	switch (comp) {
	case BOOT_COMP_GZIP:
		rc = dec_gzip(data, len, &o);
		break;
	case BOOT_COMP_XZ:
		rc = dec_lzma_common(data, len, &o, true);
		break;
	case BOOT_COMP_LZMA:
		rc = dec_lzma_common(data, len, &o, false);
		break;
	case BOOT_COMP_ZSTD:
		rc = dec_zstd(data, len, &o);
		break;
	case BOOT_COMP_BZIP2:
		rc = dec_bzip2(data, len, &o);
		break;
	case BOOT_COMP_LZ4:
		rc = dec_lz4(data, len, &o);
		break;
	default:
		rc = dfail(&o, -ENOTSUP, "unknown compression (first bytes %02x %02x)",
			   len > 0 ? ((const uint8_t *)data)[0] : 0,
			   len > 1 ? ((const uint8_t *)data)[1] : 0);
		break;
	}
	if (rc) {
		free(o.p);
		return rc;
	}
	*out = o.p;
	*out_len = o.len;
	return 0;
}
