/*
 * Synthetic kernel images for the boot loader tests: ELF files, bzImages
 * with compressed payloads and Multiboot images, all built in memory.
 */
#ifndef PETREL_TESTS_BOOT_IMAGES_H
#define PETREL_TESTS_BOOT_IMAGES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline void img_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void img_put32(uint8_t *p, uint32_t v) { img_put16(p, (uint16_t)v); img_put16(p + 2, (uint16_t)(v >> 16)); }
static inline void img_put64(uint8_t *p, uint64_t v) { img_put32(p, (uint32_t)v); img_put32(p + 4, (uint32_t)(v >> 32)); }
static inline uint32_t img_get32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static inline uint64_t img_get64(const uint8_t *p) { return img_get32(p) | (uint64_t)img_get32(p + 4) << 32; }

struct img_seg {
	uint32_t type;       /* 1 = PT_LOAD, 4 = PT_NOTE */
	uint64_t vaddr, paddr, filesz, memsz;
	uint8_t fill;        /* file bytes are fill, fill+1, ... */
	const void *data;    /* or these bytes when non-NULL */
};

/*
 * An ELF executable with the given segments laid out after the program
 * headers. is64 picks ELF64/x86-64 or ELF32/i386.
 */
static inline uint8_t *img_elf(int is64, uint64_t entry, const struct img_seg *segs, unsigned n,
			       size_t *len)
{
	size_t eh = is64 ? 64 : 52, ph = is64 ? 56 : 32, off = eh + ph * n, total = off;
	uint8_t *d;

	for (unsigned i = 0; i < n; i++)
		total += segs[i].filesz;
	d = calloc(1, total);
	memcpy(d, "\x7f" "ELF", 4);
	d[4] = is64 ? 2 : 1;
	d[5] = 1;
	d[6] = 1;
	img_put16(d + 16, 2);
	img_put16(d + 18, is64 ? 62 : 3);
	img_put32(d + 20, 1);
	if (is64) {
		img_put64(d + 24, entry);
		img_put64(d + 32, eh);
		img_put16(d + 52, (uint16_t)eh);
		img_put16(d + 54, (uint16_t)ph);
		img_put16(d + 56, (uint16_t)n);
	} else {
		img_put32(d + 24, (uint32_t)entry);
		img_put32(d + 28, (uint32_t)eh);
		img_put16(d + 40, (uint16_t)eh);
		img_put16(d + 42, (uint16_t)ph);
		img_put16(d + 44, (uint16_t)n);
	}
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = d + eh + ph * i;
		const struct img_seg *s = &segs[i];

		img_put32(p, s->type);
		if (is64) {
			img_put32(p + 4, 7);
			img_put64(p + 8, off);
			img_put64(p + 16, s->vaddr);
			img_put64(p + 24, s->paddr);
			img_put64(p + 32, s->filesz);
			img_put64(p + 40, s->memsz);
		} else {
			img_put32(p + 4, (uint32_t)off);
			img_put32(p + 8, (uint32_t)s->vaddr);
			img_put32(p + 12, (uint32_t)s->paddr);
			img_put32(p + 16, (uint32_t)s->filesz);
			img_put32(p + 20, (uint32_t)s->memsz);
		}
		for (uint64_t j = 0; j < s->filesz; j++)
			d[off + j] = s->data ? ((const uint8_t *)s->data)[j] : (uint8_t)(s->fill + j);
		off += s->filesz;
	}
	*len = total;
	return d;
}

#endif
