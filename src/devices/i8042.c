#include "devices/i8042.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "arch/x86/layout.h"
#include "util/log.h"
#include "vm/machine.h"

#define PORT_DATA   LAYOUT_PORT_I8042
#define PORT_STATUS (LAYOUT_PORT_I8042 + 4)

#define STR_OBF     0x01
#define STR_SYS     0x04
#define STR_CMD     0x08 /* last write was to the command port */
#define STR_UNLOCK  0x10 /* keyboard not inhibited */
#define STR_AUXDATA 0x20
#define STR_TIMEOUT 0x40

#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYS    0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE  0x40

#define OUTPORT_RESET 0x01 /* active low: 0 holds the CPU in reset */
#define OUTPORT_A20   0x02

#define I8042_QUEUE 16
#define Q_AUX       0x100
#define Q_TIMEOUT   0x200
#define DEV_NAK     0xfe

struct i8042 {
	struct machine *m;
	pthread_mutex_t lock;
	uint8_t ctr;
	uint8_t ram[32];  /* controller RAM 0x01-0x1f (0 is the command byte) */
	uint8_t outport;
	uint8_t pending;  /* command waiting for its data byte, or 0 */
	bool last_cmd;
	uint16_t q[I8042_QUEUE]; /* byte | Q_AUX | Q_TIMEOUT */
	unsigned q_head, q_count;
	bool kbd_level, aux_level;
	bool registered_data, registered_status;
};

static void i8042_update_irq(struct i8042 *k)
{
	bool aux = k->q_count && (k->q[k->q_head] & Q_AUX);
	bool kbd_level = k->q_count && !aux && (k->ctr & CTR_KBDINT);
	bool aux_level = k->q_count && aux && (k->ctr & CTR_AUXINT);

	if (kbd_level != k->kbd_level) {
		k->kbd_level = kbd_level;
		irq_set_level(&k->m->irq, I8042_GSI_KBD, kbd_level);
	}
	if (aux_level != k->aux_level) {
		k->aux_level = aux_level;
		irq_set_level(&k->m->irq, I8042_GSI_AUX, aux_level);
	}
}

static void i8042_push(struct i8042 *k, uint16_t v)
{
	if (k->q_count == I8042_QUEUE)
		return; /* a guest that never reads loses the excess */
	k->q[(k->q_head + k->q_count) % I8042_QUEUE] = v;
	k->q_count++;
}

static void i8042_reset_machine(struct i8042 *k)
{
	log_info("i8042: the guest pulsed the reset line");
	machine_request_stop(k->m, MACHINE_RESET, 0);
}

static uint8_t i8042_status(const struct i8042 *k)
{
	uint8_t s = STR_UNLOCK;

	if (k->ctr & CTR_SYS)
		s |= STR_SYS;
	if (k->last_cmd)
		s |= STR_CMD;
	if (k->q_count) {
		s |= STR_OBF;
		if (k->q[k->q_head] & Q_AUX)
			s |= STR_AUXDATA;
		if (k->q[k->q_head] & Q_TIMEOUT)
			s |= STR_TIMEOUT;
	}
	return s;
}

static void i8042_command(struct i8042 *k, uint8_t cmd)
{
	/* Guest value: every command byte is handled or ignored below. */
	if (cmd == 0x20) {
		i8042_push(k, k->ctr);
	} else if (cmd >= 0x21 && cmd <= 0x3f) {
		i8042_push(k, k->ram[cmd & 0x1f]);
	} else if (cmd >= 0x60 && cmd <= 0x7f) {
		k->pending = cmd;
	} else if (cmd >= 0xf0) {
		/* Bits 3:0 clear pulse the matching output lines; bit 0 is reset. */
		if (!(cmd & 0x01))
			i8042_reset_machine(k);
	} else {
		switch (cmd) {
		case 0xa7:
			k->ctr |= CTR_AUXDIS;
			break;
		case 0xa8:
			k->ctr &= ~CTR_AUXDIS;
			break;
		case 0xa9: /* aux interface test: no fault on the lines */
		case 0xab: /* keyboard interface test */
			i8042_push(k, 0x00);
			break;
		case 0xaa: /* self-test passes and sets the system flag */
			k->ctr |= CTR_SYS;
			i8042_push(k, 0x55);
			break;
		case 0xad:
			k->ctr |= CTR_KBDDIS;
			break;
		case 0xae:
			k->ctr &= ~CTR_KBDDIS;
			break;
		case 0xc0: /* input port: nothing interesting */
		case 0xe0: /* test inputs */
			i8042_push(k, 0x00);
			break;
		case 0xd0: {
			uint8_t v = k->outport;

			if (k->q_count && !(k->q[k->q_head] & Q_AUX))
				v |= 0x10;
			if (k->q_count && (k->q[k->q_head] & Q_AUX))
				v |= 0x20;
			i8042_push(k, v);
			break;
		}
		case 0xd1:
		case 0xd2:
		case 0xd3:
		case 0xd4:
			k->pending = cmd;
			break;
		case 0xdd:
		case 0xdf: /* A20 is always on */
			break;
		default:
			log_ratelimited(LOG_DEBUG, "i8042: unknown command 0x%02x ignored", cmd);
			break;
		}
	}
}

static void i8042_data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending;

	k->pending = 0;
	if (cmd >= 0x60 && cmd <= 0x7f) {
		if (cmd == 0x60)
			k->ctr = v;
		else
			k->ram[cmd & 0x1f] = v;
		return;
	}
	switch (cmd) {
	case 0xd1:
		/* A20 (bit 1) cannot be turned off here; bit 0 low resets. */
		k->outport = (v & ~OUTPORT_A20) | OUTPORT_A20;
		if (!(v & OUTPORT_RESET)) {
			k->outport |= OUTPORT_RESET;
			i8042_reset_machine(k);
		}
		break;
	case 0xd2:
		i8042_push(k, v);
		break;
	case 0xd3:
		i8042_push(k, v | Q_AUX);
		break;
	case 0xd4:
		i8042_push(k, DEV_NAK | Q_AUX | Q_TIMEOUT); /* no mouse */
		break;
	default:
		i8042_push(k, DEV_NAK | Q_TIMEOUT); /* no keyboard */
		break;
	}
}

static uint64_t i8042_read(void *opaque, uint64_t offset, unsigned size)
{
	struct i8042 *k = opaque;
	uint8_t v;

	pthread_mutex_lock(&k->lock);
	if (offset == 0) {
		/* An empty buffer rereads the last byte on real parts; 0 is as good. */
		v = 0;
		if (k->q_count) {
			v = (uint8_t)k->q[k->q_head];
			k->q_head = (k->q_head + 1) % I8042_QUEUE;
			k->q_count--;
		}
	} else {
		v = i8042_status(k);
	}
	i8042_update_irq(k);
	pthread_mutex_unlock(&k->lock);
	return v;
}

static void i8042_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct i8042 *k = opaque;

	pthread_mutex_lock(&k->lock);
	if (offset == 0) {
		k->last_cmd = false;
		i8042_data(k, (uint8_t)value);
	} else {
		k->last_cmd = true;
		k->pending = 0; /* a new command abandons a pending one */
		i8042_command(k, (uint8_t)value);
	}
	i8042_update_irq(k);
	pthread_mutex_unlock(&k->lock);
}

/* Two one-port ranges share the ops; offset 0 is meaningful, the port tells them apart. */
static uint64_t i8042_read_data(void *opaque, uint64_t offset, unsigned size)
{
	return i8042_read(opaque, 0, size);
}

static void i8042_write_data(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	i8042_write(opaque, 0, size, value);
}

static uint64_t i8042_read_status(void *opaque, uint64_t offset, unsigned size)
{
	return i8042_read(opaque, 4, size);
}

static void i8042_write_status(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	i8042_write(opaque, 4, size, value);
}

static const struct iobus_ops i8042_data_ops = {
	.name = "i8042-data",
	.read = i8042_read_data,
	.write = i8042_write_data,
	.sizes = IOBUS_SIZE_1,
};

static const struct iobus_ops i8042_status_ops = {
	.name = "i8042-status",
	.read = i8042_read_status,
	.write = i8042_write_status,
	.sizes = IOBUS_SIZE_1,
};

int i8042_create(struct machine *m, struct i8042 **out)
{
	struct i8042 *k;
	int rc;

	*out = NULL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->m = m;
	/* As firmware leaves it: keyboard interrupt, translation, aux disabled. */
	k->ctr = CTR_KBDINT | CTR_SYS | CTR_XLATE | CTR_AUXDIS;
	k->outport = OUTPORT_RESET | OUTPORT_A20;
	pthread_mutex_init(&k->lock, NULL);
	rc = iobus_register(&m->pio, PORT_DATA, 1, &i8042_data_ops, k);
	if (rc)
		goto fail;
	k->registered_data = true;
	rc = iobus_register(&m->pio, PORT_STATUS, 1, &i8042_status_ops, k);
	if (rc)
		goto fail;
	k->registered_status = true;
	*out = k;
	return 0;
fail:
	i8042_destroy(k);
	return rc;
}

void i8042_destroy(struct i8042 *k)
{
	if (!k)
		return;
	if (k->registered_data)
		iobus_unregister(&k->m->pio, PORT_DATA, k);
	if (k->registered_status)
		iobus_unregister(&k->m->pio, PORT_STATUS, k);
	if (k->kbd_level)
		irq_set_level(&k->m->irq, I8042_GSI_KBD, false);
	if (k->aux_level)
		irq_set_level(&k->m->irq, I8042_GSI_AUX, false);
	pthread_mutex_destroy(&k->lock);
	free(k);
}
