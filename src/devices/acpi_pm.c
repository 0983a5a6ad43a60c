#include "devices/acpi_pm.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "util/log.h"
#include "vm/machine.h"

struct acpi_pm {
	struct machine *m;
	uint16_t port;
	pthread_mutex_t lock;
	uint8_t sleep_status; /* WAK_STS only */
	uint8_t ged_events;   /* pending GED events; the line is high while non-zero */
};

static uint64_t acpi_pm_read(void *opaque, uint64_t off, unsigned size)
{
	struct acpi_pm *pm = opaque;
	uint64_t v = 0;

	pthread_mutex_lock(&pm->lock);
	switch (off) {
	case ACPI_PM_SLEEP_STATUS:
		v = pm->sleep_status;
		break;
	case ACPI_PM_GED_EVENT:
		/* Read-to-clear: the _EVT method reads once and handles every bit it saw. */
		v = pm->ged_events;
		if (pm->ged_events) {
			pm->ged_events = 0;
			irq_set_level(&pm->m->irq, ACPI_PM_GED_GSI, false);
		}
		break;
	default:
		/* Sleep control and reset are write-only; they read as zero. */
		break;
	}
	pthread_mutex_unlock(&pm->lock);
	return v;
}

static void acpi_pm_write(void *opaque, uint64_t off, unsigned size, uint64_t value)
{
	struct acpi_pm *pm = opaque;
	uint8_t v = (uint8_t)value; /* guest-controlled: every bit is checked below */

	pthread_mutex_lock(&pm->lock);
	switch (off) {
	case ACPI_PM_SLEEP_CONTROL:
		if (!(v & ACPI_PM_SLP_EN))
			break; /* SLP_TYP alone has no effect until SLP_EN is written */
		if (((v & ACPI_PM_SLP_TYP_MASK) >> ACPI_PM_SLP_TYP_SHIFT) == ACPI_PM_SLP_TYP_S5) {
			log_info("acpi: guest requested power off (S5)");
			machine_request_stop(pm->m, MACHINE_POWEROFF, 0);
		} else {
			/* Only S5 is announced in the DSDT; other states are not supported. */
			log_ratelimited(LOG_WARN, "acpi: unsupported sleep type %u ignored",
					(v & ACPI_PM_SLP_TYP_MASK) >> ACPI_PM_SLP_TYP_SHIFT);
		}
		break;
	case ACPI_PM_SLEEP_STATUS:
		if (v & ACPI_PM_WAK_STS)
			pm->sleep_status &= (uint8_t)~ACPI_PM_WAK_STS; /* write 1 to clear */
		break;
	case ACPI_PM_RESET:
		if (v == ACPI_PM_RESET_VALUE) {
			log_info("acpi: guest requested reset");
			machine_request_stop(pm->m, MACHINE_RESET, 0);
		}
		break;
	default:
		break; /* the event register is read-only */
	}
	pthread_mutex_unlock(&pm->lock);
}

static const struct iobus_ops acpi_pm_ops = {
    .name = "acpi-pm",
    .read = acpi_pm_read,
    .write = acpi_pm_write,
    .sizes = IOBUS_SIZE_1,
    .split = true,
};

int acpi_pm_create(struct machine *m, uint16_t port, struct acpi_pm **out)
{
	struct acpi_pm *pm;
	int rc;

	if (!m || !out || port > 0x10000 - ACPI_PM_SIZE)
		return -EINVAL;
	pm = calloc(1, sizeof(*pm));
	if (!pm)
		return -ENOMEM;
	pm->m = m;
	pm->port = port;
	rc = -pthread_mutex_init(&pm->lock, NULL);
	if (rc) {
		free(pm);
		return rc;
	}
	rc = iobus_register(&m->pio, port, ACPI_PM_SIZE, &acpi_pm_ops, pm);
	if (rc) {
		pthread_mutex_destroy(&pm->lock);
		free(pm);
		return rc;
	}
	*out = pm;
	return 0;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	if (!pm)
		return;
	iobus_unregister(&pm->m->pio, pm->port, pm);
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

int acpi_pm_press_power_button(struct acpi_pm *pm)
{
	if (!pm)
		return -EINVAL;
	pthread_mutex_lock(&pm->lock);
	pm->ged_events |= ACPI_PM_GED_PWR_BUTTON;
	irq_set_level(&pm->m->irq, ACPI_PM_GED_GSI, true);
	pthread_mutex_unlock(&pm->lock);
	return 0;
}
