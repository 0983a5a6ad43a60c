/*
 * The Firecracker-compatible API of one VM (docs/api.md): routes that
 * configure a vm_config before start, start it, and pause / resume / signal
 * / measure it afterwards. Handlers run on the HTTP server thread; the
 * thread that owns the VM blocks in fc_api_wait_start() and then runs it.
 */
#ifndef PETREL_API_FC_API_H
#define PETREL_API_FC_API_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "api/http.h"
#include "vm/config.h"

struct vm;

enum fc_state {
	FC_NOT_STARTED,
	FC_RUNNING,
	FC_PAUSED,
};

#define FC_ID_LEN 64

struct fc_drive {
	char id[FC_ID_LEN + 1];
	bool root;
	struct vm_disk disk;
};

struct fc_net {
	char id[FC_ID_LEN + 1];
	char host_dev[32];
	char spec[64]; /* "tap,ifname=..." for vm_config.nets */
};

struct fc_api {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct vm_config cfg; /* strings point into this struct */
	char kernel[4096], initrd[4096], cmdline[4096];
	bool have_boot_source;
	bool smt, track_dirty_pages;
	struct fc_drive drives[VM_CONFIG_MAX_DISKS];
	unsigned nr_drives;
	struct fc_net nets[VM_CONFIG_MAX_NETS];
	unsigned nr_nets;
	unsigned base_disks, base_nets; /* cfg's devices from the command line, kept */
	bool balloon_deflate_on_oom;
	unsigned long long balloon_mib, balloon_stats_s;
	char metrics_path[4096];
	int metrics_fd; /* -1 until PUT /metrics */
	int log_fd;	/* -1 until PUT /logger */
	int log_level;	/* enum log_level, or -1 for "Off" */
	bool log_show_level;
	enum fc_state state;
	struct vm *vm;
	struct timespec t0;
	char id[FC_ID_LEN + 1];
};

extern const struct api_route fc_api_routes[];
extern const size_t fc_api_nr_routes;

/* base supplies what the API cannot set (accel, serial, console); its kernel is ignored. */
void fc_api_init(struct fc_api *a, const struct vm_config *base);
void fc_api_destroy(struct fc_api *a);
/* The VM was created outside the API (petrel run --kernel): it is running. */
void fc_api_set_running(struct fc_api *a, struct vm *vm);
/* Block until InstanceStart has created the VM; returns it. */
struct vm *fc_api_wait_start(struct fc_api *a);

#endif
