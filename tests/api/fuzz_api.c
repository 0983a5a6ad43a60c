/*
 * Fuzz the API request path below HTTP: input "METHOD PATH\n" then a body,
 * dispatched to the Firecracker routes of a VM that is never started.
 * Requests with host side effects beyond reading (starting a VM, opening a
 * metrics file) are skipped.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/fc_api.h"
#include "api/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fc_api api;
	static struct vm_config base;
	static int inited;
	char line[256], *sp, allow[64];
	const uint8_t *nl = memchr(data, '\n', size < sizeof(line) ? size : sizeof(line));
	json_t *out;
	size_t n;

	if (!inited) {
		vm_config_default(&base);
		inited = 1;
	}
	if (!nl)
		return 0;
	n = (size_t)(nl - data);
	memcpy(line, data, n);
	line[n] = '\0';
	sp = strchr(line, ' ');
	if (!sp || memchr(line, '\0', n) != line + n)
		return 0;
	*sp = '\0';
	if (!strcmp(sp + 1, "/metrics"))
		return 0;
	if (!strcmp(sp + 1, "/actions")) {
		/* Decoded, so escapes cannot hide an InstanceStart. */
		json_t *j = json_loadb((const char *)nl + 1, size - n - 1, 0, NULL);
		const char *act = json_string_value(json_object_get(j, "action_type"));
		int start = act && !strcmp(act, "InstanceStart");

		json_decref(j);
		if (start)
			return 0;
	}
	fc_api_init(&api, &base);
	api_dispatch(fc_api_routes, fc_api_nr_routes, &api, line, sp + 1, (const char *)nl + 1,
		     size - n - 1, &out, allow, sizeof(allow));
	json_decref(out);
	fc_api_destroy(&api);
	return 0;
}
