/*
 * Fuzz the hostfwd rule parser (user input from the command line and the
 * API). Whole network specs are not fuzzed: opening one binds host ports or
 * creates tap interfaces.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	char err[128];
	struct net_hostfwd f;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	if (net_parse_hostfwd(s, &f, err, sizeof(err)) == 0) {
		/* An accepted rule has usable ports. */
		if (f.host_port == 0 || f.guest_port == 0)
			__builtin_trap();
	} else if (!memchr(err, 0, sizeof(err)) || !err[0]) {
		__builtin_trap(); /* every refusal explains itself */
	}
	free(s);
	return 0;
}
