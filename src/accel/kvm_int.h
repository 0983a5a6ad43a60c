/* Internals shared by the KVM engine's files. */
#ifndef PETREL_ACCEL_KVM_INT_H
#define PETREL_ACCEL_KVM_INT_H

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "accel/accel.h"
#include "accel/kvm.h"

/* The signal that interrupts KVM_RUN for a kick; its handler does nothing. */
#define KVM_KICK_SIGNAL (SIGRTMIN + 1)

/* MSI routes (virtio-pci irqfds) take GSIs after the IOAPIC's 24 pins. */
#define KVM_MSI_GSI_BASE 24
#define KVM_MSI_ROUTES 512

struct kvm_msi_route {
	bool used;
	uint64_t addr;
	uint32_t data;
};

struct accel_vm {
	struct machine *m;
	int kvm_fd;
	int vm_fd;
	int run_size;
	bool pvm;		  /* kvm_pvm host: the CPUID policy hides what it cannot run */
	struct kvm_cpuid2 *cpuid; /* filtered supported CPUID, copied per vCPU */
	/* KVM_SET_GSI_ROUTING replaces the whole table: this is our copy of its MSI part. */
	pthread_mutex_t route_lock;
	struct kvm_msi_route msi[KVM_MSI_ROUTES];
};

struct accel_vcpu {
	struct accel_vm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	atomic_bool thread_known;
};

int kvm_cpuid_init(struct accel_vm *vm);
int kvm_cpuid_set(struct accel_vcpu *v);
int kvm_msrs_init(struct accel_vcpu *v);
int kvm_get_state(struct accel_vcpu *v, struct x86_vcpu_state *s);
int kvm_set_state(struct accel_vcpu *v, const struct x86_vcpu_state *s);
/* Map a kvm_run exit to an accel_exit (exposed for unit tests). */
int kvm_exit_decode(struct kvm_run *run, size_t run_size, struct accel_exit *e, struct machine *m);
/*
 * The GSI routing table KVM gets: its default irqchip routes (GSI 0-15 to
 * both PICs and the IOAPIC, 16-23 to the IOAPIC) and one MSI entry per used
 * route. out has room for KVM_ROUTING_MAX entries; returns how many it wrote.
 */
#define KVM_ROUTING_MAX (16 * 2 + 8 + KVM_MSI_ROUTES)
unsigned kvm_routing_build(const struct kvm_msi_route *msi, unsigned n,
			   struct kvm_irq_routing_entry *out);
/* The CPUID policy on one entry (exposed for unit tests). */
void kvm_cpuid_filter(struct kvm_cpuid_entry2 *e, bool pvm);

#endif
