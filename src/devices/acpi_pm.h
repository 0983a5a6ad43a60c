/*
 * Hardware-reduced ACPI registers (docs/acpi.md): the FADT's sleep control,
 * sleep status and reset registers, plus the event register of the Generic
 * Event Device that carries the power button. Four byte-wide I/O ports:
 *
 *   base+0  sleep control   write SLP_EN (bit 5) | SLP_TYPx (bits 2-4)
 *   base+1  sleep status    WAK_STS (bit 7), write 1 to clear
 *   base+2  reset           write ACPI_PM_RESET_VALUE to reset the machine
 *   base+3  GED events      read returns and clears pending events (bit 0:
 *                           power button) and lowers the interrupt line
 */
#ifndef PETREL_DEVICES_ACPI_PM_H
#define PETREL_DEVICES_ACPI_PM_H

#include <stdint.h>

#include "arch/x86/layout.h"

struct machine;
struct acpi_pm;

#define ACPI_PM_SLEEP_CONTROL 0
#define ACPI_PM_SLEEP_STATUS  1
#define ACPI_PM_RESET	      2
#define ACPI_PM_GED_EVENT     3
#define ACPI_PM_SIZE	      4

#define ACPI_PM_SLP_EN	       0x20
#define ACPI_PM_SLP_TYP_SHIFT  2
#define ACPI_PM_SLP_TYP_MASK   0x1c
#define ACPI_PM_WAK_STS	       0x80
#define ACPI_PM_SLP_TYP_S5     5		   /* the value the DSDT's \_S5 package announces */
#define ACPI_PM_RESET_VALUE    0x42		   /* the FADT's RESET_VALUE */
#define ACPI_PM_GED_PWR_BUTTON 0x01		   /* event bit for the power button */
#define ACPI_PM_GED_GSI	       LAYOUT_GSI_ACPI_SCI /* level-triggered, active high */

/* Registers the device on m->pio at [port, port + ACPI_PM_SIZE). */
int acpi_pm_create(struct machine *m, uint16_t port, struct acpi_pm **out);
void acpi_pm_destroy(struct acpi_pm *pm);
/* Latch a power-button event and raise the GED interrupt (for `petrel shutdown`). */
int acpi_pm_press_power_button(struct acpi_pm *pm);

#endif
