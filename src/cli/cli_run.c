/* petrel run: build a VM from options and run it in this process. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "api/fc_api.h"
#include "cli/cli_config.h"
#include "util/log.h"
#include "vm/vm.h"

void cli_run_usage(void *file)
{
	fprintf(
	    file,
	    "Usage: petrel run [OPTIONS]\n"
	    "Boot a guest; petrel exits when it powers off.\n\n"
	    "  --accel auto|kvm|emu     CPU engine (default auto: KVM when the host runs\n"
	    "                           guest kernels in hardware, else the software CPU)\n"
	    "  --kernel PATH            guest kernel (default: the Debian default guest in\n"
	    "                           $PETREL_GUEST_DIR or <build>/guest when it has been\n"
	    "                           built by tools/build-default-guest.sh, else the\n"
	    "                           built-in demo guest)\n"
	    "  --kernel-format FMT      auto|linux|elf|multiboot|flat (default auto)\n"
	    "  --load-addr ADDR         load address of a flat kernel (default 0x100000)\n"
	    "  --initrd PATH            initial ramdisk\n"
	    "  --cmdline STR            kernel command line\n"
	    "  --mem MiB                guest RAM (default %u)\n"
	    "  --cpus N                 vCPUs, 1 to %u (default 1)\n"
	    "  --serial SPEC            console: stdio|pty|null|file:PATH|unix:PATH (default stdio)\n"
	    "  --console serial|virtio  where the console is: COM1 (default) or virtio-console\n"
	    "                           (hvc0; COM1 is then disconnected)\n"
	    "  --disk PATH[,ro]         a virtio-blk disk on a raw image (repeatable, up to %u)\n"
	    "  --net user[,hostfwd=tcp::HOSTPORT-:GUESTPORT]...\n"
	    "  --net tap,ifname=NAME    a virtio-net interface (repeatable, up to %u)\n"
	    "  --rng                    a virtio-rng entropy device (host getrandom)\n"
	    "  --balloon                a virtio-balloon device\n"
	    "  --api-sock PATH          serve the Firecracker-compatible API (docs/api.md)\n"
	    "                           on a Unix socket; without --kernel the VM waits\n"
	    "                           for PUT /actions InstanceStart\n"
	    "  -h, --help               this help\n\n"
	    "Exit status: 0 when the guest powers off; (value << 1) | 1 when it writes\n"
	    "value to the debug-exit port 0xf4; 1 on errors, 2 on bad options.\n"
	    "On a stdio console, Ctrl-A x quits.\n",
	    VM_CONFIG_MEM_DEFAULT_MIB, VM_CONFIG_MAX_CPUS, VM_CONFIG_MAX_DISKS, VM_CONFIG_MAX_NETS);
}

enum {
	OPT_ACCEL = 0x100,
	OPT_KERNEL,
	OPT_FORMAT,
	OPT_LOAD_ADDR,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_MEM,
	OPT_CPUS,
	OPT_SERIAL,
	OPT_CONSOLE,
	OPT_DISK,
	OPT_NET,
	OPT_RNG,
	OPT_BALLOON,
	OPT_API_SOCK,
};

static const struct option run_opts[] = {
    {"accel", required_argument, NULL, OPT_ACCEL},
    {"kernel", required_argument, NULL, OPT_KERNEL},
    {"kernel-format", required_argument, NULL, OPT_FORMAT},
    {"load-addr", required_argument, NULL, OPT_LOAD_ADDR},
    {"initrd", required_argument, NULL, OPT_INITRD},
    {"cmdline", required_argument, NULL, OPT_CMDLINE},
    {"mem", required_argument, NULL, OPT_MEM},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"serial", required_argument, NULL, OPT_SERIAL},
    {"console", required_argument, NULL, OPT_CONSOLE},
    {"disk", required_argument, NULL, OPT_DISK},
    {"net", required_argument, NULL, OPT_NET},
    {"rng", no_argument, NULL, OPT_RNG},
    {"balloon", no_argument, NULL, OPT_BALLOON},
    {"api-sock", required_argument, NULL, OPT_API_SOCK},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* --api-sock: outside vm_config because it configures petrel, not the VM. */
static const char *run_api_sock;

int cli_run_parse(int argc, char **argv, struct vm_config *cfg, char *err, size_t err_len)
{
	int c, rc = 0;

	run_api_sock = NULL;
	vm_config_default(cfg);
	cfg->kernel_data = petrel_demo_guest;
	cfg->kernel_size = (size_t)(petrel_demo_guest_end - petrel_demo_guest);
	optind = 0; /* glibc: full re-initialisation, so tests can parse repeatedly */
	opterr = 0; /* we print our own messages */
	while ((c = getopt_long(argc, argv, "+:h", run_opts, NULL)) != -1) {
		switch (c) {
		case OPT_ACCEL:
			rc = config_parse_accel(optarg, err, err_len);
			cfg->accel = optarg;
			break;
		case OPT_KERNEL:
			cfg->kernel = optarg;
			break;
		case OPT_FORMAT:
			rc = config_parse_format(optarg, &cfg->format, err, err_len);
			break;
		case OPT_LOAD_ADDR:
			rc = config_parse_load_addr(optarg, &cfg->load_addr, err, err_len);
			break;
		case OPT_INITRD:
			cfg->initrd = optarg;
			break;
		case OPT_CMDLINE:
			cfg->cmdline = optarg;
			break;
		case OPT_MEM:
			rc = config_parse_mem(optarg, &cfg->mem_mib, err, err_len);
			break;
		case OPT_CPUS:
			rc = config_parse_cpus(optarg, &cfg->cpus, err, err_len);
			break;
		case OPT_SERIAL:
			rc = config_parse_serial(optarg, err, err_len);
			cfg->serial = optarg;
			break;
		case OPT_CONSOLE:
			rc = config_parse_console(optarg, &cfg->virtio_console, err, err_len);
			break;
		case OPT_DISK:
			rc = config_add_disk(cfg, optarg, err, err_len);
			break;
		case OPT_NET:
			rc = config_add_net(cfg, optarg, err, err_len);
			break;
		case OPT_RNG:
			cfg->rng = true;
			break;
		case OPT_BALLOON:
			cfg->balloon = true;
			break;
		case OPT_API_SOCK:
			run_api_sock = optarg;
			break;
		case 'h':
			cli_run_usage(stdout);
			return 1;
		case ':':
			snprintf(err, err_len, "%s: missing value", argv[optind - 1]);
			return -EINVAL;
		default:
			if (optopt)
				snprintf(err, err_len, "unknown option '-%c'", optopt);
			else
				snprintf(err, err_len, "unknown option '%s'", argv[optind - 1]);
			return -EINVAL;
		}
		if (rc)
			return rc;
	}
	if (optind < argc) {
		snprintf(err, err_len, "unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (cfg->kernel)
		cfg->kernel_data = NULL, cfg->kernel_size = 0;
	else
		cfg->format =
		    VM_KERNEL_FLAT; /* the demo guest is a flat binary at the default address */
	return 0;
}

#define DEFAULT_GUEST_CMDLINE "console=ttyS0 panic=-1"
#define DEFAULT_GUEST_MEM_MIB 512

/*
 * With no --kernel, boot the Debian default guest if it has been built:
 * $PETREL_GUEST_DIR when set, else the guest directory of the build tree this
 * binary came from. Options the user gave (--initrd, --cmdline, --mem) win;
 * --mem equal to the built-in default is indistinguishable from none and is
 * raised to 512 MiB, which that kernel needs. Paths live in static storage
 * because vm_config does not own its strings. Returns true when chosen.
 */
static bool run_pick_default_guest(struct vm_config *cfg)
{
	static char kernel[4096], initrd[4096];
	const char *dir = getenv("PETREL_GUEST_DIR");
	const char *src = "$PETREL_GUEST_DIR";
	int n1, n2;

	if (!dir || !*dir) {
		dir = PETREL_BUILD_DIR "/guest";
		src = NULL;
	}
	n1 = snprintf(kernel, sizeof(kernel), "%s/vmlinuz", dir);
	n2 = snprintf(initrd, sizeof(initrd), "%s/initramfs.cpio.gz", dir);
	if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof(kernel) || (size_t)n2 >= sizeof(initrd) ||
	    access(kernel, R_OK) || access(initrd, R_OK)) {
		fprintf(stderr,
			"petrel run: no Debian default guest in %s%s%s; booting the built-in "
			"demo guest.\n"
			"petrel run: build it with: tools/build-default-guest.sh %s\n",
			dir, src ? " (from " : "", src ? "$PETREL_GUEST_DIR)" : "", dir);
		return false;
	}
	cfg->kernel = kernel;
	cfg->kernel_data = NULL;
	cfg->kernel_size = 0;
	cfg->format = VM_KERNEL_AUTO;
	if (!cfg->initrd)
		cfg->initrd = initrd;
	if (!cfg->cmdline)
		cfg->cmdline = DEFAULT_GUEST_CMDLINE;
	if (cfg->mem_mib == VM_CONFIG_MEM_DEFAULT_MIB)
		cfg->mem_mib = DEFAULT_GUEST_MEM_MIB;
	return true;
}

/*
 * petrel run --api-sock: serve the API from its own thread; the VM comes
 * from the options (--kernel given) or from the API (InstanceStart), and
 * this thread runs it. Like Firecracker, the process ends with the guest.
 */
static int run_with_api(struct vm_config *cfg)
{
	struct api_server *srv;
	struct fc_api *api;
	struct vm *vm = NULL;
	char err[512] = "";
	int fd, rc;

	api = calloc(1, sizeof(*api));
	if (!api)
		return CLI_EXIT_FAILURE;
	fc_api_init(api, cfg);
	if (cfg->kernel) {
		rc = vm_create(cfg, &vm, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "petrel run: %s\n", err);
			goto out_api;
		}
		fc_api_set_running(api, vm);
	}
	rc = api_listen_unix(run_api_sock, &fd);
	if (rc) {
		fprintf(stderr, "petrel run: --api-sock %s: %s\n", run_api_sock, strerror(-rc));
		goto out_vm;
	}
	rc = api_server_start(fd, fc_api_routes, fc_api_nr_routes, api, &srv);
	if (rc) {
		close(fd);
		fprintf(stderr, "petrel run: cannot serve the API on %s\n", run_api_sock);
		goto out_vm;
	}
	vm = fc_api_wait_start(api);
	rc = vm_run(vm);
	api_server_stop(srv);
	unlink(run_api_sock);
	vm_destroy(vm);
	fc_api_destroy(api);
	free(api);
	if (rc < 0) {
		fprintf(stderr, "petrel run: %s\n", strerror(-rc));
		return CLI_EXIT_FAILURE;
	}
	return rc;
out_vm:
	if (vm)
		vm_destroy(vm);
out_api:
	fc_api_destroy(api);
	free(api);
	return CLI_EXIT_FAILURE;
}

int cli_run(int argc, char **argv)
{
	struct vm_config cfg;
	struct vm *vm;
	char err[512] = "";
	int rc;

	rc = cli_run_parse(argc, argv, &cfg, err, sizeof(err));
	if (rc == 1)
		return CLI_EXIT_OK;
	if (rc) {
		fprintf(stderr, "petrel run: %s\nTry 'petrel run --help'.\n", err);
		return CLI_EXIT_USAGE;
	}
	if (run_api_sock)
		return run_with_api(&cfg);
	if (!cfg.kernel)
		run_pick_default_guest(&cfg);
	rc = vm_create(&cfg, &vm, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "petrel run: %s\n", err);
		return CLI_EXIT_FAILURE;
	}
	rc = vm_run(vm);
	vm_destroy(vm);
	if (rc < 0) {
		fprintf(stderr, "petrel run: %s\n", strerror(-rc));
		return CLI_EXIT_FAILURE;
	}
	return rc;
}
