/*
 * libFuzzer target for `petrel create`'s input: NUL-separated arguments
 * (create's own options, run's options, --net values) or, when the first
 * byte is odd, a config file (JSON) read back from a memfd, both turned into
 * VM spec JSON by cli_create_parse.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/cli_spec.h"

#define MAX_ARGS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run(int argc, char **argv)
{
	struct create_opts o;
	char err[512];
	json_t *spec = NULL;

	if (cli_create_parse(argc, argv, &o, &spec, err, sizeof(err)) == 0 && spec) {
		char *text = json_dumps(spec, JSON_COMPACT);

		free(text);
	}
	json_decref(spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS + 2], *buf;
	int argc = 0;

	if (size < 1 || size > 8192)
		return 0;
	if (data[0] & 1) {
		char path[64];
		int fd = memfd_create("fuzz-spec", MFD_CLOEXEC);

		if (fd < 0)
			return 0;
		if (write(fd, data + 1, size - 1) == (ssize_t)(size - 1)) {
			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			argv[0] = "create";
			argv[1] = path;
			argv[2] = NULL;
			run(2, argv);
		}
		close(fd);
		return 0;
	}
	/* Arguments: the bytes after the mode byte, split at NULs. */
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	argv[argc++] = "create";
	for (char *p = buf; p < buf + size - 1 && argc < MAX_ARGS + 1; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	run(argc, argv);
	free(buf);
	return 0;
}
