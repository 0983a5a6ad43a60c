/*
 * Engine selection. "auto" prefers KVM only where it runs guest ring 0 in
 * hardware. On a PVM host (the kvm_pvm module: KVM on top of a host without
 * VMX/SVM) /dev/kvm works but guest kernel code is emulated instruction by
 * instruction, slower than our own engine and with gaps, so auto picks emu
 * there; "--accel kvm" still uses it when asked explicitly.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "accel/accel.h"
#include "accel/kvm.h"

static bool cpuinfo_has_hw_virt(void)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		/* Whole-word match: " vmx" / " svm" followed by space or end of line. */
		for (char *p = line; (p = strpbrk(p, " \t")) != NULL; p++) {
			if ((!strncmp(p + 1, "vmx", 3) || !strncmp(p + 1, "svm", 3)) &&
			    (p[4] == ' ' || p[4] == '\n' || p[4] == '\0')) {
				found = true;
				break;
			}
		}
	}
	fclose(f);
	return found;
}

void accel_probe_host(struct accel_host_probe *p)
{
	int fd;

	memset(p, 0, sizeof(*p));
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		p->kvm_errno = errno;
		p->api_version = -errno;
	} else {
		int r = ioctl(fd, KVM_GET_API_VERSION, 0);

		p->api_version = r < 0 ? -errno : r;
		close(fd);
	}
	p->hw_virt = cpuinfo_has_hw_virt();
	p->pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
}

bool accel_kvm_is_hardware(const struct accel_host_probe *p)
{
	return p->kvm_errno == 0 && p->api_version == KVM_API_VERSION && p->hw_virt && !p->pvm;
}

static int kvm_usable(const struct accel_host_probe *p, char *why, size_t why_len)
{
	if (p->kvm_errno) {
		snprintf(why, why_len, "/dev/kvm: %s", strerror(p->kvm_errno));
		return -p->kvm_errno;
	}
	if (p->api_version != KVM_API_VERSION) {
		snprintf(why, why_len, "/dev/kvm: API version %d, need %d", p->api_version,
			 KVM_API_VERSION);
		return -ENOTSUP;
	}
	return 0;
}

int accel_choose(const char *name, const struct accel_host_probe *p,
		 int (*emu_probe)(char *why, size_t why_len), const struct accel_ops **out,
		 char *why, size_t why_len)
{
	char kvm_why[128] = "", emu_why[128] = "";
	int rc;

	*out = NULL;
	if (why_len)
		why[0] = '\0';
	if (!name || !strcmp(name, "auto")) {
		if (accel_kvm_is_hardware(p)) {
			*out = &accel_kvm_ops;
			return 0;
		}
		if (kvm_usable(p, kvm_why, sizeof(kvm_why)) == 0)
			snprintf(kvm_why, sizeof(kvm_why), "%s",
				 p->pvm ? "/dev/kvm is PVM (kvm_pvm: guest ring 0 is emulated)"
					: "the host CPU has no vmx/svm (nested KVM without "
					  "hardware support)");
		rc = emu_probe(emu_why, sizeof(emu_why));
		if (rc == 0) {
			*out = &accel_emu_ops;
			return 0;
		}
		snprintf(why, why_len,
			 "--accel auto: no engine can run this guest here: kvm: %s; emu: %s",
			 kvm_why, emu_why);
		return rc;
	}
	if (!strcmp(name, "kvm")) {
		rc = kvm_usable(p, kvm_why, sizeof(kvm_why));
		if (rc) {
			snprintf(why, why_len, "--accel kvm: %s", kvm_why);
			return rc;
		}
		*out = &accel_kvm_ops;
		return 0;
	}
	if (!strcmp(name, "emu")) {
		rc = emu_probe(emu_why, sizeof(emu_why));
		if (rc) {
			snprintf(why, why_len, "--accel emu: %s", emu_why);
			return rc;
		}
		*out = &accel_emu_ops;
		return 0;
	}
	snprintf(why, why_len, "--accel %s: unknown engine (expected auto, kvm or emu)", name);
	return -EINVAL;
}

int accel_select(const char *name, const struct accel_ops **out, char *why, size_t why_len)
{
	struct accel_host_probe p;

	accel_probe_host(&p);
	return accel_choose(name, &p, accel_emu_ops.probe, out, why, why_len);
}
