/*
 * petreld: the host daemon (docs/petreld.md). One VM process per VM,
 * spawned and supervised here; the daemon itself holds no guest memory.
 *
 * Threads: the HTTP server thread runs every route handler (one at a time);
 * the event loop thread runs exit notifications (pidfds). Both take
 * daemon.lock around registry changes. Entries are only freed by DELETE
 * (handler thread) after the pidfd watch is gone, so a handler may keep an
 * entry pointer across unlocked work.
 */
#ifndef PETREL_DAEMON_DAEMON_H
#define PETREL_DAEMON_DAEMON_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "api/http.h"
#include "daemon/vm_spec.h"

struct event_loop;

enum vm_state {
	VM_STARTING, /* spawned, api.sock not answering yet */
	VM_CREATED,  /* process up, waiting for InstanceStart */
	VM_RUNNING,
	VM_PAUSED,
	VM_SHUTOFF, /* exited with status 0 (guest poweroff) */
	VM_CRASHED, /* killed by a signal the daemon did not send, or non-zero exit */
};

struct vm_exit {
	bool has_status, has_signal;
	int status, signal;
	char reason[160];
};

struct vm_entry {
	struct vm_entry *next;
	struct daemon *d;
	unsigned id;
	struct vm_spec *spec;
	char dir[VM_PATH_MAX];
	enum vm_state state;
	pid_t pid;
	int pidfd;		      /* -1 once the process is gone */
	unsigned long long starttime; /* /proc/<pid>/stat field 22: guards pid reuse */
	bool child;		      /* ours to reap (not re-adopted) */
	bool watched;		      /* pidfd registered with the event loop */
	bool destroying;	      /* DELETE in progress: its SIGKILL is not a crash */
	int64_t started_ms;	      /* unix ms */
	int64_t ended_ms;	      /* unix ms, once shutoff or crashed */
	struct vm_exit exit;	      /* valid in VM_SHUTOFF / VM_CRASHED */
	char cgroup[VM_PATH_MAX];     /* "" when not placed in a cgroup */
};

struct daemon {
	pthread_mutex_t lock;
	struct vm_entry *vms;
	unsigned next_id;
	char state_dir[2048]; /* short enough for <state>/vms/<name>/<file> */
	char socket_path[VM_PATH_MAX];
	char petrel[VM_PATH_MAX]; /* the petrel executable VM processes run */
	struct event_loop *loop;
	char cgroup_root[1024]; /* "" when cgroup v2 is unusable */
	int64_t boot_ms;
};

/* state.c: transitions */
bool vm_state_live(enum vm_state s);
/*
 * What an exit means: code/status as waitid() reports them (CLD_EXITED and
 * the exit status, or CLD_KILLED/CLD_DUMPED and the signal); known false
 * for a re-adopted VM whose status cannot be read. Fills x; returns the state.
 */
enum vm_state vm_exit_classify(int code, int status, bool known, struct vm_exit *x);
/* 0 when action_type may be sent to a VM in state s, else the HTTP status (400/409) and err. */
int vm_check_action(enum vm_state s, const char *action, char *err, size_t len);
/* Likewise for PATCH vm {"state": "Paused"/"Resumed"}. */
int vm_check_pause(enum vm_state s, bool pause, char *err, size_t len);

/* registry.c */
const char *vm_state_name(enum vm_state s);
int64_t now_ms(void);
/* Look up by name or decimal id; caller holds no lock (handler thread). */
struct vm_entry *registry_find(struct daemon *d, const char *name_or_id);
unsigned registry_count(struct daemon *d);
/* Every VM and its state at one instant, oldest first; free() the array (NULL: out of memory). */
struct vm_snap {
	struct vm_entry *e;
	enum vm_state state;
};
struct vm_snap *registry_snapshot(struct daemon *d, unsigned *n);
/* Summary JSON of one VM (takes the lock). with_spec adds "spec". */
json_t *registry_summary(struct daemon *d, struct vm_entry *e, bool with_spec);
/* Persist id / pid / start time (state.json, pid) of an entry. */
int registry_save(struct daemon *d, struct vm_entry *e);
/* Write exit.json from e->exit. */
int registry_save_exit(struct vm_entry *e);
/* Append one structured JSON line to the VM's log (and the daemon's stderr). */
void vm_log(struct vm_entry *e, const char *level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void daemon_log(const char *level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
extern bool daemon_log_quiet; /* no log lines on stderr (fuzzing) */
/* Remove the VM's directory and its files. */
void registry_remove_dir(struct vm_entry *e);
int write_file(const char *path, const char *data, size_t len);
int mkdir_p(const char *path, mode_t mode);

/* supervise.c */
/* Spawn the VM process for e (e->spec, e->dir set); waits until its API answers. */
int vm_spawn(struct daemon *d, struct vm_entry *e, char *err, size_t err_len);
/* Kill (SIGKILL) and reap; after return e's process is gone and unwatched. */
void vm_kill(struct daemon *d, struct vm_entry *e);
/* Re-adopt the VMs in <state>/vms at start. */
void vm_adopt_all(struct daemon *d);
unsigned long long proc_starttime(pid_t pid);

/* forward.c: one HTTP request to a VM's api.sock. */
struct fwd_reply {
	long status; /* 0 when the VM did not answer */
	char *body;  /* NUL-terminated, may be empty */
	size_t len;
};
int forward(const char *sock, const char *method, const char *path, const char *body,
	    struct fwd_reply *r, long timeout_ms);
void fwd_reply_free(struct fwd_reply *r);
/* Whether the VM's API answers GET / (fills state "Running"/"Paused"/"Not started"). */
bool vm_api_alive(const char *sock, char *fc_state, size_t len);

/* metrics.c */
json_t *vm_metrics(struct daemon *d, struct vm_entry *e);
char *prometheus_text(struct daemon *d, size_t *len);

/* cgroup.c */
void cgroup_init(struct daemon *d);
/* Create the VM's cgroup with its caps and move pid into it; logs and continues on failure. */
void cgroup_place(struct daemon *d, struct vm_entry *e);
void cgroup_remove(struct vm_entry *e);

/* routes.c */
extern const struct api_route daemon_routes[];
extern const size_t daemon_nr_routes;

#endif
