/*
 * The engine side: the same bytes and state loaded into the software CPU
 * through its public API (src/cpu/x86/cpu.h).
 */
#include <string.h>

#include "cpudiff.h"

#if __has_include("cpu/x86/cpu.h")
#error "engine binding not written yet"
#else
/* No software CPU yet: every case is "not implemented". */
int cd_engine_init(void)
{
	return 0;
}

void cd_engine_run(const struct cd_case *c, struct cd_result *res)
{
	memset(res, 0, sizeof(*res));
	res->outcome = CD_EXC;
	res->vector = 6;
	res->out = c->in;
	snprintf(res->note, sizeof(res->note), "no software CPU in this build");
}
#endif
