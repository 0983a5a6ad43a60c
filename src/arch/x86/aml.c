#include "arch/x86/aml.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/compiler.h"

/* AML opcodes (ACPI 6.x, 20.2) */
enum {
	AML_ZERO_OP = 0x00,
	AML_ONE_OP = 0x01,
	AML_NAME_OP = 0x08,
	AML_BYTE_PREFIX = 0x0a,
	AML_WORD_PREFIX = 0x0b,
	AML_DWORD_PREFIX = 0x0c,
	AML_STRING_PREFIX = 0x0d,
	AML_QWORD_PREFIX = 0x0e,
	AML_SCOPE_OP = 0x10,
	AML_BUFFER_OP = 0x11,
	AML_PACKAGE_OP = 0x12,
	AML_METHOD_OP = 0x14,
	AML_DUAL_NAME_PREFIX = 0x2e,
	AML_MULTI_NAME_PREFIX = 0x2f,
	AML_EXT_OP_PREFIX = 0x5b,
	AML_ROOT_CHAR = 0x5c,
	AML_PARENT_PREFIX = 0x5e,
	AML_LOCAL0_OP = 0x60,
	AML_ARG0_OP = 0x68,
	AML_STORE_OP = 0x70,
	AML_AND_OP = 0x7b,
	AML_OR_OP = 0x7d,
	AML_NOTIFY_OP = 0x86,
	AML_CREATE_DWORD_FIELD_OP = 0x8a,
	AML_LNOT_OP = 0x92,
	AML_LEQUAL_OP = 0x93,
	AML_IF_OP = 0xa0,
	AML_ELSE_OP = 0xa1,
	AML_RETURN_OP = 0xa4,
	AML_ONES_OP = 0xff,
	/* after AML_EXT_OP_PREFIX */
	AML_EXT_OP_REGION_OP = 0x80,
	AML_EXT_FIELD_OP = 0x81,
	AML_EXT_DEVICE_OP = 0x82,
};

/* What an open construct needs at aml_end(). */
enum { OPEN_PKG, OPEN_BUFFER, OPEN_RT };

void aml_init(struct aml *a)
{
	memset(a, 0, sizeof(*a));
}

void aml_fini(struct aml *a)
{
	free(a->buf);
	memset(a, 0, sizeof(*a));
}

int aml_finish(const struct aml *a)
{
	if (a->err)
		return a->err;
	return a->depth ? -EINVAL : 0;
}

static void aml_fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
}

static bool aml_reserve(struct aml *a, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (a->err)
		return false;
	if (n > SIZE_MAX - a->len) {
		aml_fail(a, -ENOMEM);
		return false;
	}
	if (a->len + n <= a->cap)
		return true;
	cap = a->cap ? a->cap : 256;
	while (cap < a->len + n) {
		if (cap > SIZE_MAX / 2) {
			aml_fail(a, -ENOMEM);
			return false;
		}
		cap *= 2;
	}
	p = realloc(a->buf, cap);
	if (!p) {
		aml_fail(a, -ENOMEM);
		return false;
	}
	a->buf = p;
	a->cap = cap;
	return true;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (!n || !aml_reserve(a, n))
		return;
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void aml_le(struct aml *a, uint64_t v, unsigned n)
{
	uint8_t b[8];

	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_bytes(a, b, n);
}

/* Insert n bytes at offset `at` (<= len), moving what follows. */
static void aml_insert(struct aml *a, size_t at, const void *p, size_t n)
{
	if (!aml_reserve(a, n))
		return;
	memmove(a->buf + at + n, a->buf + at, a->len - at);
	memcpy(a->buf + at, p, n);
	a->len += n;
}

int aml_pkglen_encode(uint32_t value, uint8_t out[4])
{
	if (value <= 0x3f) {
		out[0] = (uint8_t)value;
		return 1;
	}
	if (value > AML_PKGLEN_MAX)
		return -E2BIG;
	/* Lead byte: bits 7-6 count the following bytes, bits 3-0 the low nibble. */
	int n = value <= 0xfff ? 2 : value <= 0xfffff ? 3 : 4;
	out[0] = (uint8_t)(((n - 1) << 6) | (value & 0xf));
	for (int i = 1; i < n; i++)
		out[i] = (uint8_t)(value >> (4 + 8 * (i - 1)));
	return n;
}

/*
 * A PkgLength counts its own bytes too, so the size of the encoding depends on
 * the value it encodes: pick the smallest n with body + n representable in n.
 */
static int aml_pkglen_for_body(size_t body, uint8_t out[4])
{
	static const uint32_t limit[] = {0x3f, 0xfff, 0xfffff, AML_PKGLEN_MAX};

	for (unsigned n = 1; n <= 4; n++)
		if (body <= limit[n - 1] - n)
			return aml_pkglen_encode((uint32_t)(body + n), out);
	return -E2BIG;
}

static void aml_open(struct aml *a, uint8_t kind)
{
	if (a->err)
		return;
	if (a->depth >= AML_MAX_DEPTH) {
		aml_fail(a, -E2BIG);
		return;
	}
	a->open[a->depth].start = a->len;
	a->open[a->depth].kind = kind;
	a->depth++;
}

/* Encoded integer for a term, into out (max 9 bytes); returns its size. */
static unsigned aml_int_encode(uint64_t v, uint8_t out[9])
{
	unsigned n;

	if (v == 0) {
		out[0] = AML_ZERO_OP;
		return 1;
	}
	if (v == 1) {
		out[0] = AML_ONE_OP;
		return 1;
	}
	if (v == UINT64_MAX) {
		out[0] = AML_ONES_OP;
		return 1;
	}
	if (v <= 0xff) {
		out[0] = AML_BYTE_PREFIX;
		n = 1;
	} else if (v <= 0xffff) {
		out[0] = AML_WORD_PREFIX;
		n = 2;
	} else if (v <= 0xffffffff) {
		out[0] = AML_DWORD_PREFIX;
		n = 4;
	} else {
		out[0] = AML_QWORD_PREFIX;
		n = 8;
	}
	for (unsigned i = 0; i < n; i++)
		out[1 + i] = (uint8_t)(v >> (8 * i));
	return n + 1;
}

void aml_end(struct aml *a)
{
	uint8_t hdr[4 + 9];
	size_t start, body;
	int n;
	unsigned sz = 0;

	if (a->err)
		return;
	if (!a->depth) {
		aml_fail(a, -EINVAL);
		return;
	}
	a->depth--;
	start = a->open[a->depth].start;
	body = a->len - start;
	if (a->open[a->depth].kind != OPEN_PKG) {
		/* Buffer: the BufferSize term sits between PkgLength and the bytes. */
		uint8_t size_term[9];

		if (body > AML_PKGLEN_MAX) {
			aml_fail(a, -E2BIG);
			return;
		}
		sz = aml_int_encode(body, size_term);
		n = aml_pkglen_for_body(body + sz, hdr);
		if (n < 0) {
			aml_fail(a, n);
			return;
		}
		memcpy(hdr + n, size_term, sz);
	} else {
		n = aml_pkglen_for_body(body, hdr);
		if (n < 0) {
			aml_fail(a, n);
			return;
		}
	}
	aml_insert(a, start, hdr, (size_t)n + sz);
}

static bool aml_seg_char_ok(char c, bool lead)
{
	if ((c >= 'A' && c <= 'Z') || c == '_')
		return true;
	return !lead && c >= '0' && c <= '9';
}

void aml_name(struct aml *a, const char *path)
{
	uint8_t segs[255][4];
	unsigned nseg = 0;
	const char *p = path;

	if (a->err)
		return;
	if (*p == '\\') {
		aml_byte(a, AML_ROOT_CHAR);
		p++;
	} else {
		while (*p == '^') {
			aml_byte(a, AML_PARENT_PREFIX);
			p++;
		}
	}
	while (*p) {
		unsigned k = 0;

		if (nseg == ARRAY_SIZE(segs))
			goto bad;
		while (*p && *p != '.') {
			if (k == 4 || !aml_seg_char_ok(*p, k == 0))
				goto bad;
			segs[nseg][k++] = (uint8_t)*p++;
		}
		if (k == 0)
			goto bad;
		while (k < 4)
			segs[nseg][k++] = '_';
		nseg++;
		if (*p == '.') {
			p++;
			if (!*p)
				goto bad;
		}
	}
	if (nseg == 0) {
		aml_byte(a, 0x00); /* NullName */
	} else if (nseg == 2) {
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	} else if (nseg > 2) {
		aml_byte(a, AML_MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)nseg);
	}
	aml_bytes(a, segs, nseg * 4u);
	return;
bad:
	aml_fail(a, -EINVAL);
}

void aml_int(struct aml *a, uint64_t v)
{
	uint8_t b[9];

	aml_bytes(a, b, aml_int_encode(v, b));
}

void aml_byte_const(struct aml *a, uint8_t v)
{
	aml_byte(a, AML_BYTE_PREFIX);
	aml_le(a, v, 1);
}

void aml_word_const(struct aml *a, uint16_t v)
{
	aml_byte(a, AML_WORD_PREFIX);
	aml_le(a, v, 2);
}

void aml_dword_const(struct aml *a, uint32_t v)
{
	aml_byte(a, AML_DWORD_PREFIX);
	aml_le(a, v, 4);
}

void aml_qword_const(struct aml *a, uint64_t v)
{
	aml_byte(a, AML_QWORD_PREFIX);
	aml_le(a, v, 8);
}

void aml_string(struct aml *a, const char *s)
{
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p > 0x7f) {
			aml_fail(a, -EINVAL);
			return;
		}
	}
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

void aml_buffer_begin(struct aml *a)
{
	aml_byte(a, AML_BUFFER_OP);
	aml_open(a, OPEN_BUFFER);
}

void aml_buffer(struct aml *a, const void *data, size_t n)
{
	aml_buffer_begin(a);
	aml_bytes(a, data, n);
	aml_end(a);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

uint32_t aml_eisaid_value(const char *id)
{
	uint32_t c[3], h[4];

	if (strlen(id) != 7)
		return 0;
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return 0;
		c[i] = (uint32_t)(id[i] - 0x40); /* 5-bit compressed letter */
	}
	for (int i = 0; i < 4; i++) {
		int v = hexval(id[3 + i]);
		if (v < 0 || (id[3 + i] >= 'a' && id[3 + i] <= 'f'))
			return 0;
		h[i] = (uint32_t)v;
	}
	/* Bytes in order: letters packed big-endian into 15 bits, then the four digits. */
	uint32_t b0 = (c[0] << 2) | (c[1] >> 3);
	uint32_t b1 = ((c[1] & 7) << 5) | c[2];
	uint32_t b2 = (h[0] << 4) | h[1];
	uint32_t b3 = (h[2] << 4) | h[3];
	return b0 | (b1 << 8) | (b2 << 16) | (b3 << 24);
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v = aml_eisaid_value(id);

	if (!v) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_dword_const(a, v);
}

void aml_uuid(struct aml *a, const char *s)
{
	/* Groups 1-3 are stored little-endian, groups 4-5 in string order. */
	static const uint8_t order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
	uint8_t raw[16], out[16];
	unsigned k = 0;

	if (strlen(s) != 36)
		goto bad;
	for (unsigned i = 0; i < 36;) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i++] != '-')
				goto bad;
			continue;
		}
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			goto bad;
		raw[k++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	for (unsigned i = 0; i < 16; i++)
		out[i] = raw[order[i]];
	aml_buffer(a, out, sizeof(out));
	return;
bad:
	aml_fail(a, -EINVAL);
}

void aml_name_decl(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_name(a, name);
}

void aml_name_int(struct aml *a, const char *name, uint64_t v)
{
	aml_name_decl(a, name);
	aml_int(a, v);
}

void aml_name_string(struct aml *a, const char *name, const char *s)
{
	aml_name_decl(a, name);
	aml_string(a, s);
}

void aml_name_eisaid(struct aml *a, const char *name, const char *id)
{
	aml_name_decl(a, name);
	aml_eisaid(a, id);
}

void aml_scope_begin(struct aml *a, const char *name)
{
	aml_byte(a, AML_SCOPE_OP);
	aml_open(a, OPEN_PKG);
	aml_name(a, name);
}

void aml_device_begin(struct aml *a, const char *name)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_EXT_DEVICE_OP);
	aml_open(a, OPEN_PKG);
	aml_name(a, name);
}

void aml_method_begin(struct aml *a, const char *name, unsigned nargs, bool serialized)
{
	if (nargs > 7) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_byte(a, AML_METHOD_OP);
	aml_open(a, OPEN_PKG);
	aml_name(a, name);
	/* MethodFlags: bits 0-2 ArgCount, bit 3 SerializeFlag, bits 4-7 SyncLevel 0. */
	aml_byte(a, (uint8_t)(nargs | (serialized ? 0x08 : 0)));
}

void aml_package_begin(struct aml *a, unsigned nelems)
{
	if (nelems > 255) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_byte(a, AML_PACKAGE_OP);
	aml_open(a, OPEN_PKG);
	aml_byte(a, (uint8_t)nelems);
}

void aml_if_begin(struct aml *a)
{
	aml_byte(a, AML_IF_OP);
	aml_open(a, OPEN_PKG);
}

void aml_else_begin(struct aml *a)
{
	aml_byte(a, AML_ELSE_OP);
	aml_open(a, OPEN_PKG);
}

void aml_return(struct aml *a)
{
	aml_byte(a, AML_RETURN_OP);
}

void aml_notify(struct aml *a)
{
	aml_byte(a, AML_NOTIFY_OP);
}

void aml_store(struct aml *a)
{
	aml_byte(a, AML_STORE_OP);
}

void aml_and(struct aml *a)
{
	aml_byte(a, AML_AND_OP);
}

void aml_or(struct aml *a)
{
	aml_byte(a, AML_OR_OP);
}

void aml_lequal(struct aml *a)
{
	aml_byte(a, AML_LEQUAL_OP);
}

void aml_lnot(struct aml *a)
{
	aml_byte(a, AML_LNOT_OP);
}

void aml_arg(struct aml *a, unsigned n)
{
	if (n > 6) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_byte(a, (uint8_t)(AML_ARG0_OP + n));
}

void aml_local(struct aml *a, unsigned n)
{
	if (n > 7) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_byte(a, (uint8_t)(AML_LOCAL0_OP + n));
}

void aml_null_target(struct aml *a)
{
	aml_byte(a, 0x00);
}

void aml_create_dword_field(struct aml *a)
{
	aml_byte(a, AML_CREATE_DWORD_FIELD_OP);
}

void aml_operation_region(struct aml *a, const char *name, uint8_t space, uint64_t offset,
			  uint64_t len)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_EXT_OP_REGION_OP);
	aml_name(a, name);
	aml_byte(a, space);
	aml_int(a, offset);
	aml_int(a, len);
}

void aml_field_begin(struct aml *a, const char *region, uint8_t flags)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_EXT_FIELD_OP);
	aml_open(a, OPEN_PKG);
	aml_name(a, region);
	aml_byte(a, flags);
}

void aml_field_unit(struct aml *a, const char *name, uint32_t bits)
{
	uint8_t seg[4], pl[4];
	unsigned k = 0;
	int n;

	/* A NamedField is a bare NameSeg followed by its width in bits, PkgLength-encoded. */
	for (; name[k] && k < 4; k++) {
		if (!aml_seg_char_ok(name[k], k == 0)) {
			aml_fail(a, -EINVAL);
			return;
		}
		seg[k] = (uint8_t)name[k];
	}
	if (k == 0 || name[k]) {
		aml_fail(a, -EINVAL);
		return;
	}
	for (; k < 4; k++)
		seg[k] = '_';
	n = aml_pkglen_encode(bits, pl);
	if (n < 0 || bits == 0) {
		aml_fail(a, n < 0 ? n : -EINVAL);
		return;
	}
	aml_bytes(a, seg, 4);
	aml_bytes(a, pl, (size_t)n);
}

/* Resource templates (ACPI 6.x, 6.4) */

void aml_rt_begin(struct aml *a)
{
	aml_byte(a, AML_BUFFER_OP);
	aml_open(a, OPEN_RT);
}

void aml_rt_end(struct aml *a)
{
	size_t start;
	uint8_t sum = 0x79;

	if (a->err)
		return;
	if (!a->depth || a->open[a->depth - 1].kind != OPEN_RT) {
		aml_fail(a, -EINVAL);
		return;
	}
	/* End Tag checksum: all bytes of the template, tag included, sum to zero. */
	start = a->open[a->depth - 1].start;
	for (size_t i = start; i < a->len; i++)
		sum = (uint8_t)(sum + a->buf[i]);
	aml_byte(a, 0x79);
	aml_byte(a, (uint8_t)-sum);
	aml_end(a);
}

void aml_rt_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	aml_byte(a, 0x47);
	aml_byte(a, 0x01); /* Decode16 */
	aml_le(a, min, 2);
	aml_le(a, max, 2);
	aml_byte(a, align);
	aml_byte(a, len);
}

void aml_rt_fixed_io(struct aml *a, uint16_t base, uint8_t len)
{
	/* Fixed I/O decodes only 10 address bits. */
	if (base > 0x3ff) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_byte(a, 0x4b);
	aml_le(a, base, 2);
	aml_byte(a, len);
}

void aml_rt_irq_noflags(struct aml *a, uint16_t mask)
{
	aml_byte(a, 0x22);
	aml_le(a, mask, 2);
}

void aml_rt_memory32_fixed(struct aml *a, bool rw, uint32_t base, uint32_t len)
{
	aml_byte(a, 0x86);
	aml_le(a, 9, 2);
	aml_byte(a, rw ? 1 : 0);
	aml_le(a, base, 4);
	aml_le(a, len, 4);
}

/* Common shape of the Word/DWord/QWord Address Space descriptors; w = field width. */
static void aml_rt_addr(struct aml *a, uint8_t tag, unsigned w, uint8_t type, uint8_t gflags,
			uint8_t tflags, uint64_t min, uint64_t max, uint64_t tra, uint64_t len)
{
	aml_byte(a, tag);
	aml_le(a, 3 + 5 * w, 2);
	aml_byte(a, type);
	aml_byte(a, gflags);
	aml_byte(a, tflags);
	aml_le(a, 0, w); /* granularity: 0 for fixed-size, fixed-location ranges */
	aml_le(a, min, w);
	aml_le(a, max, w);
	aml_le(a, tra, w);
	aml_le(a, len, w);
}

void aml_rt_word_addr(struct aml *a, uint8_t type, uint8_t gflags, uint8_t tflags, uint16_t min,
		      uint16_t max, uint16_t translation, uint16_t len)
{
	aml_rt_addr(a, 0x88, 2, type, gflags, tflags, min, max, translation, len);
}

void aml_rt_dword_addr(struct aml *a, uint8_t type, uint8_t gflags, uint8_t tflags, uint32_t min,
		       uint32_t max, uint32_t translation, uint32_t len)
{
	aml_rt_addr(a, 0x87, 4, type, gflags, tflags, min, max, translation, len);
}

void aml_rt_qword_addr(struct aml *a, uint8_t type, uint8_t gflags, uint8_t tflags, uint64_t min,
		       uint64_t max, uint64_t translation, uint64_t len)
{
	aml_rt_addr(a, 0x8a, 8, type, gflags, tflags, min, max, translation, len);
}

/* A producer range [min, max]; its length must fit the descriptor's width. */
static bool aml_range_ok(struct aml *a, uint64_t min, uint64_t max, uint64_t width_max)
{
	if (max < min || max - min == width_max) {
		aml_fail(a, -EINVAL);
		return false;
	}
	return true;
}

void aml_rt_word_bus(struct aml *a, uint16_t min, uint16_t max)
{
	if (aml_range_ok(a, min, max, 0xffff))
		aml_rt_word_addr(a, AML_ADDR_BUS, AML_ADDR_PRODUCER_FIXED, 0, min, max, 0,
				 (uint16_t)(max - min + 1));
}

void aml_rt_word_io(struct aml *a, uint16_t min, uint16_t max)
{
	if (aml_range_ok(a, min, max, 0xffff))
		aml_rt_word_addr(a, AML_ADDR_IO, AML_ADDR_PRODUCER_FIXED, AML_IO_ENTIRE_RANGE, min,
				 max, 0, (uint16_t)(max - min + 1));
}

void aml_rt_dword_io(struct aml *a, uint32_t min, uint32_t max)
{
	if (aml_range_ok(a, min, max, 0xffffffff))
		aml_rt_dword_addr(a, AML_ADDR_IO, AML_ADDR_PRODUCER_FIXED, AML_IO_ENTIRE_RANGE, min,
				  max, 0, max - min + 1);
}

void aml_rt_dword_memory(struct aml *a, uint32_t min, uint32_t max, bool prefetch)
{
	if (aml_range_ok(a, min, max, 0xffffffff))
		aml_rt_dword_addr(a, AML_ADDR_MEMORY, AML_ADDR_PRODUCER_FIXED,
				  AML_MEM_RW | (prefetch ? AML_MEM_PREFETCHABLE : 0), min, max, 0,
				  max - min + 1);
}

void aml_rt_qword_memory(struct aml *a, uint64_t min, uint64_t max, bool prefetch)
{
	if (aml_range_ok(a, min, max, UINT64_MAX))
		aml_rt_qword_addr(a, AML_ADDR_MEMORY, AML_ADDR_PRODUCER_FIXED,
				  AML_MEM_RW | (prefetch ? AML_MEM_PREFETCHABLE : 0), min, max, 0,
				  max - min + 1);
}

void aml_rt_interrupt(struct aml *a, uint8_t flags, const uint32_t *gsis, unsigned n)
{
	if (n == 0 || n > 255) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_byte(a, 0x89);
	aml_le(a, 2 + 4 * n, 2);
	aml_byte(a, flags);
	aml_byte(a, (uint8_t)n);
	for (unsigned i = 0; i < n; i++)
		aml_le(a, gsis[i], 4);
}
