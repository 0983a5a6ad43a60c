/*
 * petrel top: CPU% and RSS per VM, refreshed. CPU% is the VM process's CPU
 * time (GET /vms/{vm}/metrics cpu_time_ms) over the wall time between two
 * samples, so 100% is one host CPU busy; RSS is rss_kib of the same answer.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_format.h"
#include "cli/cli_verbs.h"

struct top_sample {
	char name[80];
	long long cpu_ms; /* -1: unknown */
};

static volatile sig_atomic_t top_stop;

static void top_signal(int sig)
{
	top_stop = sig;
}

/*
 * One sample of every VM: rows (names point into *vms, which the caller
 * keeps) and their CPU times. Returns the number of rows, or -1 on failure.
 */
static long top_sample(struct pc_client *c, json_t **vms, struct top_row **rows,
		       struct top_sample **s)
{
	struct pc_reply r;
	size_t i, n;
	json_t *vm;

	if (verb_call(c, "top", NULL, "GET", "/vms", NULL, 200, &r))
		return -1;
	if (!json_is_array(r.json)) {
		fprintf(stderr, "petrel top: petreld sent no VM array\n");
		pc_reply_free(&r);
		return -1;
	}
	*vms = json_incref(r.json);
	pc_reply_free(&r);
	n = json_array_size(*vms);
	*rows = calloc(n + 1, sizeof(**rows));
	*s = calloc(n + 1, sizeof(**s));
	if (!*rows || !*s)
		return -1;
	json_array_foreach(*vms, i, vm)
	{
		struct top_row *row = &(*rows)[i];
		struct pc_reply m;
		char path[512];
		json_t *v;

		row->name = json_string_value(json_object_get(vm, "name"));
		row->id = json_integer_value(json_object_get(vm, "id"));
		row->state = json_string_value(json_object_get(vm, "state"));
		row->mem_mib = json_integer_value(json_object_get(vm, "mem_mib"));
		row->cpus = json_integer_value(json_object_get(vm, "cpus"));
		row->uptime_ms = json_integer_value(json_object_get(vm, "uptime_ms"));
		row->cpu_pct = -1;
		row->rss_kib = -1;
		(*s)[i].cpu_ms = -1;
		snprintf((*s)[i].name, sizeof((*s)[i].name), "%s", row->name ? row->name : "");
		if (!row->name || verb_vm_path("top", row->name, "/metrics", path, sizeof(path)))
			continue;
		if (pc_request(c, "GET", path, NULL, &m))
			return -1;
		if (m.status == 200) {
			if (json_is_integer(v = json_object_get(m.json, "rss_kib")))
				row->rss_kib = json_integer_value(v);
			if (json_is_integer(v = json_object_get(m.json, "cpu_time_ms")))
				(*s)[i].cpu_ms = json_integer_value(v);
			if (json_is_integer(v = json_object_get(m.json, "uptime_ms")))
				row->uptime_ms = json_integer_value(v);
		}
		pc_reply_free(&m);
	}
	return (long)n;
}

/* Sleep ms, or less when a key arrives on a terminal ('q' ends top). */
static bool top_wait(long ms, bool tty)
{
	struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
	long long end = verb_now_ms() + ms;

	for (;;) {
		long long left = end - verb_now_ms();
		char ch;

		if (top_stop)
			return false;
		if (left <= 0)
			return true;
		if (!tty) {
			struct timespec ts = {left / 1000, (left % 1000) * 1000000};

			nanosleep(&ts, NULL);
			continue;
		}
		if (poll(&p, 1, (int)left) > 0) {
			if (read(STDIN_FILENO, &ch, 1) != 1 || ch == 'q' || ch == 'Q' || ch == 3)
				return false;
		}
	}
}

int cli_top(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"once", no_argument, NULL, 'o'},
	    {"delay", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *socket_path = NULL;
	bool once = false, tty, raw_set = false;
	struct termios saved, raw;
	json_t *prev_vms = NULL;
	struct top_sample *prev = NULL;
	struct top_row *prev_rows = NULL;
	long long prev_t = 0;
	long delay_ms = 1000, nprev = 0, frames = 0;
	struct pc_client c;
	int opt, rc = CLI_EXIT_OK;
	char *end;
	double d;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			socket_path = optarg;
			break;
		case 'o':
			once = true;
			break;
		case 'd':
			errno = 0;
			d = strtod(optarg, &end);
			if (!*optarg || *end || errno || !(d >= 0.1 && d <= 3600))
				return verb_usage_error("top", "--delay %s: 0.1 to 3600 seconds",
							optarg);
			delay_ms = (long)(d * 1000);
			break;
		case 'h':
			printf(
			    "Usage: petrel top [--once] [--delay S] [--socket PATH]\n"
			    "CPU%% (of one host CPU, between two samples) and resident memory of\n"
			    "each VM's process, refreshed every --delay seconds (default 1);\n"
			    "q or Ctrl-C quits. --once prints one frame (after one interval) and\n"
			    "exits.\n");
			return CLI_EXIT_OK;
		case ':':
			return verb_usage_error("top", "%s: missing value", argv[optind - 1]);
		default:
			return verb_usage_error("top", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return verb_usage_error("top", "unexpected argument '%s'", argv[optind]);
	if (pc_init(&c, socket_path))
		return CLI_EXIT_FAILURE;
	tty = !once && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) &&
	      tcgetattr(STDIN_FILENO, &saved) == 0;
	if (tty) {
		struct sigaction sa = {.sa_handler = top_signal};

		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		raw_set = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	for (;;) {
		json_t *vms = NULL;
		struct top_row *rows = NULL;
		struct top_sample *s = NULL;
		long long t = verb_now_ms();
		long n = top_sample(&c, &vms, &rows, &s);

		if (n < 0) {
			json_decref(vms);
			free(rows);
			free(s);
			rc = CLI_EXIT_FAILURE;
			break;
		}
		/* CPU% against the previous sample of the same VM (matched by name). */
		for (long i = 0; i < n; i++) {
			for (long j = 0; prev && j < nprev; j++) {
				if (strcmp(prev[j].name, s[i].name) || s[i].cpu_ms < 0 ||
				    prev[j].cpu_ms < 0 || t <= prev_t)
					continue;
				rows[i].cpu_pct = 100.0 * (double)(s[i].cpu_ms - prev[j].cpu_ms) /
						  (double)(t - prev_t);
				if (rows[i].cpu_pct < 0)
					rows[i].cpu_pct = 0;
			}
		}
		/* --once waits for a second sample so CPU% has an interval. */
		if (prev || !once) {
			time_t now = time(NULL);
			char clock[16];

			strftime(clock, sizeof(clock), "%H:%M:%S", localtime(&now));
			if (tty)
				fputs("\033[H\033[2J", stdout);
			printf("petrel top - %s, %ld VM%s%s\n", clock, n, n == 1 ? "" : "s",
			       tty ? " (q quits)" : "");
			cli_format_top(stdout, rows, (size_t)n);
			fflush(stdout);
			frames++;
		}
		json_decref(prev_vms);
		free(prev_rows);
		free(prev);
		prev_vms = vms, prev_rows = rows, prev = s, nprev = n, prev_t = t;
		if (once && frames)
			break;
		if (!top_wait(delay_ms, tty))
			break;
	}
	if (raw_set)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	json_decref(prev_vms);
	free(prev_rows);
	free(prev);
	pc_fini(&c);
	return rc;
}
