/*
 * libFuzzer target for the VM spec parser (POST /vms bodies and `petrel
 * create` config files): arbitrary bytes through the same JSON parsing as the
 * server, then vm_spec_parse, the spec's JSON form (parsed back: it must
 * validate again) and the VM process's argv.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/http.h"
#include "daemon/vm_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm_spec s, s2;
	char err[512];
	json_t *j = NULL, *back;
	char **argv;

	if (size > API_MAX_BODY)
		return 0;
	if (api_parse_body((const char *)data, size, &j, err, sizeof(err)) || !j)
		return 0;
	if (!vm_spec_parse(j, &s, false, 1u << 20, err, sizeof(err))) {
		if (!s.name[0])
			strcpy(s.name, "vm1");
		back = vm_spec_to_json(&s);
		/* What the daemon stores must parse back to the same spec. */
		if (!back || vm_spec_parse(back, &s2, false, 1u << 20, err, sizeof(err)) ||
		    memcmp(&s, &s2, sizeof(s)))
			abort();
		json_decref(back);
		argv = vm_spec_argv(&s, "/bin/petrel", "/tmp/state/vms/x");
		if (!argv)
			abort();
		vm_spec_argv_free(argv);
		json_decref(vm_spec_boot_source(&s));
	}
	json_decref(j);
	return 0;
}
