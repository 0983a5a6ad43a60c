/* Unit tests of petreld's VM state transitions (src/daemon/state.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "daemon/daemon.h"

static void test_exit_classify(void **state)
{
	struct vm_exit x;

	/* petrel run exits 0 when the guest powers off. */
	assert_int_equal(vm_exit_classify(CLD_EXITED, 0, true, &x), VM_SHUTOFF);
	assert_true(x.has_status);
	assert_int_equal(x.status, 0);
	assert_false(x.has_signal);
	assert_non_null(strstr(x.reason, "powered off"));
	/* An error (1) or a debug-exit value ((v << 1) | 1) is not a clean end. */
	assert_int_equal(vm_exit_classify(CLD_EXITED, 1, true, &x), VM_CRASHED);
	assert_int_equal(x.status, 1);
	assert_int_equal(vm_exit_classify(CLD_EXITED, 7, true, &x), VM_CRASHED);
	assert_non_null(strstr(x.reason, "debug-exit port"));
	assert_non_null(strstr(x.reason, "wrote 3"));
	/* Signals. */
	assert_int_equal(vm_exit_classify(CLD_KILLED, 9, true, &x), VM_CRASHED);
	assert_true(x.has_signal);
	assert_false(x.has_status);
	assert_int_equal(x.signal, 9);
	assert_non_null(strstr(x.reason, "SIGKILL"));
	assert_int_equal(vm_exit_classify(CLD_DUMPED, 11, true, &x), VM_CRASHED);
	assert_non_null(strstr(x.reason, "core dumped"));
	/* A re-adopted process's status is unknown: never reported as clean. */
	assert_int_equal(vm_exit_classify(0, 0, false, &x), VM_CRASHED);
	assert_false(x.has_status);
	assert_false(x.has_signal);
	assert_non_null(strstr(x.reason, "unknown"));
}

static void test_actions(void **state)
{
	static const enum vm_state all[] = {VM_STARTING, VM_CREATED, VM_RUNNING,
					    VM_PAUSED,	 VM_SHUTOFF, VM_CRASHED};
	char err[256];

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		enum vm_state s = all[i];
		bool live = s != VM_SHUTOFF && s != VM_CRASHED && s != VM_STARTING;

		assert_int_equal(vm_check_action(s, "Explode", err, sizeof(err)), 400);
		assert_int_equal(vm_check_action(s, "InstanceStart", err, sizeof(err)),
				 s == VM_CREATED ? 0 : 409);
		assert_int_equal(vm_check_action(s, "Shutdown", err, sizeof(err)),
				 live && s != VM_CREATED ? 0 : 409);
		assert_int_equal(vm_check_action(s, "SendCtrlAltDel", err, sizeof(err)),
				 live && s != VM_CREATED ? 0 : 409);
		assert_int_equal(vm_check_action(s, "Reboot", err, sizeof(err)),
				 s == VM_RUNNING ? 0 : 409);
		assert_int_equal(vm_check_action(s, "FlushMetrics", err, sizeof(err)),
				 live ? 0 : 409);
		assert_int_equal(vm_check_pause(s, true, err, sizeof(err)),
				 s == VM_RUNNING || s == VM_PAUSED ? 0 : 409);
		assert_int_equal(vm_check_pause(s, false, err, sizeof(err)),
				 s == VM_RUNNING || s == VM_PAUSED ? 0 : 409);
		assert_int_equal(vm_state_live(s), s != VM_SHUTOFF && s != VM_CRASHED);
	}
	vm_check_action(VM_SHUTOFF, "Shutdown", err, sizeof(err));
	assert_non_null(strstr(err, "shutoff"));
}

static void test_state_names(void **state)
{
	assert_string_equal(vm_state_name(VM_CREATED), "created");
	assert_string_equal(vm_state_name(VM_RUNNING), "running");
	assert_string_equal(vm_state_name(VM_PAUSED), "paused");
	assert_string_equal(vm_state_name(VM_SHUTOFF), "shutoff");
	assert_string_equal(vm_state_name(VM_CRASHED), "crashed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exit_classify),
	    cmocka_unit_test(test_actions),
	    cmocka_unit_test(test_state_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
