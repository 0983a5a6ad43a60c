/*
 * MC146818 CMOS real-time clock at ports 0x70 (index) and 0x71 (data), GSI 8.
 *
 * Time and date follow the host's clock in UTC plus an offset the guest sets
 * by writing the time registers (guest changes last until the VM stops).
 * Registers A-D, 12/24-hour and BCD/binary modes, the update-in-progress bit
 * (high during the last 244 us of each second), the century at 0x32 and 128
 * bytes of CMOS memory are modelled.
 *
 * Interrupts, limited to what Linux's rtc-cmos uses: the update-ended, alarm
 * (with "don't care" values 0xC0-0xFF) and periodic flags in register C are
 * exact when polled; when enabled in register B a timer thread raises GSI 8
 * at each second boundary and each periodic tick, but no more often than
 * once a millisecond (rates faster than 1 kHz are delivered at 1 kHz). The
 * line stays high until register C is read. The divider bits of register A
 * are stored but do not stop the clock; the square-wave output does not exist.
 */
#ifndef PETREL_DEVICES_RTC_H
#define PETREL_DEVICES_RTC_H

#include <stdbool.h>
#include <stdint.h>

struct machine;
struct rtc;

#define RTC_GSI 8
#define RTC_CMOS_CENTURY 0x32

int rtc_create(struct machine *m, struct rtc **out);
void rtc_destroy(struct rtc *r);
/* Bit 7 of the last index written: the guest's NMI mask (true = NMIs masked). */
bool rtc_nmi_masked(struct rtc *r);
/* Preset a CMOS memory byte (0x0e-0x7f except the century), e.g. for firmware data. */
int rtc_cmos_set(struct rtc *r, uint8_t index, uint8_t value);
/*
 * Replace the host clock (nanoseconds since the epoch, UTC) for tests;
 * NULL restores CLOCK_REALTIME.
 */
void rtc_set_clock(struct rtc *r, int64_t (*now_ns)(void *opaque), void *opaque);

#endif
