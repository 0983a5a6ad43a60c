/*
 * The tables petrel prints (list, top, info), as functions of the JSON the
 * daemon returns, so tests/unit/test_cli_format.c checks them without one.
 */
#ifndef PETREL_CLI_FORMAT_H
#define PETREL_CLI_FORMAT_H

#include <jansson.h>
#include <stdio.h>

/*
 * `petrel list`: an array of VM summaries, like `xl list`:
 * Name, ID, Mem (MiB), VCPUs, State, Time(s) (the VM's CPU time from the
 * optional "cpu_time_ms" member the caller adds from /vms/{vm}/metrics; "-"
 * without it). Rows in the array's order.
 */
void cli_format_list(FILE *f, const json_t *vms);

struct top_row {
	const char *name;
	long long id;
	const char *state;
	double cpu_pct;	   /* < 0: unknown */
	long long rss_kib; /* < 0: unknown */
	long long mem_mib;
	long long cpus;
	long long uptime_ms;
};
void cli_format_top(FILE *f, const struct top_row *rows, size_t n);

/* Host info (GET / shape); source says where it came from. */
void cli_format_info(FILE *f, const json_t *info, const char *source);

/* "1d02h", "3h04m", "5m07s", "42s": uptime for top. */
void cli_format_duration(long long ms, char *out, size_t len);

/* Percent-encode s for one URL path segment; 0 or -ENAMETOOLONG. */
int cli_escape_segment(const char *s, char *out, size_t out_len);

#endif
