/*
 * petrel console VM: attach the terminal to the VM's console socket (the VM
 * process keeps the last 64 KiB of output and replays it on connect). The
 * terminal is raw while attached and restored on every way out; Ctrl-]
 * detaches and leaves the VM running.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_verbs.h"

#define CONSOLE_ESCAPE 0x1d /* Ctrl-] */

/* SIGTERM/SIGHUP end the session through the normal exit, so the terminal is restored. */
static volatile sig_atomic_t console_stop;

static void console_signal(int sig)
{
	console_stop = sig;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int console_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

/*
 * How long the console keeps showing output after a non-terminal stdin
 * ended: the replay of the ring and whatever follows, until the guest has
 * been quiet this long. So `petrel console VM </dev/null` prints the recent
 * output and returns.
 */
#define CONSOLE_DRAIN_MS 500

/* Copy between the terminal and the socket until Ctrl-], EOF or an error. */
static int console_loop(int sock, bool tty)
{
	bool input = true;
	char buf[4096];

	for (;;) {
		struct pollfd p[2] = {{.fd = sock, .events = POLLIN},
				      {.fd = STDIN_FILENO, .events = POLLIN}};
		ssize_t n;
		int r;

		if (console_stop)
			return 0;
		r = poll(p, input ? 2 : 1, input ? -1 : CONSOLE_DRAIN_MS);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return 0; /* drained after the end of input */
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(sock, buf, sizeof(buf));
			if (n <= 0)
				return 1; /* the VM process went away */
			if (write_all(STDOUT_FILENO, buf, (size_t)n))
				return -EIO;
		}
		if (input && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			char *esc;

			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				if (tty)
					return -EIO;
				/* Not a terminal: the input ended; show what is still coming. */
				input = false;
				continue;
			}
			esc = memchr(buf, CONSOLE_ESCAPE, (size_t)n);
			if (esc) {
				if (esc > buf)
					write_all(sock, buf, (size_t)(esc - buf));
				return 0;
			}
			if (write_all(sock, buf, (size_t)n))
				return 1;
		}
	}
}

int cli_console(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *socket_path = NULL, *console;
	struct termios saved, raw;
	struct pc_client c;
	json_t *vm = NULL;
	bool tty, restored = true;
	int opt, fd, rc;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		if (opt == 's') {
			socket_path = optarg;
		} else if (opt == 'h') {
			printf(
			    "Usage: petrel console [--socket PATH] VM\n"
			    "Attach this terminal to the VM's console (its serial port, or hvc0\n"
			    "with console virtio). Recent output (up to 64 KiB) is shown first.\n"
			    "Ctrl-] detaches; the VM keeps running. One client at a time: a new\n"
			    "one takes the console over. When stdin is not a terminal, its end\n"
			    "detaches once the output has been quiet for 0.5 s, so\n"
			    "'petrel console VM </dev/null' prints the recent output.\n\n"
			    "  --socket PATH   petreld's socket\n"
			    "  -h, --help      this help\n");
			return CLI_EXIT_OK;
		} else if (opt == ':') {
			return verb_usage_error("console", "%s: missing value", argv[optind - 1]);
		} else {
			return verb_usage_error("console", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return verb_usage_error("console", optind < argc ? "one VM at a time"
								 : "missing VM name or id");
	if (pc_init(&c, socket_path))
		return CLI_EXIT_FAILURE;
	rc = verb_get_vm(&c, "console", argv[optind], &vm);
	pc_fini(&c);
	if (rc)
		return rc;
	console = json_string_value(json_object_get(vm, "console_socket"));
	if (!console) {
		fprintf(stderr, "petrel console %s: the VM has no console socket\n", argv[optind]);
		json_decref(vm);
		return CLI_EXIT_FAILURE;
	}
	fd = console_connect(console);
	if (fd < 0) {
		fprintf(stderr, "petrel console %s: %s: %s\n", argv[optind], console,
			strerror(-fd));
		json_decref(vm);
		return CLI_EXIT_FAILURE;
	}
	json_decref(vm);
	/* A console whose peer vanished must not kill us before the terminal is restored. */
	signal(SIGPIPE, SIG_IGN);
	{
		struct sigaction sa = {.sa_handler = console_signal};

		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
	}
	tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	if (tty) {
		raw = saved;
		cfmakeraw(&raw);
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
			restored = false;
	}
	fprintf(stderr, "Connected to %s (escape: Ctrl-])%s", argv[optind], tty ? "\r\n" : "\n");
	rc = console_loop(fd, tty);
	if (!restored)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	close(fd);
	if (rc > 0) {
		fprintf(stderr, "\npetrel console %s: the console closed (the VM ended?)\n",
			argv[optind]);
		return CLI_EXIT_OK;
	}
	if (rc < 0) {
		fprintf(stderr, "\npetrel console %s: %s\n", argv[optind], strerror(-rc));
		return CLI_EXIT_FAILURE;
	}
	fprintf(stderr, "\nDetached from %s.\n", argv[optind]);
	return CLI_EXIT_OK;
}
