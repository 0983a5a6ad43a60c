/*
 * Optional cgroup v2 placement (daemon.h, docs/petreld.md): when
 * /sys/fs/cgroup is a writable cgroup2 mount, each VM process runs in
 * <root>/petrel.slice/<name>/ with cpu.max and memory.max from its spec.
 * Otherwise (cgroup v1, no permission, a container) the daemon logs once
 * and runs VMs without caps.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "daemon/daemon.h"

#define CGROUP_MNT "/sys/fs/cgroup"

static int write_str(const char *dir, const char *file, const char *val)
{
	char path[VM_PATH_MAX + 64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -errno;
}

void cgroup_init(struct daemon *d)
{
	char root[256];
	struct statfs sf;
	int rc;

	d->cgroup_root[0] = '\0';
	if (getenv("PETREL_NO_CGROUP")) {
		daemon_log("info", "cgroup", "PETREL_NO_CGROUP set: VMs run without cgroup caps");
		return;
	}
	if (statfs(CGROUP_MNT, &sf) || sf.f_type != CGROUP2_SUPER_MAGIC) {
		daemon_log("info", "cgroup",
			   "%s is not a cgroup v2 mount: VMs run without cgroup caps", CGROUP_MNT);
		return;
	}
	if (access(CGROUP_MNT, W_OK)) {
		daemon_log("info", "cgroup", "%s is not writable: VMs run without cgroup caps",
			   CGROUP_MNT);
		return;
	}
	snprintf(root, sizeof(root), "%s/petrel.slice", CGROUP_MNT);
	if (mkdir(root, 0755) && errno != EEXIST) {
		daemon_log("info", "cgroup", "cannot create %s: %s: VMs run without cgroup caps",
			   root, strerror(errno));
		return;
	}
	/* Delegate cpu and memory to the slice and its children. */
	write_str(CGROUP_MNT, "cgroup.subtree_control", "+cpu +memory");
	rc = write_str(root, "cgroup.subtree_control", "+cpu +memory");
	if (rc) {
		daemon_log("info", "cgroup", "cannot enable cpu/memory in %s: %s: no cgroup caps",
			   root, strerror(-rc));
		return;
	}
	snprintf(d->cgroup_root, sizeof(d->cgroup_root), "%s", root);
	daemon_log("info", "cgroup", "VM processes go to %s/<name>", root);
}

void cgroup_place(struct daemon *d, struct vm_entry *e)
{
	char val[64];

	e->cgroup[0] = '\0';
	if (!d->cgroup_root[0] || (!e->spec->cpu_max_percent && !e->spec->memory_max_mib))
		return;
	snprintf(e->cgroup, sizeof(e->cgroup), "%s/%s", d->cgroup_root, e->spec->name);
	if (mkdir(e->cgroup, 0755) && errno != EEXIST)
		goto fail;
	if (e->spec->cpu_max_percent) {
		/* percent of one CPU per 100 ms period */
		snprintf(val, sizeof(val), "%u 100000", e->spec->cpu_max_percent * 1000);
		if (write_str(e->cgroup, "cpu.max", val))
			goto fail;
	}
	if (e->spec->memory_max_mib) {
		snprintf(val, sizeof(val), "%llu",
			 (unsigned long long)e->spec->memory_max_mib << 20);
		if (write_str(e->cgroup, "memory.max", val))
			goto fail;
	}
	return;
fail:
	vm_log(e, "warn", "cgroup", "cannot set up %s: %s; the VM runs without caps", e->cgroup,
	       strerror(errno));
	rmdir(e->cgroup);
	e->cgroup[0] = '\0';
}

void cgroup_remove(struct vm_entry *e)
{
	if (e->cgroup[0])
		rmdir(e->cgroup); /* fails (EBUSY) while a process is in it: harmless */
}
