/*
 * KVM-specific entry points beyond the generic accel_ops: host probing (kept
 * as plain data so the selection policy is unit-testable), eventfd hooks for
 * virtio, and the in-kernel irqchip backend.
 */
#ifndef PETREL_ACCEL_KVM_H
#define PETREL_ACCEL_KVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct accel_vm;
struct accel_ops;
struct irq_chip_ops;

/* What accel_select() learns about the host; filled by accel_probe_host(). */
struct accel_host_probe {
	int kvm_errno;	 /* 0 when /dev/kvm opened, else the errno of open() */
	int api_version; /* KVM_GET_API_VERSION, or -errno */
	bool hw_virt;	 /* the host CPU advertises vmx or svm */
	bool pvm;	 /* the kvm_pvm module is loaded (ring 0 is emulated) */
};

void accel_probe_host(struct accel_host_probe *p);
/*
 * The selection policy over probe data. emu_probe is the emu engine's probe
 * (injected so tests can make emu usable or not).
 */
int accel_choose(const char *name, const struct accel_host_probe *p,
		 int (*emu_probe)(char *why, size_t why_len), const struct accel_ops **out,
		 char *why, size_t why_len);
/* Whether ring-0 guest code runs in hardware under this probe. */
bool accel_kvm_is_hardware(const struct accel_host_probe *p);

/* ioeventfd: a guest write to addr (of len bytes, optionally == data) signals fd, no exit. */
int kvm_ioeventfd_add(struct accel_vm *vm, bool mmio, uint64_t addr, unsigned len, bool match_data,
		      uint64_t data, int fd);
int kvm_ioeventfd_del(struct accel_vm *vm, bool mmio, uint64_t addr, unsigned len, bool match_data,
		      uint64_t data, int fd);
/* Route an eventfd to a GSI (resamplefd -1 for edge). */
int kvm_irqfd_add(struct accel_vm *vm, unsigned gsi, int fd, int resamplefd);
int kvm_irqfd_del(struct accel_vm *vm, unsigned gsi, int fd);

/*
 * MSI through an irqfd: a GSI routed (KVM_SET_GSI_ROUTING) to the message
 * (addr, data), with fd bound to it, so signalling fd injects the MSI with no
 * ioctl. Returns the GSI or -errno; set changes the message; del unbinds fd
 * and frees the GSI.
 */
int kvm_msi_route_add(struct accel_vm *vm, uint64_t addr, uint32_t data, int fd);
int kvm_msi_route_set(struct accel_vm *vm, int gsi, uint64_t addr, uint32_t data);
void kvm_msi_route_del(struct accel_vm *vm, int gsi, int fd);

/* The irq_chip_ops (bus/irq.h) over KVM_IRQ_LINE / KVM_SIGNAL_MSI; opaque is the accel_vm. */
extern const struct irq_chip_ops kvm_irq_chip_ops;

#endif
