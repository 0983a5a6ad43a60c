/*
 * QEMU's firmware configuration device (fw_cfg), x86 port I/O form, as
 * QEMU's docs/specs/fw_cfg describes the guest ABI:
 *
 *   0x510  selector (16-bit write)   picks an item, resets the data offset
 *   0x511  data (8-bit read)         next byte of the item; 0 past its end
 *   0x514  DMA address (two 32-bit big-endian writes: high at 0x514, low at
 *          0x518; the low write starts the transfer). Reads return "QEMU CFG".
 *
 * A DMA request is a big-endian { u32 control; u32 length; u64 address; } in
 * guest memory. Control bits: 0x01 error, 0x02 read, 0x04 skip, 0x08 select
 * (item key in bits 16-31); 0x10 write is refused. On completion the device
 * writes 0 (or the error bit) back to control. Data is guest-read-only.
 */
#ifndef PETREL_DEVICES_FW_CFG_H
#define PETREL_DEVICES_FW_CFG_H

#include <stdint.h>

struct machine;
struct fw_cfg;

#define FW_CFG_SIGNATURE     0x0000
#define FW_CFG_ID	     0x0001
#define FW_CFG_RAM_SIZE	     0x0003
#define FW_CFG_NB_CPUS	     0x0005
#define FW_CFG_MAX_CPUS	     0x000f
#define FW_CFG_CMDLINE_SIZE  0x0014
#define FW_CFG_CMDLINE_DATA  0x0015
#define FW_CFG_FILE_DIR	     0x0019
#define FW_CFG_FILE_FIRST    0x0020
#define FW_CFG_MAX_FILES     64
#define FW_CFG_WRITE_CHANNEL 0x4000
#define FW_CFG_ARCH_LOCAL    0x8000

#define FW_CFG_ID_TRADITIONAL 0x01
#define FW_CFG_ID_DMA	      0x02

#define FW_CFG_DMA_CTL_ERROR  0x01
#define FW_CFG_DMA_CTL_READ   0x02
#define FW_CFG_DMA_CTL_SKIP   0x04
#define FW_CFG_DMA_CTL_SELECT 0x08
#define FW_CFG_DMA_CTL_WRITE  0x10

#define FW_CFG_MAX_FILE_NAME 55 /* name[56] with its NUL */

/*
 * Registers the device at LAYOUT_PORT_FW_CFG on m->pio and fills the
 * signature, ID, RAM size (m->mem.total), CPU counts (m->nr_cpus) and an
 * empty file directory.
 */
int fw_cfg_create(struct machine *m, struct fw_cfg **out);
void fw_cfg_destroy(struct fw_cfg *f);

/*
 * Set a numbered item (data copied). Refused (-EINVAL): the signature, ID and
 * file directory keys, the file key range, and keys with the write bit.
 */
int fw_cfg_set_item(struct fw_cfg *f, uint16_t key, const void *data, uint32_t len);
/* Add a named file (data copied). -EEXIST for a duplicate, -ENOSPC when full. */
int fw_cfg_add_file(struct fw_cfg *f, const char *name, const void *data, uint32_t len);
/* FW_CFG_CMDLINE_SIZE (length with NUL, le32) and FW_CFG_CMDLINE_DATA. */
int fw_cfg_set_cmdline(struct fw_cfg *f, const char *cmdline);

#endif
