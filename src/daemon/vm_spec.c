/* VM spec parsing and the VM process's command line (vm_spec.h, docs/config.md). */
#include "daemon/vm_spec.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/http.h"
#include "backend/net.h"

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		snprintf(err, err_len, __VA_ARGS__);                                               \
		return -EINVAL;                                                                    \
	} while (0)

bool vm_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > VM_NAME_MAX || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

/* A string field into dst: no embedded NUL, shorter than len. */
static int get_str(const json_t *j, const char *key, char *dst, size_t len, char *err,
		   size_t err_len)
{
	const json_t *v = json_object_get(j, key);

	if (!v)
		return 0;
	if (json_string_length(v) >= len || strlen(json_string_value(v)) != json_string_length(v))
		FAIL("field `%s`: longer than %zu bytes or contains a NUL", key, len - 1);
	strcpy(dst, json_string_value(v));
	return 0;
}

static int check_path(const char *field, const char *p, int mode, bool check_files, char *err,
		      size_t err_len)
{
	if (p[0] != '/')
		FAIL("field `%s`: '%s' is not an absolute path", field, p);
	if (check_files && access(p, mode))
		FAIL("field `%s`: cannot %s '%s': %s", field, mode & W_OK ? "write" : "read", p,
		     strerror(errno));
	return 0;
}

static bool one_of(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return true;
	return false;
}

static int parse_disks(const json_t *arr, struct vm_spec *s, bool check_files, char *err,
		       size_t err_len)
{
	static const struct api_field f[] = {
	    {"path", API_STRING, true, 0, 0},
	    {"read_only", API_BOOL, false, 0, 0},
	};
	size_t i;
	json_t *d;

	if (!json_is_array(arr))
		FAIL("field `disks` must be an array");
	if (json_array_size(arr) > VM_CONFIG_MAX_DISKS)
		FAIL("field `disks`: at most %u disks", VM_CONFIG_MAX_DISKS);
	json_array_foreach(arr, i, d)
	{
		struct vm_disk *dk = &s->disks[i];
		char e[256], field[48];

		if (!json_is_object(d))
			FAIL("field `disks[%zu]` must be an object", i);
		if (api_check_fields(d, f, 2, e, sizeof(e)))
			FAIL("field `disks[%zu]`: %s", i, e);
		snprintf(field, sizeof(field), "disks[%zu].path", i);
		if (get_str(d, "path", dk->path, sizeof(dk->path), err, err_len))
			return -EINVAL;
		dk->readonly = json_is_true(json_object_get(d, "read_only"));
		if (check_path(field, dk->path, dk->readonly ? R_OK : R_OK | W_OK, check_files, err,
			       err_len))
			return -EINVAL;
	}
	s->nr_disks = (unsigned)json_array_size(arr);
	return 0;
}

static int parse_nets(const json_t *arr, struct vm_spec *s, char *err, size_t err_len)
{
	static const struct api_field f[] = {
	    {"type", API_STRING, true, 0, 0},
	    {"hostfwd", API_ANY, false, 0, 0},
	    {"ifname", API_STRING, false, 0, 0},
	};
	size_t i, k;
	json_t *n, *h;

	if (!json_is_array(arr))
		FAIL("field `nets` must be an array");
	if (json_array_size(arr) > VM_CONFIG_MAX_NETS)
		FAIL("field `nets`: at most %u interfaces", VM_CONFIG_MAX_NETS);
	json_array_foreach(arr, i, n)
	{
		char *out = s->nets[i], e[256];
		const char *type, *ifname;
		const json_t *fwd;
		size_t used;

		if (!json_is_object(n))
			FAIL("field `nets[%zu]` must be an object", i);
		if (api_check_fields(n, f, 3, e, sizeof(e)))
			FAIL("field `nets[%zu]`: %s", i, e);
		type = json_string_value(json_object_get(n, "type"));
		fwd = json_object_get(n, "hostfwd");
		if (!strcmp(type, "tap")) {
			if (fwd)
				FAIL("field `nets[%zu].hostfwd`: only for type \"user\"", i);
			ifname = json_string_value(json_object_get(n, "ifname"));
			if (!ifname || !*ifname || strlen(ifname) > 15)
				FAIL("field `nets[%zu].ifname`: a tap needs an interface name of 1 "
				     "to 15 characters",
				     i);
			for (const char *p = ifname; *p; p++)
				if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' &&
				    *p != '.')
					FAIL("field `nets[%zu].ifname`: invalid character", i);
			snprintf(out, VM_NET_MAX, "tap,ifname=%s", ifname);
			continue;
		}
		if (strcmp(type, "user"))
			FAIL("field `nets[%zu].type`: expected \"user\" or \"tap\"", i);
		if (json_object_get(n, "ifname"))
			FAIL("field `nets[%zu].ifname`: only for type \"tap\"", i);
		used = (size_t)snprintf(out, VM_NET_MAX, "user");
		if (!fwd)
			continue;
		if (!json_is_array(fwd))
			FAIL("field `nets[%zu].hostfwd` must be an array of strings", i);
		json_array_foreach(fwd, k, h)
		{
			struct net_hostfwd hf;
			const char *hs = json_string_value(h);

			if (!hs || strlen(hs) != json_string_length(h))
				FAIL("field `nets[%zu].hostfwd[%zu]` must be a string", i, k);
			if (strchr(hs, ',') || net_parse_hostfwd(hs, &hf, e, sizeof(e)))
				FAIL("field `nets[%zu].hostfwd[%zu]`: expected "
				     "tcp::HOSTPORT-:GUESTPORT",
				     i, k);
			if (used + 9 + strlen(hs) >= VM_NET_MAX)
				FAIL("field `nets[%zu].hostfwd`: too many forwards", i);
			used += (size_t)snprintf(out + used, VM_NET_MAX - used, ",hostfwd=%s", hs);
		}
	}
	s->nr_nets = (unsigned)json_array_size(arr);
	return 0;
}

static int parse_cgroup(const json_t *c, struct vm_spec *s, char *err, size_t err_len)
{
	static const struct api_field f[] = {
	    {"cpu_max_percent", API_UINT, false, 1, 100 * VM_CONFIG_MAX_CPUS},
	    {"memory_max_mib", API_UINT, false, 1, 1ull << 30},
	};
	char e[256];

	if (api_check_fields(c, f, 2, e, sizeof(e)))
		FAIL("field `cgroup`: %s", e);
	if (json_object_get(c, "cpu_max_percent"))
		s->cpu_max_percent =
		    (unsigned)json_integer_value(json_object_get(c, "cpu_max_percent"));
	if (json_object_get(c, "memory_max_mib"))
		s->memory_max_mib =
		    (uint64_t)json_integer_value(json_object_get(c, "memory_max_mib"));
	return 0;
}

int vm_spec_parse(const json_t *j, struct vm_spec *s, bool check_files, uint64_t host_mem_mib,
		  char *err, size_t err_len)
{
	static const char *const formats[] = {"auto", "linux", "elf", "multiboot", "flat", NULL};
	static const char *const accels[] = {"auto", "kvm", "emu", NULL};
	static const char *const consoles[] = {"serial", "virtio", NULL};
	const struct api_field f[] = {
	    {"name", API_STRING, false, 0, 0},
	    {"kernel", API_STRING, true, 0, 0},
	    {"initrd", API_STRING, false, 0, 0},
	    {"cmdline", API_STRING, false, 0, 0},
	    {"kernel_format", API_STRING, false, 0, 0},
	    {"accel", API_STRING, false, 0, 0},
	    {"cpus", API_UINT, false, 1, VM_CONFIG_MAX_CPUS},
	    {"mem_mib", API_UINT, false, VM_CONFIG_MEM_MIN_MIB, host_mem_mib},
	    {"disks", API_ANY, false, 0, 0},
	    {"nets", API_ANY, false, 0, 0},
	    {"rng", API_BOOL, false, 0, 0},
	    {"balloon", API_BOOL, false, 0, 0},
	    {"console", API_STRING, false, 0, 0},
	    {"autostart", API_BOOL, false, 0, 0},
	    {"cgroup", API_OBJECT, false, 0, 0},
	};
	const json_t *v;

	memset(s, 0, sizeof(*s));
	strcpy(s->kernel_format, "auto");
	strcpy(s->accel, "auto");
	strcpy(s->console, "serial");
	s->cpus = 1;
	s->mem_mib = VM_CONFIG_MEM_DEFAULT_MIB;
	s->autostart = true;
	if (!json_is_object(j))
		FAIL("the VM spec must be a JSON object");
	if (api_check_fields(j, f, sizeof(f) / sizeof(f[0]), err, err_len))
		return -EINVAL;
	if (get_str(j, "name", s->name, sizeof(s->name), err, err_len))
		return -EINVAL;
	if (json_object_get(j, "name") && !vm_name_valid(s->name))
		FAIL("field `name`: '%s' must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}",
		     json_string_value(json_object_get(j, "name")));
	if (get_str(j, "kernel", s->kernel, sizeof(s->kernel), err, err_len) ||
	    check_path("kernel", s->kernel, R_OK, check_files, err, err_len))
		return -EINVAL;
	if (get_str(j, "initrd", s->initrd, sizeof(s->initrd), err, err_len))
		return -EINVAL;
	if (s->initrd[0] && check_path("initrd", s->initrd, R_OK, check_files, err, err_len))
		return -EINVAL;
	if (get_str(j, "cmdline", s->cmdline, sizeof(s->cmdline), err, err_len))
		return -EINVAL;
	if (get_str(j, "kernel_format", s->kernel_format, sizeof(s->kernel_format), err, err_len) ||
	    !one_of(s->kernel_format, formats))
		FAIL("field `kernel_format`: expected auto, linux, elf, multiboot or flat");
	if (get_str(j, "accel", s->accel, sizeof(s->accel), err, err_len) ||
	    !one_of(s->accel, accels))
		FAIL("field `accel`: expected auto, kvm or emu");
	if (get_str(j, "console", s->console, sizeof(s->console), err, err_len) ||
	    !one_of(s->console, consoles))
		FAIL("field `console`: expected serial or virtio");
	if ((v = json_object_get(j, "cpus")))
		s->cpus = (unsigned)json_integer_value(v);
	if ((v = json_object_get(j, "mem_mib")))
		s->mem_mib = (uint64_t)json_integer_value(v);
	s->rng = json_is_true(json_object_get(j, "rng"));
	s->balloon = json_is_true(json_object_get(j, "balloon"));
	if ((v = json_object_get(j, "autostart")))
		s->autostart = json_is_true(v);
	if ((v = json_object_get(j, "disks")) && parse_disks(v, s, check_files, err, err_len))
		return -EINVAL;
	if ((v = json_object_get(j, "nets")) && parse_nets(v, s, err, err_len))
		return -EINVAL;
	if ((v = json_object_get(j, "cgroup")) && parse_cgroup(v, s, err, err_len))
		return -EINVAL;
	return 0;
}

json_t *vm_spec_to_json(const struct vm_spec *s)
{
	json_t *j, *disks = json_array(), *nets = json_array(), *cg = json_object();

	for (unsigned i = 0; i < s->nr_disks; i++)
		json_array_append_new(disks, json_pack("{s:s,s:b}", "path", s->disks[i].path,
						       "read_only", s->disks[i].readonly));
	for (unsigned i = 0; i < s->nr_nets; i++) {
		const char *n = s->nets[i];

		if (!strncmp(n, "tap,ifname=", 11)) {
			json_array_append_new(
			    nets, json_pack("{s:s,s:s}", "type", "tap", "ifname", n + 11));
			continue;
		}
		json_t *fwd = json_array();
		for (const char *p = strstr(n, ",hostfwd="); p; p = strstr(p + 1, ",hostfwd=")) {
			size_t len = strcspn(p + 9, ",");
			json_array_append_new(fwd, json_stringn(p + 9, len));
		}
		json_array_append_new(nets, json_pack("{s:s,s:o}", "type", "user", "hostfwd", fwd));
	}
	if (s->cpu_max_percent)
		json_object_set_new(cg, "cpu_max_percent", json_integer(s->cpu_max_percent));
	if (s->memory_max_mib)
		json_object_set_new(cg, "memory_max_mib",
				    json_integer((json_int_t)s->memory_max_mib));
	j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:o,s:o,s:b,s:b,s:s,s:b,s:o}", "name",
		      s->name, "kernel", s->kernel, "initrd", s->initrd, "cmdline", s->cmdline,
		      "kernel_format", s->kernel_format, "accel", s->accel, "cpus", (int)s->cpus,
		      "mem_mib", (json_int_t)s->mem_mib, "disks", disks, "nets", nets, "rng",
		      s->rng, "balloon", s->balloon, "console", s->console, "autostart",
		      s->autostart, "cgroup", cg);
	/* An empty initrd is "none": parse that back as absent. */
	if (j && !s->initrd[0])
		json_object_del(j, "initrd");
	return j;
}

struct argv_buf {
	char **v;
	size_t n, cap;
	bool oom;
};

static void push(struct argv_buf *a, const char *s)
{
	if (a->oom)
		return;
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 32;
		char **nv = realloc(a->v, cap * sizeof(*nv));

		if (!nv) {
			a->oom = true;
			return;
		}
		a->v = nv;
		a->cap = cap;
	}
	a->v[a->n] = strdup(s);
	if (!a->v[a->n]) {
		a->oom = true;
		return;
	}
	a->v[++a->n] = NULL;
}

static void push2(struct argv_buf *a, const char *opt, const char *val)
{
	push(a, opt);
	push(a, val);
}

static void pushf(struct argv_buf *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pushf(struct argv_buf *a, const char *fmt, ...)
{
	char buf[VM_PATH_MAX + 64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		a->oom = true;
		return;
	}
	push(a, buf);
}

char **vm_spec_argv(const struct vm_spec *s, const char *petrel, const char *dir)
{
	struct argv_buf a = {0};

	push(&a, petrel);
	push(&a, "run");
	pushf(&a, "--api-sock=%s/api.sock", dir);
	pushf(&a, "--serial=console:%s/console.sock", dir);
	pushf(&a, "--accel=%s", s->accel);
	pushf(&a, "--cpus=%u", s->cpus);
	pushf(&a, "--mem=%llu", (unsigned long long)s->mem_mib);
	pushf(&a, "--console=%s", s->console);
	if (s->autostart) {
		push2(&a, "--kernel", s->kernel);
		pushf(&a, "--kernel-format=%s", s->kernel_format);
		if (s->initrd[0])
			push2(&a, "--initrd", s->initrd);
		push2(&a, "--cmdline", s->cmdline);
	}
	for (unsigned i = 0; i < s->nr_disks; i++)
		pushf(&a, "--disk=%s,%s", s->disks[i].path, s->disks[i].readonly ? "ro" : "rw");
	for (unsigned i = 0; i < s->nr_nets; i++)
		pushf(&a, "--net=%s", s->nets[i]);
	if (s->rng)
		push(&a, "--rng");
	if (s->balloon)
		push(&a, "--balloon");
	if (a.oom) {
		vm_spec_argv_free(a.v);
		return NULL;
	}
	return a.v;
}

void vm_spec_argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}

json_t *vm_spec_boot_source(const struct vm_spec *s)
{
	json_t *j = json_pack("{s:s,s:s,s:s}", "kernel_image_path", s->kernel, "boot_args",
			      s->cmdline, "petrel_kernel_format", s->kernel_format);

	if (j && s->initrd[0])
		json_object_set_new(j, "initrd_path", json_string(s->initrd));
	return j;
}
