/*
 * VM state transitions (daemon.h): what an exit of the VM process means,
 * and which operations each state allows. Pure functions, unit-tested in
 * tests/unit/test_daemon_state.c.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "daemon/daemon.h"

bool vm_state_live(enum vm_state s)
{
	return s != VM_SHUTOFF && s != VM_CRASHED;
}

static const char *signame(int sig)
{
	const char *s = sigabbrev_np(sig);

	return s ? s : "?";
}

enum vm_state vm_exit_classify(int code, int status, bool known, struct vm_exit *x)
{
	memset(x, 0, sizeof(*x));
	if (!known) {
		snprintf(x->reason, sizeof(x->reason),
			 "the VM process (re-adopted after a daemon restart) exited; its status is "
			 "unknown");
		return VM_CRASHED;
	}
	if (code == CLD_EXITED) {
		x->has_status = true;
		x->status = status;
		if (status == 0)
			snprintf(x->reason, sizeof(x->reason), "the guest powered off");
		else if ((status & 1) && status != 1)
			snprintf(x->reason, sizeof(x->reason),
				 "the guest wrote %d to the debug-exit port (exit status %d)",
				 status >> 1, status);
		else
			snprintf(x->reason, sizeof(x->reason),
				 "the VM process failed with exit status %d (see the log)", status);
		return status == 0 ? VM_SHUTOFF : VM_CRASHED;
	}
	x->has_signal = true;
	x->signal = status;
	snprintf(x->reason, sizeof(x->reason), "the VM process was killed by signal %d (SIG%s)%s",
		 status, signame(status), code == CLD_DUMPED ? ", core dumped" : "");
	return VM_CRASHED;
}

int vm_check_action(enum vm_state s, const char *action, char *err, size_t len)
{
	static const char *const known[] = {"InstanceStart", "SendCtrlAltDel", "Shutdown", "Reboot",
					    "FlushMetrics"};
	bool ok = false;

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		ok |= !strcmp(action, known[i]);
	if (!ok) {
		snprintf(err, len,
			 "field `action_type`: unknown action '%s' (expected InstanceStart, "
			 "SendCtrlAltDel, Shutdown, Reboot or FlushMetrics)",
			 action);
		return 400;
	}
	if (!vm_state_live(s) || s == VM_STARTING) {
		snprintf(err, len, "the VM is %s", vm_state_name(s));
		return 409;
	}
	if (!strcmp(action, "InstanceStart") && s != VM_CREATED) {
		snprintf(err, len, "the VM is %s: InstanceStart needs a created VM",
			 vm_state_name(s));
		return 409;
	}
	if (!strcmp(action, "Reboot") && s == VM_PAUSED) {
		snprintf(err, len, "the VM is paused: resume it first");
		return 409;
	}
	if (strcmp(action, "InstanceStart") && strcmp(action, "FlushMetrics") && s == VM_CREATED) {
		snprintf(err, len, "the VM is not started (InstanceStart)");
		return 409;
	}
	return 0;
}

int vm_check_pause(enum vm_state s, bool pause, char *err, size_t len)
{
	if (s != VM_RUNNING && s != VM_PAUSED) {
		snprintf(err, len, "the VM is %s: only a running or paused VM can be %s",
			 vm_state_name(s), pause ? "paused" : "resumed");
		return 409;
	}
	return 0;
}
