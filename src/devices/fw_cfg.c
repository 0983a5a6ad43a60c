#include "devices/fw_cfg.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "util/log.h"
#include "vm/machine.h"

#define FW_CFG_PORT_CTL	 LAYOUT_PORT_FW_CFG
#define FW_CFG_PORT_DMA	 (LAYOUT_PORT_FW_CFG + 4)
#define FW_CFG_DIR_ENTRY 64 /* be32 size, be16 select, u16 reserved, name[56] */
#define FW_CFG_DMA_CTL_KNOWN                                                                       \
	(FW_CFG_DMA_CTL_ERROR | FW_CFG_DMA_CTL_READ | FW_CFG_DMA_CTL_SKIP |                        \
	 FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_WRITE | 0xffff0000u)

struct fw_cfg_item {
	uint16_t key;
	uint32_t len;
	uint8_t *data;
};

struct fw_cfg {
	struct machine *m;
	pthread_mutex_t lock;
	struct fw_cfg_item *items;
	unsigned nr, cap;
	int cur;	   /* index of the selected item, -1 when none */
	uint32_t offset;   /* data offset in the selected item */
	uint32_t dma_high; /* high half of the DMA address, until the low half arrives */
	unsigned nr_files;
	char file_names[FW_CFG_MAX_FILES][FW_CFG_MAX_FILE_NAME + 1];
	bool ctl_registered, dma_registered;
};

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static int fw_cfg_find(const struct fw_cfg *f, uint16_t key)
{
	for (unsigned i = 0; i < f->nr; i++)
		if (f->items[i].key == key)
			return (int)i;
	return -1;
}

/* Replace or add an item; the caller holds the lock (or owns f exclusively). */
static int fw_cfg_store(struct fw_cfg *f, uint16_t key, const void *data, uint32_t len)
{
	uint8_t *copy = NULL;
	int i;

	if (len) {
		if (!data)
			return -EINVAL;
		copy = malloc(len);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, data, len);
	}
	i = fw_cfg_find(f, key);
	if (i >= 0) {
		free(f->items[i].data);
		f->items[i].data = copy;
		f->items[i].len = len;
		/* Keep a reader's offset within the new contents. */
		if (f->cur == i && f->offset > len)
			f->offset = len;
		return 0;
	}
	if (f->nr == f->cap) {
		unsigned cap = f->cap ? f->cap * 2 : 16;
		struct fw_cfg_item *n = realloc(f->items, cap * sizeof(*n));
		if (!n) {
			free(copy);
			return -ENOMEM;
		}
		f->items = n;
		f->cap = cap;
	}
	f->items[f->nr++] = (struct fw_cfg_item){key, len, copy};
	return 0;
}

static bool fw_cfg_key_reserved(uint16_t key)
{
	if (key & FW_CFG_WRITE_CHANNEL)
		return true;
	if (key == FW_CFG_SIGNATURE || key == FW_CFG_ID || key == FW_CFG_FILE_DIR)
		return true;
	return key >= FW_CFG_FILE_FIRST && key < FW_CFG_FILE_FIRST + FW_CFG_MAX_FILES;
}

int fw_cfg_set_item(struct fw_cfg *f, uint16_t key, const void *data, uint32_t len)
{
	int rc;

	if (!f || fw_cfg_key_reserved(key))
		return -EINVAL;
	pthread_mutex_lock(&f->lock);
	rc = fw_cfg_store(f, key, data, len);
	pthread_mutex_unlock(&f->lock);
	return rc;
}

int fw_cfg_set_cmdline(struct fw_cfg *f, const char *cmdline)
{
	size_t n;
	uint8_t size[4];
	int rc;

	if (!f || !cmdline)
		return -EINVAL;
	n = strlen(cmdline) + 1;
	if (n > UINT32_MAX)
		return -E2BIG;
	for (unsigned i = 0; i < 4; i++)
		size[i] = (uint8_t)(n >> (8 * i)); /* numeric items are little-endian */
	pthread_mutex_lock(&f->lock);
	rc = fw_cfg_store(f, FW_CFG_CMDLINE_SIZE, size, sizeof(size));
	if (!rc)
		rc = fw_cfg_store(f, FW_CFG_CMDLINE_DATA, cmdline, (uint32_t)n);
	pthread_mutex_unlock(&f->lock);
	return rc;
}

/* Rebuild the directory item from the file items; caller holds the lock. */
static int fw_cfg_update_dir(struct fw_cfg *f)
{
	size_t len = 4 + (size_t)f->nr_files * FW_CFG_DIR_ENTRY;
	uint8_t *dir = calloc(1, len);
	int rc;

	if (!dir)
		return -ENOMEM;
	put_be(dir, f->nr_files, 4);
	for (unsigned i = 0; i < f->nr_files; i++) {
		uint8_t *e = dir + 4 + i * FW_CFG_DIR_ENTRY;
		uint16_t key = (uint16_t)(FW_CFG_FILE_FIRST + i);
		int idx = fw_cfg_find(f, key);

		put_be(e, idx >= 0 ? f->items[idx].len : 0, 4);
		put_be(e + 4, key, 2);
		memcpy(e + 8, f->file_names[i], strlen(f->file_names[i]));
	}
	rc = fw_cfg_store(f, FW_CFG_FILE_DIR, dir, (uint32_t)len);
	free(dir);
	return rc;
}

int fw_cfg_add_file(struct fw_cfg *f, const char *name, const void *data, uint32_t len)
{
	size_t nlen;
	int rc;

	if (!f || !name)
		return -EINVAL;
	nlen = strlen(name);
	if (nlen == 0 || nlen > FW_CFG_MAX_FILE_NAME)
		return -EINVAL;
	pthread_mutex_lock(&f->lock);
	rc = -EEXIST;
	for (unsigned i = 0; i < f->nr_files; i++)
		if (!strcmp(f->file_names[i], name))
			goto out;
	rc = -ENOSPC;
	if (f->nr_files == FW_CFG_MAX_FILES)
		goto out;
	rc = fw_cfg_store(f, (uint16_t)(FW_CFG_FILE_FIRST + f->nr_files), data, len);
	if (rc)
		goto out;
	memcpy(f->file_names[f->nr_files], name, nlen + 1);
	f->nr_files++;
	rc = fw_cfg_update_dir(f);
	if (rc) {
		/* Keep the directory and the items consistent: forget the file again. */
		f->nr_files--;
		int idx = fw_cfg_find(f, (uint16_t)(FW_CFG_FILE_FIRST + f->nr_files));
		if (idx >= 0) {
			free(f->items[idx].data);
			f->items[idx] = f->items[--f->nr];
			if (f->cur == idx)
				f->cur = -1;
			else if (f->cur == (int)f->nr)
				f->cur = idx;
		}
	}
out:
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static void fw_cfg_select(struct fw_cfg *f, uint16_t key)
{
	/* Guest-controlled key: unknown keys select nothing and read as zeros. */
	f->cur = fw_cfg_find(f, key & (uint16_t)~FW_CFG_WRITE_CHANNEL);
	f->offset = 0;
}

static uint64_t fw_cfg_ctl_read(void *opaque, uint64_t off, unsigned size)
{
	struct fw_cfg *f = opaque;
	uint64_t v = 0;

	if (off != 1 || size != 1)
		return 0; /* the selector is write-only */
	pthread_mutex_lock(&f->lock);
	if (f->cur >= 0 && f->offset < f->items[f->cur].len)
		v = f->items[f->cur].data[f->offset++];
	pthread_mutex_unlock(&f->lock);
	return v;
}

static void fw_cfg_ctl_write(void *opaque, uint64_t off, unsigned size, uint64_t value)
{
	struct fw_cfg *f = opaque;

	/* Only a 16-bit selector write does anything; data-port writes are ignored (as QEMU). */
	if (off != 0 || size != 2)
		return;
	pthread_mutex_lock(&f->lock);
	fw_cfg_select(f, (uint16_t)value);
	pthread_mutex_unlock(&f->lock);
}

/* Fill [gpa, gpa+len) with zeros; the caller checked that it is RAM. */
static int fw_cfg_zero_guest(struct fw_cfg *f, uint64_t gpa, uint64_t len)
{
	static const uint8_t zeros[4096];

	while (len) {
		uint64_t n = len < sizeof(zeros) ? len : sizeof(zeros);
		int rc = gmem_write(&f->m->mem, gpa, zeros, n);
		if (rc)
			return rc;
		gpa += n;
		len -= n;
	}
	return 0;
}

/* One DMA request at `desc`; returns false when the request failed. */
static bool fw_cfg_dma_run(struct fw_cfg *f, uint32_t control, uint32_t length, uint64_t addr)
{
	uint32_t op = control & (FW_CFG_DMA_CTL_READ | FW_CFG_DMA_CTL_SKIP | FW_CFG_DMA_CTL_WRITE);
	uint32_t avail = 0;

	/* Guest-controlled control word: unknown bits or several operations fail the request. */
	if (control & ~FW_CFG_DMA_CTL_KNOWN)
		return false;
	if (op & (op - 1))
		return false;
	if (control & FW_CFG_DMA_CTL_SELECT)
		fw_cfg_select(f, (uint16_t)(control >> 16));
	if (op == FW_CFG_DMA_CTL_WRITE)
		return false; /* every item is read-only */
	if (!op || length == 0)
		return true;
	if (f->cur >= 0 && f->offset < f->items[f->cur].len)
		avail = f->items[f->cur].len - f->offset;
	if (avail > length)
		avail = length;
	if (op == FW_CFG_DMA_CTL_SKIP) {
		f->offset += avail;
		return true;
	}
	/*
	 * Guest-controlled address and length: the whole destination must be RAM
	 * (overflow-safe check in gmem) before a single byte is written.
	 */
	if (!gmem_is_ram(&f->m->mem, addr, length))
		return false;
	if (avail && gmem_write(&f->m->mem, addr, f->items[f->cur].data + f->offset, avail))
		return false;
	f->offset += avail;
	/* Past the item's end a read returns zeros, like the data port. */
	return fw_cfg_zero_guest(f, addr + avail, length - avail) == 0;
}

static void fw_cfg_dma(struct fw_cfg *f, uint64_t desc)
{
	uint8_t req[16], status[4];
	bool ok;

	/* The request itself lives in guest memory: unreadable means nothing to answer. */
	if (gmem_read(&f->m->mem, desc, req, sizeof(req))) {
		log_ratelimited(LOG_WARN, "fw_cfg: DMA request at 0x%llx is not in RAM",
				(unsigned long long)desc);
		return;
	}
	ok = fw_cfg_dma_run(f, (uint32_t)get_be(req, 4), (uint32_t)get_be(req + 4, 4),
			    get_be(req + 8, 8));
	put_be(status, ok ? 0 : FW_CFG_DMA_CTL_ERROR, 4);
	if (gmem_write(&f->m->mem, desc, status, sizeof(status)))
		log_ratelimited(LOG_WARN, "fw_cfg: cannot complete DMA request at 0x%llx",
				(unsigned long long)desc);
}

static uint64_t fw_cfg_dma_read(void *opaque, uint64_t off, unsigned size)
{
	static const char sig[8] = "QEMU CFG";
	uint64_t v = 0;

	/* The register reads as the big-endian signature: bytes in string order. */
	for (unsigned i = 0; i < size && off + i < 8; i++)
		v |= (uint64_t)(uint8_t)sig[off + i] << (8 * i);
	return v;
}

static uint32_t bswap32_u(uint32_t v)
{
	return __builtin_bswap32(v);
}

static void fw_cfg_dma_write(void *opaque, uint64_t off, unsigned size, uint64_t value)
{
	struct fw_cfg *f = opaque;

	pthread_mutex_lock(&f->lock);
	/* The guest writes big-endian halves; the bus hands us little-endian values. */
	if (off == 0) {
		f->dma_high = bswap32_u((uint32_t)value);
	} else {
		uint64_t desc = ((uint64_t)f->dma_high << 32) | bswap32_u((uint32_t)value);
		/* 32-bit firmware writes only the low half: the high half is per request. */
		f->dma_high = 0;
		fw_cfg_dma(f, desc);
	}
	pthread_mutex_unlock(&f->lock);
}

static const struct iobus_ops fw_cfg_ctl_ops = {
    .name = "fw_cfg",
    .read = fw_cfg_ctl_read,
    .write = fw_cfg_ctl_write,
    .sizes = IOBUS_SIZE_1 | IOBUS_SIZE_2,
};

static const struct iobus_ops fw_cfg_dma_ops = {
    .name = "fw_cfg-dma",
    .read = fw_cfg_dma_read,
    .write = fw_cfg_dma_write,
    .sizes = IOBUS_SIZE_4,
};

void fw_cfg_destroy(struct fw_cfg *f)
{
	if (!f)
		return;
	if (f->ctl_registered)
		iobus_unregister(&f->m->pio, FW_CFG_PORT_CTL, f);
	if (f->dma_registered)
		iobus_unregister(&f->m->pio, FW_CFG_PORT_DMA, f);
	for (unsigned i = 0; i < f->nr; i++)
		free(f->items[i].data);
	free(f->items);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

int fw_cfg_create(struct machine *m, struct fw_cfg **out)
{
	struct fw_cfg *f;
	uint8_t le[8];
	uint64_t ram;
	int rc;

	if (!m || !out)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->m = m;
	f->cur = -1;
	rc = -pthread_mutex_init(&f->lock, NULL);
	if (rc) {
		free(f);
		return rc;
	}
	rc = fw_cfg_store(f, FW_CFG_SIGNATURE, "QEMU", 4);
	if (rc)
		goto fail;
	memset(le, 0, sizeof(le));
	le[0] = FW_CFG_ID_TRADITIONAL | FW_CFG_ID_DMA;
	rc = fw_cfg_store(f, FW_CFG_ID, le, 4);
	if (rc)
		goto fail;
	ram = m->mem.total;
	for (unsigned i = 0; i < 8; i++)
		le[i] = (uint8_t)(ram >> (8 * i));
	rc = fw_cfg_store(f, FW_CFG_RAM_SIZE, le, 8);
	if (rc)
		goto fail;
	le[0] = (uint8_t)m->nr_cpus;
	le[1] = (uint8_t)(m->nr_cpus >> 8);
	rc = fw_cfg_store(f, FW_CFG_NB_CPUS, le, 2);
	if (!rc)
		rc = fw_cfg_store(f, FW_CFG_MAX_CPUS, le, 2);
	if (!rc)
		rc = fw_cfg_update_dir(f);
	if (rc)
		goto fail;
	rc = iobus_register(&m->pio, FW_CFG_PORT_CTL, 2, &fw_cfg_ctl_ops, f);
	if (rc)
		goto fail;
	f->ctl_registered = true;
	rc = iobus_register(&m->pio, FW_CFG_PORT_DMA, 8, &fw_cfg_dma_ops, f);
	if (rc)
		goto fail;
	f->dma_registered = true;
	*out = f;
	return 0;
fail:
	fw_cfg_destroy(f);
	return rc;
}
