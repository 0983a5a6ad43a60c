/*
 * petreld: options, socket and state dir resolution, start-up (re-adopt the
 * VMs of an earlier run), and shutdown on SIGTERM/SIGINT. Stopping the
 * daemon never stops the VMs: they run in sessions of their own and the
 * next daemon re-adopts them (docs/petreld.md).
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

#include "daemon/daemon.h"
#include "util/event_loop.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: petreld [OPTIONS]\n"
		   "The Petrel host daemon: creates, supervises and serves the API of VMs.\n\n"
		   "  --socket PATH     API socket (default $PETREL_SOCKET, else\n"
		   "                    /run/petrel/petreld.sock as root, else\n"
		   "                    $XDG_RUNTIME_DIR/petrel/petreld.sock)\n"
		   "  --state-dir DIR   VM state (default /var/lib/petrel as root, else\n"
		   "                    $XDG_RUNTIME_DIR/petrel/state)\n"
		   "  --petrel PATH     the petrel executable VM processes run (default: the\n"
		   "                    petrel next to this petreld)\n"
		   "  -h, --help        this help\n\n"
		   "Logs are JSON lines on stderr. SIGTERM/SIGINT stop the daemon, not the VMs.\n");
}

static int default_paths(struct daemon *d, const char *sock, const char *state)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	bool root = geteuid() == 0;

	if (!sock)
		sock = getenv("PETREL_SOCKET");
	if (sock && *sock)
		snprintf(d->socket_path, sizeof(d->socket_path), "%s", sock);
	else if (root)
		snprintf(d->socket_path, sizeof(d->socket_path), "/run/petrel/petreld.sock");
	else if (rt && *rt)
		snprintf(d->socket_path, sizeof(d->socket_path), "%s/petrel/petreld.sock", rt);
	else
		return -1;
	if (state && *state)
		snprintf(d->state_dir, sizeof(d->state_dir), "%s", state);
	else if (root)
		snprintf(d->state_dir, sizeof(d->state_dir), "/var/lib/petrel");
	else if (rt && *rt)
		snprintf(d->state_dir, sizeof(d->state_dir), "%s/petrel/state", rt);
	else
		return -1;
	return 0;
}

static int find_petrel(struct daemon *d, const char *opt)
{
	char self[VM_PATH_MAX];
	ssize_t n;

	if (opt) {
		if (realpath(opt, d->petrel) == NULL)
			return -1;
		return access(d->petrel, X_OK);
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	snprintf(d->petrel, sizeof(d->petrel), "%s/petrel", dirname(self));
	return access(d->petrel, X_OK);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"state-dir", required_argument, NULL, 'd'},
	    {"petrel", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *sock = NULL, *state = NULL, *petrel = NULL;
	struct daemon *d;
	struct api_server *srv;
	struct signalfd_siginfo si;
	char path[VM_PATH_MAX + 16], sockdir[VM_PATH_MAX];
	sigset_t set;
	int c, fd, sfd, lockfd, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'd':
			state = optarg;
			break;
		case 'p':
			petrel = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "petreld: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return 1;
	pthread_mutex_init(&d->lock, NULL);
	d->next_id = 1;
	d->boot_ms = now_ms();
	if (default_paths(d, sock, state)) {
		fprintf(stderr,
			"petreld: no socket/state dir: pass --socket and --state-dir or set "
			"XDG_RUNTIME_DIR\n");
		return 2;
	}
	if (find_petrel(d, petrel)) {
		fprintf(stderr, "petreld: cannot find the petrel executable (%s); use --petrel\n",
			d->petrel);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/vms", d->state_dir);
	snprintf(sockdir, sizeof(sockdir), "%s", d->socket_path);
	if (mkdir_p(path, 0700) || mkdir_p(dirname(sockdir), 0755)) {
		fprintf(stderr, "petreld: cannot create %s or the socket's directory: %s\n", path,
			strerror(errno));
		return 1;
	}
	/* Absolute, so the paths VM processes and clients get work from anywhere. */
	if (realpath(d->state_dir, path) && strlen(path) < sizeof(d->state_dir))
		strcpy(d->state_dir, path);
	/* One daemon per state dir: a second one would adopt the same VMs. */
	snprintf(path, sizeof(path), "%s/petreld.lock", d->state_dir);
	lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB)) {
		fprintf(stderr, "petreld: another petreld uses %s\n", d->state_dir);
		return 1;
	}
	/* The main thread waits for these; every thread made later inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	curl_global_init(CURL_GLOBAL_NOTHING);
	if (sfd < 0 || event_loop_create(&d->loop)) {
		fprintf(stderr, "petreld: cannot start the event loop\n");
		return 1;
	}
	cgroup_init(d);
	vm_adopt_all(d);
	rc = api_listen_unix(d->socket_path, &fd);
	if (rc) {
		fprintf(stderr, "petreld: cannot listen on %s: %s\n", d->socket_path,
			strerror(-rc));
		return 1;
	}
	chmod(d->socket_path, 0600); /* the API controls VMs: its owner only */
	/* Requests are served one at a time: let many clients queue (e.g. 20 creates at once). */
	listen(fd, SOMAXCONN);
	if (api_server_start(fd, daemon_routes, daemon_nr_routes, d, &srv)) {
		fprintf(stderr, "petreld: cannot serve the API\n");
		return 1;
	}
	daemon_log("info", "start", "pid %d serving %s, state %s, %u VMs re-adopted or known",
		   getpid(), d->socket_path, d->state_dir, registry_count(d));
	for (;;) {
		ssize_t n = read(sfd, &si, sizeof(si));

		if (n == (ssize_t)sizeof(si) && si.ssi_signo != SIGHUP)
			break;
		if (n < 0 && errno != EINTR)
			break;
	}
	daemon_log("info", "stop", "signal %u: stopping; VMs keep running", si.ssi_signo);
	api_server_stop(srv);
	unlink(d->socket_path);
	/* Watches end with the loop; entries and VM processes are left as they are. */
	event_loop_destroy(d->loop);
	if (d->cgroup_root[0])
		rmdir(d->cgroup_root); /* only when no VM is left in it */
	while (d->vms) {
		struct vm_entry *e = d->vms;

		d->vms = e->next;
		if (e->pidfd >= 0)
			close(e->pidfd); /* the process keeps running */
		free(e->spec);
		free(e);
	}
	pthread_mutex_destroy(&d->lock);
	free(d);
	close(lockfd);
	close(sfd);
	curl_global_cleanup();
	return 0;
}
