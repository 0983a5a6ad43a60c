#include "vm/machine.h"

bool machine_request_stop(struct machine *m, enum machine_stop why, int exit_status)
{
	int expected = MACHINE_RUNNING;

	/* Store the status before publishing the reason, so readers of the reason see it. */
	if (atomic_load(&m->stop_reason) != MACHINE_RUNNING)
		return false;
	m->exit_status = exit_status;
	if (!atomic_compare_exchange_strong(&m->stop_reason, &expected, (int)why))
		return false;
	if (m->on_stop)
		m->on_stop(m);
	return true;
}
