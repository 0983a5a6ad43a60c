/* fw_cfg: items read back through the ports and through DMA from real guest memory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/layout.h"
#include "devices/fw_cfg.h"
#include "vm/machine.h"

#define RAM_SIZE 0x200000ull
#define DESC	 0x1000ull
#define BUF	 0x2000ull

struct fixture {
	struct machine m;
	struct fw_cfg *f;
};

static int setup(void **state)
{
	static struct fixture fx;
	uint64_t gpa = 0, size = RAM_SIZE;

	memset(&fx, 0, sizeof(fx));
	assert_int_equal(gmem_init(&fx.m.mem, &gpa, &size, 1), 0);
	assert_int_equal(iobus_init(&fx.m.pio, "pio"), 0);
	assert_int_equal(irq_router_init(&fx.m.irq), 0);
	fx.m.nr_cpus = 3;
	assert_int_equal(fw_cfg_create(&fx.m, &fx.f), 0);
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	fw_cfg_destroy(fx->f);
	irq_router_fini(&fx->m.irq);
	iobus_fini(&fx->m.pio);
	gmem_fini(&fx->m.mem);
	return 0;
}

static void sel(struct fixture *fx, uint16_t key)
{
	assert_true(iobus_write(&fx->m.pio, LAYOUT_PORT_FW_CFG, 2, key));
}

static void port_read(struct fixture *fx, void *buf, size_t n)
{
	uint8_t *p = buf;
	uint64_t v;

	for (size_t i = 0; i < n; i++) {
		assert_true(iobus_read(&fx->m.pio, LAYOUT_PORT_FW_CFG + 1, 1, &v));
		p[i] = (uint8_t)v;
	}
}

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = n; i-- > 0;)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* Write a request at desc and kick it the way Linux does (two big-endian halves). */
static uint32_t dma_at(struct fixture *fx, uint64_t desc, uint32_t control, uint32_t length,
		       uint64_t addr)
{
	uint8_t req[16];

	put_be(req, control, 4);
	put_be(req + 4, length, 4);
	put_be(req + 8, addr, 8);
	assert_int_equal(gmem_write(&fx->m.mem, desc, req, sizeof(req)), 0);
	assert_true(iobus_write(&fx->m.pio, LAYOUT_PORT_FW_CFG + 4, 4,
				__builtin_bswap32((uint32_t)(desc >> 32))));
	assert_true(
	    iobus_write(&fx->m.pio, LAYOUT_PORT_FW_CFG + 8, 4, __builtin_bswap32((uint32_t)desc)));
	assert_int_equal(gmem_read(&fx->m.mem, desc, req, 4), 0);
	return (uint32_t)be(req, 4);
}

static uint32_t dma(struct fixture *fx, uint32_t control, uint32_t length, uint64_t addr)
{
	return dma_at(fx, DESC, control, length, addr);
}

static void fill(struct fixture *fx, uint64_t gpa, uint8_t v, size_t n)
{
	uint8_t buf[256];

	memset(buf, v, sizeof(buf));
	while (n) {
		size_t k = n < sizeof(buf) ? n : sizeof(buf);
		assert_int_equal(gmem_write(&fx->m.mem, gpa, buf, k), 0);
		gpa += k;
		n -= k;
	}
}

static void test_port_items(void **state)
{
	struct fixture *fx = *state;
	uint8_t b[16];

	sel(fx, FW_CFG_SIGNATURE);
	port_read(fx, b, 6);
	assert_memory_equal(b, "QEMU\0\0", 6); /* past the end reads zeros */
	sel(fx, FW_CFG_ID);
	port_read(fx, b, 4);
	assert_int_equal(le(b, 4), FW_CFG_ID_TRADITIONAL | FW_CFG_ID_DMA);
	sel(fx, FW_CFG_RAM_SIZE);
	port_read(fx, b, 8);
	assert_int_equal(le(b, 8), RAM_SIZE);
	sel(fx, FW_CFG_NB_CPUS);
	port_read(fx, b, 2);
	assert_int_equal(le(b, 2), 3);
	/* Reselecting restarts at offset 0; the write-channel bit selects the same item. */
	sel(fx, FW_CFG_SIGNATURE | FW_CFG_WRITE_CHANNEL);
	port_read(fx, b, 2);
	assert_memory_equal(b, "QE", 2);
	/* Data-port writes are ignored */
	assert_true(iobus_write(&fx->m.pio, LAYOUT_PORT_FW_CFG + 1, 1, 'X'));
	port_read(fx, b, 2);
	assert_memory_equal(b, "MU", 2);
	/* Unknown items read as zeros */
	sel(fx, 0x1234);
	memset(b, 0xaa, sizeof(b));
	port_read(fx, b, 4);
	assert_memory_equal(b, "\0\0\0\0", 4);
	/* An 8-bit write to the selector does not select */
	sel(fx, FW_CFG_SIGNATURE);
	assert_true(iobus_write(&fx->m.pio, LAYOUT_PORT_FW_CFG, 1, FW_CFG_ID));
	port_read(fx, b, 1);
	assert_int_equal(b[0], 'Q');
}

static void test_cmdline(void **state)
{
	struct fixture *fx = *state;
	const char *cmd = "console=ttyS0 quiet";
	uint8_t b[64];

	assert_int_equal(fw_cfg_set_cmdline(fx->f, cmd), 0);
	sel(fx, FW_CFG_CMDLINE_SIZE);
	port_read(fx, b, 4);
	assert_int_equal(le(b, 4), strlen(cmd) + 1);
	sel(fx, FW_CFG_CMDLINE_DATA);
	port_read(fx, b, strlen(cmd) + 1);
	assert_string_equal((char *)b, cmd);
	/* Replacing shrinks the item */
	assert_int_equal(fw_cfg_set_cmdline(fx->f, "x"), 0);
	sel(fx, FW_CFG_CMDLINE_SIZE);
	port_read(fx, b, 4);
	assert_int_equal(le(b, 4), 2);
}

static void test_files_and_directory(void **state)
{
	struct fixture *fx = *state;
	uint8_t dir[4 + 3 * 64], b[16];
	char name[64];

	assert_int_equal(fw_cfg_add_file(fx->f, "etc/foo", "hello", 5), 0);
	assert_int_equal(fw_cfg_add_file(fx->f, "opt/petrel/bar", "0123456789", 10), 0);
	assert_int_equal(fw_cfg_add_file(fx->f, "etc/foo", "x", 1), -EEXIST);
	assert_int_equal(fw_cfg_add_file(fx->f, "", "x", 1), -EINVAL);
	memset(name, 'a', sizeof(name));
	name[56] = 0;
	assert_int_equal(fw_cfg_add_file(fx->f, name, "x", 1), -EINVAL);
	name[55] = 0;
	assert_int_equal(fw_cfg_add_file(fx->f, name, "x", 1), 0);

	sel(fx, FW_CFG_FILE_DIR);
	port_read(fx, dir, sizeof(dir));
	assert_int_equal(be(dir, 4), 3);
	assert_int_equal(be(dir + 4, 4), 5);
	assert_int_equal(be(dir + 8, 2), FW_CFG_FILE_FIRST);
	assert_string_equal((char *)dir + 12, "etc/foo");
	assert_int_equal(be(dir + 68, 4), 10);
	assert_int_equal(be(dir + 72, 2), FW_CFG_FILE_FIRST + 1);
	assert_string_equal((char *)dir + 76, "opt/petrel/bar");
	assert_int_equal(strlen((char *)dir + 140), 55);
	assert_int_equal(dir[140 + 55], 0);

	/* Select through the directory's key */
	sel(fx, (uint16_t)be(dir + 72, 2));
	port_read(fx, b, 10);
	assert_memory_equal(b, "0123456789", 10);

	/* Up to FW_CFG_MAX_FILES */
	for (unsigned i = 3; i < FW_CFG_MAX_FILES; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		assert_int_equal(fw_cfg_add_file(fx->f, name, &i, sizeof(i)), 0);
	}
	assert_int_equal(fw_cfg_add_file(fx->f, "one-too-many", "x", 1), -ENOSPC);
	sel(fx, FW_CFG_FILE_DIR);
	port_read(fx, b, 4);
	assert_int_equal(be(b, 4), FW_CFG_MAX_FILES);
}

static void test_set_item_rules(void **state)
{
	struct fixture *fx = *state;
	uint8_t b[4];

	assert_int_equal(fw_cfg_set_item(fx->f, FW_CFG_SIGNATURE, "EVIL", 4), -EINVAL);
	assert_int_equal(fw_cfg_set_item(fx->f, FW_CFG_ID, "\0\0\0\0", 4), -EINVAL);
	assert_int_equal(fw_cfg_set_item(fx->f, FW_CFG_FILE_DIR, "\0\0\0\0", 4), -EINVAL);
	assert_int_equal(fw_cfg_set_item(fx->f, FW_CFG_FILE_FIRST + 3, "x", 1), -EINVAL);
	assert_int_equal(fw_cfg_set_item(fx->f, 0x4005, "x", 1), -EINVAL);
	assert_int_equal(fw_cfg_set_item(fx->f, 0x0010, NULL, 1), -EINVAL);
	assert_int_equal(fw_cfg_set_item(fx->f, 0x8003, "e820", 4), 0);
	assert_int_equal(fw_cfg_set_item(fx->f, 0x0010, NULL, 0), 0);
	sel(fx, 0x8003);
	port_read(fx, b, 4);
	assert_memory_equal(b, "e820", 4);
	sel(fx, FW_CFG_SIGNATURE);
	port_read(fx, b, 4);
	assert_memory_equal(b, "QEMU", 4);
}

static void test_dma_signature_register(void **state)
{
	struct fixture *fx = *state;
	uint64_t v;

	assert_true(iobus_read(&fx->m.pio, LAYOUT_PORT_FW_CFG + 4, 4, &v));
	assert_int_equal(__builtin_bswap32((uint32_t)v), 0x51454d55); /* "QEMU" big-endian */
	assert_true(iobus_read(&fx->m.pio, LAYOUT_PORT_FW_CFG + 8, 4, &v));
	assert_int_equal(__builtin_bswap32((uint32_t)v), 0x20434647); /* " CFG" */
}

static void test_dma_read_skip_select(void **state)
{
	struct fixture *fx = *state;
	uint8_t b[32];

	assert_int_equal(fw_cfg_add_file(fx->f, "etc/data", "abcdefghij", 10), 0);
	fill(fx, BUF, 0xaa, 64);
	assert_int_equal(
	    dma(fx, (FW_CFG_SIGNATURE << 16) | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 4, BUF),
	    0);
	assert_int_equal(gmem_read(&fx->m.mem, BUF, b, 5), 0);
	assert_memory_equal(b, "QEMU\xaa", 5);

	/* Select only, then read 3, skip 2, read the rest and beyond: zeros past the end. */
	assert_int_equal(dma(fx, (FW_CFG_FILE_FIRST << 16) | FW_CFG_DMA_CTL_SELECT, 0, 0), 0);
	assert_int_equal(dma(fx, FW_CFG_DMA_CTL_READ, 3, BUF), 0);
	assert_int_equal(dma(fx, FW_CFG_DMA_CTL_SKIP, 2, 0), 0);
	assert_int_equal(dma(fx, FW_CFG_DMA_CTL_READ, 8, BUF + 3), 0);
	assert_int_equal(gmem_read(&fx->m.mem, BUF, b, 12), 0);
	assert_memory_equal(b, "abcfghij\0\0\0\xaa", 12);
	/* The port and DMA share the offset */
	assert_int_equal(
	    dma(fx, (FW_CFG_FILE_FIRST << 16) | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_SKIP, 8, 0),
	    0);
	port_read(fx, b, 3);
	assert_memory_equal(b, "ij\0", 3);

	/* ID and RAM size through DMA */
	assert_int_equal(
	    dma(fx, (FW_CFG_RAM_SIZE << 16) | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 8, BUF),
	    0);
	assert_int_equal(gmem_read(&fx->m.mem, BUF, b, 8), 0);
	assert_int_equal(le(b, 8), RAM_SIZE);

	/* A request whose high half is written once: the next low-only kick uses high = 0. */
	assert_true(iobus_write(&fx->m.pio, LAYOUT_PORT_FW_CFG + 4, 4, __builtin_bswap32(1)));
	assert_true(
	    iobus_write(&fx->m.pio, LAYOUT_PORT_FW_CFG + 8, 4, __builtin_bswap32((uint32_t)DESC)));
	/* That one pointed at 4 GiB + DESC, outside RAM: nothing was answered at DESC. */
	fill(fx, BUF, 0xaa, 16);
	uint8_t req[16];
	put_be(req, (FW_CFG_SIGNATURE << 16) | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 4);
	put_be(req + 4, 4, 4);
	put_be(req + 8, BUF, 8);
	assert_int_equal(gmem_write(&fx->m.mem, DESC, req, 16), 0);
	assert_true(
	    iobus_write(&fx->m.pio, LAYOUT_PORT_FW_CFG + 8, 4, __builtin_bswap32((uint32_t)DESC)));
	assert_int_equal(gmem_read(&fx->m.mem, DESC, b, 4), 0);
	assert_int_equal(be(b, 4), 0);
	assert_int_equal(gmem_read(&fx->m.mem, BUF, b, 4), 0);
	assert_memory_equal(b, "QEMU", 4);
}

static void test_dma_malformed(void **state)
{
	struct fixture *fx = *state;
	const uint32_t rd_sig =
	    (FW_CFG_SIGNATURE << 16) | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ;
	uint8_t b[16];

	/* Destination outside RAM */
	assert_int_equal(dma(fx, rd_sig, 4, RAM_SIZE + 0x1000), FW_CFG_DMA_CTL_ERROR);
	/* Destination crossing the end of RAM: nothing written, not even the part inside */
	fill(fx, RAM_SIZE - 2, 0x55, 2);
	assert_int_equal(dma(fx, rd_sig, 4, RAM_SIZE - 2), FW_CFG_DMA_CTL_ERROR);
	assert_int_equal(gmem_read(&fx->m.mem, RAM_SIZE - 2, b, 2), 0);
	assert_memory_equal(b, "\x55\x55", 2);
	/* Address + length wrapping around 2^64 */
	assert_int_equal(dma(fx, rd_sig, 0x100, UINT64_MAX - 0x10), FW_CFG_DMA_CTL_ERROR);
	assert_int_equal(dma(fx, rd_sig, UINT32_MAX, BUF), FW_CFG_DMA_CTL_ERROR);
	/* Unknown control bits, several operations at once, and writes */
	fill(fx, BUF, 0x77, 8);
	assert_int_equal(dma(fx, rd_sig | 0x20, 4, BUF), FW_CFG_DMA_CTL_ERROR);
	assert_int_equal(dma(fx, rd_sig | 0x8000, 4, BUF), FW_CFG_DMA_CTL_ERROR);
	assert_int_equal(dma(fx, rd_sig | FW_CFG_DMA_CTL_SKIP, 4, BUF), FW_CFG_DMA_CTL_ERROR);
	assert_int_equal(
	    dma(fx, (FW_CFG_SIGNATURE << 16) | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_WRITE, 4,
		BUF),
	    FW_CFG_DMA_CTL_ERROR);
	assert_int_equal(gmem_read(&fx->m.mem, BUF, b, 8), 0);
	assert_memory_equal(b, "\x77\x77\x77\x77\x77\x77\x77\x77", 8);
	/* The signature item is untouched by the refused write */
	sel(fx, FW_CFG_SIGNATURE);
	port_read(fx, b, 4);
	assert_memory_equal(b, "QEMU", 4);
	/* A request that itself straddles the end of RAM is ignored without touching memory */
	fill(fx, RAM_SIZE - 8, 0x66, 8);
	assert_true(iobus_write(&fx->m.pio, LAYOUT_PORT_FW_CFG + 4, 4, 0));
	assert_true(iobus_write(&fx->m.pio, LAYOUT_PORT_FW_CFG + 8, 4,
				__builtin_bswap32((uint32_t)(RAM_SIZE - 8))));
	assert_int_equal(gmem_read(&fx->m.mem, RAM_SIZE - 8, b, 8), 0);
	assert_memory_equal(b, "\x66\x66\x66\x66\x66\x66\x66\x66", 8);
	/* The device still works afterwards */
	assert_int_equal(dma(fx, rd_sig, 4, BUF), 0);
	assert_int_equal(gmem_read(&fx->m.mem, BUF, b, 4), 0);
	assert_memory_equal(b, "QEMU", 4);
	/* A zero-length read at a bogus address is a no-op, not an error */
	assert_int_equal(dma(fx, rd_sig, 0, UINT64_MAX), 0);
}

/* Every item reads the same through the data port and through DMA. */
static void test_port_and_dma_agree(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		uint16_t key;
		uint32_t len;
	} items[] = {
	    {FW_CFG_SIGNATURE, 4},     {FW_CFG_ID, 4},
	    {FW_CFG_RAM_SIZE, 8},      {FW_CFG_NB_CPUS, 2},
	    {FW_CFG_MAX_CPUS, 2},      {FW_CFG_CMDLINE_SIZE, 4},
	    {FW_CFG_CMDLINE_DATA, 16}, {FW_CFG_FILE_DIR, 4 + 2 * 64},
	    {FW_CFG_FILE_FIRST, 300},  {FW_CFG_FILE_FIRST + 1, 1},
	};
	uint8_t big[300], via_port[400], via_dma[400];

	for (unsigned i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(fw_cfg_set_cmdline(fx->f, "root=/dev/vda1"), 0);
	assert_int_equal(fw_cfg_add_file(fx->f, "etc/big", big, sizeof(big)), 0);
	assert_int_equal(fw_cfg_add_file(fx->f, "etc/one", "!", 1), 0);
	for (unsigned i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		uint32_t n = items[i].len;

		sel(fx, items[i].key);
		port_read(fx, via_port, n + 8); /* 8 bytes past the end read as zeros */
		fill(fx, BUF, 0xaa, n + 8);
		assert_int_equal(dma(fx,
				     ((uint32_t)items[i].key << 16) | FW_CFG_DMA_CTL_SELECT |
					 FW_CFG_DMA_CTL_READ,
				     n + 8, BUF),
				 0);
		assert_int_equal(gmem_read(&fx->m.mem, BUF, via_dma, n + 8), 0);
		assert_memory_equal(via_port, via_dma, n + 8);
		for (unsigned k = n; k < n + 8; k++)
			assert_int_equal(via_port[k], 0);
	}
	sel(fx, FW_CFG_NB_CPUS);
	port_read(fx, via_port, 2);
	assert_int_equal(le(via_port, 2), 3);
	sel(fx, FW_CFG_FILE_FIRST);
	port_read(fx, via_port, sizeof(big));
	assert_memory_equal(via_port, big, sizeof(big));
}

static void test_create_errors(void **state)
{
	struct fixture *fx = *state;
	struct fw_cfg *other = NULL;

	assert_int_equal(fw_cfg_create(&fx->m, &other), -EEXIST);
	assert_null(other);
	assert_int_equal(fw_cfg_create(NULL, &other), -EINVAL);
	assert_int_equal(fw_cfg_add_file(NULL, "a", "b", 1), -EINVAL);
	assert_int_equal(fw_cfg_set_item(NULL, 0x10, "b", 1), -EINVAL);
	fw_cfg_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_port_items, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cmdline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_files_and_directory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_item_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dma_signature_register, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dma_read_skip_select, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dma_malformed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_port_and_dma_agree, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
