/* Tables for list, top and info; see cli_format.h. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "cli/cli_format.h"

static const char *str_or(const json_t *obj, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : dflt;
}

/* An integer member as text, "-" when absent or not an integer. */
static void int_text(const json_t *obj, const char *key, char *out, size_t len)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_integer(v))
		snprintf(out, len, "%lld", (long long)json_integer_value(v));
	else
		snprintf(out, len, "-");
}

void cli_format_list(FILE *f, const json_t *vms)
{
	size_t i, width = 4;
	json_t *vm;

	/* Names are at most 64 bytes; the column fits the longest, like xl's 40. */
	json_array_foreach(vms, i, vm)
	{
		size_t n = strlen(str_or(vm, "name", "-"));

		if (n > width)
			width = n;
	}
	if (width < 24)
		width = 24;
	fprintf(f, "%-*s %5s %7s %5s %-8s %9s\n", (int)width, "Name", "ID", "Mem", "VCPUs", "State",
		"Time(s)");
	json_array_foreach(vms, i, vm)
	{
		char id[24], mem[24], cpus[24], t[32];
		json_t *ct = json_object_get(vm, "cpu_time_ms");

		int_text(vm, "id", id, sizeof(id));
		int_text(vm, "mem_mib", mem, sizeof(mem));
		int_text(vm, "cpus", cpus, sizeof(cpus));
		if (json_is_number(ct))
			snprintf(t, sizeof(t), "%.1f", json_number_value(ct) / 1000.0);
		else
			snprintf(t, sizeof(t), "-");
		fprintf(f, "%-*s %5s %7s %5s %-8s %9s\n", (int)width, str_or(vm, "name", "-"), id,
			mem, cpus, str_or(vm, "state", "-"), t);
	}
}

void cli_format_duration(long long ms, char *out, size_t len)
{
	long long s = ms < 0 ? 0 : ms / 1000;

	if (s >= 86400)
		snprintf(out, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(out, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(out, len, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(out, len, "%llds", s);
}

void cli_format_top(FILE *f, const struct top_row *rows, size_t n)
{
	fprintf(f, "%-24s %5s %-8s %6s %9s %7s %5s %9s\n", "NAME", "ID", "STATE", "CPU%",
		"RSS(MiB)", "MEM", "VCPUs", "UPTIME");
	for (size_t i = 0; i < n; i++) {
		const struct top_row *r = &rows[i];
		char cpu[16], rss[24], up[24];

		if (r->cpu_pct < 0)
			snprintf(cpu, sizeof(cpu), "-");
		else
			snprintf(cpu, sizeof(cpu), "%.1f", r->cpu_pct);
		if (r->rss_kib < 0)
			snprintf(rss, sizeof(rss), "-");
		else
			snprintf(rss, sizeof(rss), "%.1f", (double)r->rss_kib / 1024.0);
		cli_format_duration(r->uptime_ms, up, sizeof(up));
		fprintf(f, "%-24s %5lld %-8s %6s %9s %7lld %5lld %9s\n", r->name ? r->name : "-",
			r->id, r->state ? r->state : "-", cpu, rss, r->mem_mib, r->cpus, up);
	}
}

void cli_format_info(FILE *f, const json_t *info, const char *source)
{
	json_t *engines = json_object_get(info, "engines"), *e;
	const char *name;
	char v[24];

	fprintf(f, "%-12s %s\n", "version", str_or(info, "version", "-"));
	int_text(info, "cpus", v, sizeof(v));
	fprintf(f, "%-12s %s\n", "cpus", v);
	int_text(info, "mem_mib", v, sizeof(v));
	fprintf(f, "%-12s %s MiB\n", "memory", v);
	json_object_foreach(engines, name, e)
	{
		bool usable = json_is_true(json_object_get(e, "usable"));
		const char *why = json_string_value(json_object_get(e, "why"));

		fprintf(f, "engine %-5s %s%s%s%s\n", name, usable ? "usable" : "not usable",
			why && *why ? " (" : "", why && *why ? why : "", why && *why ? ")" : "");
	}
	fprintf(f, "%-12s %s\n", "auto picks", str_or(info, "auto", "-"));
	if (json_object_get(info, "vms")) {
		int_text(info, "vms", v, sizeof(v));
		fprintf(f, "%-12s %s\n", "vms", v);
	}
	fprintf(f, "%-12s %s\n", "source", source);
}

int cli_escape_segment(const char *s, char *out, size_t out_len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (!out_len)
		return -ENAMETOOLONG;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		bool plain = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			     (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
			     ch == '~';

		if (o + (plain ? 1 : 3) >= out_len)
			return -ENAMETOOLONG;
		if (plain) {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
	return 0;
}
