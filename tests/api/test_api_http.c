/* Unit tests of the API layer's pure parts: routing, body parsing, field checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api/fc_api.h"
#include "api/http.h"

static unsigned h_dummy(void *ctx, const struct api_request *req, json_t **out)
{
	return 204;
}

static const struct api_route routes[] = {
    {"GET", "/", h_dummy},
    {"PUT", "/drives/{drive_id}", h_dummy},
    {"PATCH", "/drives/{drive_id}", h_dummy},
    {"GET", "/vm/config", h_dummy},
    {"PATCH", "/vm", h_dummy},
    {"GET", "/a/{x}/b/{y}", h_dummy},
};
#define NR (sizeof(routes) / sizeof(routes[0]))

static void test_route_match(void **state)
{
	struct api_request req;
	char allow[64];

	memset(&req, 0, sizeof(req));
	assert_int_equal(api_route_match(routes, NR, "GET", "/", &req, allow, sizeof(allow)), 0);
	assert_int_equal(
	    api_route_match(routes, NR, "PUT", "/drives/rootfs", &req, allow, sizeof(allow)), 1);
	assert_int_equal(req.nr_params, 1);
	assert_string_equal(req.params[0], "rootfs");
	assert_int_equal(api_route_match(routes, NR, "PATCH", "/drives/x", &req, NULL, 0), 2);
	assert_int_equal(api_route_match(routes, NR, "GET", "/vm/config", &req, NULL, 0), 3);
	assert_int_equal(api_route_match(routes, NR, "PATCH", "/vm", &req, NULL, 0), 4);
	assert_int_equal(api_route_match(routes, NR, "GET", "/a/1/b/22", &req, NULL, 0), 5);
	assert_int_equal(req.nr_params, 2);
	assert_string_equal(req.params[0], "1");
	assert_string_equal(req.params[1], "22");
}

static void test_route_errors(void **state)
{
	struct api_request req;
	char allow[64], longid[200];

	memset(&req, 0, sizeof(req));
	assert_int_equal(api_route_match(routes, NR, "GET", "/nope", &req, allow, sizeof(allow)),
			 -ENOENT);
	/* An empty parameter, a trailing slash and an extra segment match nothing. */
	assert_int_equal(api_route_match(routes, NR, "PUT", "/drives/", &req, NULL, 0), -ENOENT);
	assert_int_equal(api_route_match(routes, NR, "GET", "//", &req, NULL, 0), -ENOENT);
	assert_int_equal(api_route_match(routes, NR, "PUT", "/drives/a/b", &req, NULL, 0), -ENOENT);
	assert_int_equal(api_route_match(routes, NR, "GET", "/vm/configx", &req, NULL, 0), -ENOENT);
	assert_int_equal(api_route_match(routes, NR, "", "", &req, NULL, 0), -ENOENT);
	/* Known path, wrong method: 405 with the allowed methods. */
	assert_int_equal(
	    api_route_match(routes, NR, "DELETE", "/drives/x", &req, allow, sizeof(allow)), -EPERM);
	assert_string_equal(allow, "PUT, PATCH");
	assert_int_equal(api_route_match(routes, NR, "PUT", "/", &req, allow, sizeof(allow)),
			 -EPERM);
	assert_string_equal(allow, "GET");
	memset(longid, 'a', sizeof(longid));
	memcpy(longid, "/drives/", 8);
	longid[sizeof(longid) - 1] = '\0';
	assert_int_equal(api_route_match(routes, NR, "PUT", longid, &req, NULL, 0), -ENAMETOOLONG);
}

static void test_parse_body(void **state)
{
	char err[256];
	json_t *j;

	assert_int_equal(api_parse_body("", 0, &j, err, sizeof(err)), 0);
	assert_null(j);
	assert_int_equal(api_parse_body("{\"a\":1}", 7, &j, err, sizeof(err)), 0);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
	json_decref(j);
	assert_int_equal(api_parse_body("{\"a\":1", 6, &j, err, sizeof(err)), -EINVAL);
	assert_null(j);
	assert_int_equal(api_parse_body("[1]", 3, &j, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "object"));
	assert_int_equal(api_parse_body("{} x", 4, &j, err, sizeof(err)), -EINVAL);
	assert_int_equal(api_parse_body("{\"a\":1,\"a\":2}", 13, &j, err, sizeof(err)), -EINVAL);
	assert_int_equal(api_parse_body("\"s\"", 3, &j, err, sizeof(err)), -EINVAL);
	/* A NUL inside the buffer is not JSON. */
	assert_int_equal(api_parse_body("{}\0", 3, &j, err, sizeof(err)), -EINVAL);
}

static const struct api_field fields[] = {
    {"n", API_UINT, true, 1, 64},
    {"s", API_STRING, false, 0, 0},
    {"b", API_BOOL, false, 0, 0},
};

static int check(const char *text, char *err, size_t len)
{
	json_t *j = json_loads(text, 0, NULL);
	int rc;

	assert_non_null(j);
	rc = api_check_fields(j, fields, 3, err, len);
	json_decref(j);
	return rc;
}

static void test_check_fields(void **state)
{
	char err[256];

	assert_int_equal(check("{\"n\":1}", err, sizeof(err)), 0);
	assert_int_equal(check("{\"n\":64,\"s\":\"x\",\"b\":false}", err, sizeof(err)), 0);
	assert_int_equal(check("{\"n\":65}", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "`n`"));
	assert_int_equal(check("{\"n\":0}", err, sizeof(err)), -EINVAL);
	assert_int_equal(check("{\"n\":-1}", err, sizeof(err)), -EINVAL);
	assert_int_equal(check("{\"n\":1.5}", err, sizeof(err)), -EINVAL);
	assert_int_equal(check("{\"n\":\"1\"}", err, sizeof(err)), -EINVAL);
	assert_int_equal(check("{\"n\":99999999999999999}", err, sizeof(err)), -EINVAL);
	assert_int_equal(check("{}", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "missing field `n`"));
	assert_int_equal(check("{\"n\":1,\"zz\":1}", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown field `zz`"));
	assert_int_equal(check("{\"n\":1,\"b\":1}", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "`b`"));
	assert_int_equal(check("{\"n\":1,\"s\":null}", err, sizeof(err)), -EINVAL);
}

/* Every Firecracker route petrel serves is in the table once and reachable. */
static void test_fc_routes(void **state)
{
	struct api_request req;

	memset(&req, 0, sizeof(req));
	for (size_t i = 0; i < fc_api_nr_routes; i++) {
		char path[128];
		const char *brace = strchr(fc_api_routes[i].pattern, '{');

		if (brace)
			snprintf(path, sizeof(path), "%.*sid0",
				 (int)(brace - fc_api_routes[i].pattern), fc_api_routes[i].pattern);
		else
			snprintf(path, sizeof(path), "%s", fc_api_routes[i].pattern);
		assert_int_equal(api_route_match(fc_api_routes, fc_api_nr_routes,
						 fc_api_routes[i].method, path, &req, NULL, 0),
				 (int)i);
	}
	assert_int_equal(
	    api_route_match(fc_api_routes, fc_api_nr_routes, "DELETE", "/vm", &req, NULL, 0),
	    -EPERM);
	assert_int_equal(api_route_match(fc_api_routes, fc_api_nr_routes, "GET", "/snapshot/create",
					 &req, NULL, 0),
			 -ENOENT);
}

static unsigned fc(struct fc_api *a, const char *method, const char *path, const char *body,
		   json_t **out)
{
	char allow[64];

	return api_dispatch(fc_api_routes, fc_api_nr_routes, a, method, path, body,
			    body ? strlen(body) : 0, out, allow, sizeof(allow));
}

static json_int_t get_int(struct fc_api *a, const char *path, const char *key)
{
	json_t *out;
	json_int_t v;

	assert_int_equal(fc(a, "GET", path, NULL, &out), 200);
	v = json_integer_value(json_object_get(out, key));
	json_decref(out);
	return v;
}

/* The Firecracker handlers before start, through the same entry the server uses. */
static void test_fc_dispatch(void **state)
{
	struct vm_config base;
	struct fc_api *a = calloc(1, sizeof(*a));
	json_t *out;

	assert_non_null(a);
	vm_config_default(&base);
	fc_api_init(a, &base);
	assert_int_equal(
	    fc(a, "PUT", "/machine-config", "{\"vcpu_count\":3,\"mem_size_mib\":48}", &out), 204);
	assert_null(out);
	assert_int_equal(get_int(a, "/machine-config", "vcpu_count"), 3);
	assert_int_equal(get_int(a, "/machine-config", "mem_size_mib"), 48);
	/* Rejections leave the configuration alone. */
	assert_int_equal(
	    fc(a, "PUT", "/machine-config", "{\"vcpu_count\":0,\"mem_size_mib\":64}", &out), 400);
	assert_non_null(
	    strstr(json_string_value(json_object_get(out, "fault_message")), "vcpu_count"));
	json_decref(out);
	assert_int_equal(fc(a, "PATCH", "/machine-config", "{\"mem_size_mib\":64,\"x\":1}", &out),
			 400);
	json_decref(out);
	assert_int_equal(fc(a, "PUT", "/machine-config", NULL, &out), 400);
	json_decref(out);
	assert_int_equal(get_int(a, "/machine-config", "vcpu_count"), 3);
	assert_int_equal(get_int(a, "/machine-config", "mem_size_mib"), 48);
	assert_int_equal(fc(a, "PATCH", "/machine-config", "{\"mem_size_mib\":64}", &out), 204);
	assert_int_equal(get_int(a, "/machine-config", "vcpu_count"), 3);
	assert_int_equal(get_int(a, "/machine-config", "mem_size_mib"), 64);

	assert_int_equal(fc(a, "PATCH", "/vm", "{\"state\":\"Paused\"}", &out), 400);
	json_decref(out);
	assert_int_equal(fc(a, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", &out),
			 400);
	json_decref(out);
	assert_int_equal(fc(a, "PUT", "/actions", "{\"action_type\":7}", &out), 400);
	json_decref(out);
	assert_int_equal(fc(a, "PUT", "/entropy", NULL, &out), 204);
	assert_int_equal(fc(a, "PUT", "/drives/d1",
			    "{\"drive_id\":\"d1\",\"is_root_device\":false,"
			    "\"path_on_host\":\"/dev/null\",\"is_read_only\":true}",
			    &out),
			 204);
	assert_int_equal(fc(a, "PUT", "/network-interfaces/n1",
			    "{\"iface_id\":\"n1\",\"host_dev_name\":\"tap7\"}", &out),
			 204);
	assert_int_equal(fc(a, "GET", "/vm/config", NULL, &out), 200);
	assert_int_equal(json_array_size(json_object_get(out, "drives")), 1);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(out, "network-interfaces"), 0), "host_dev_name")),
	    "tap7");
	assert_non_null(json_object_get(out, "entropy"));
	assert_null(json_object_get(out, "boot-source"));
	json_decref(out);
	assert_string_equal(a->nets[0].spec, "tap,ifname=tap7");

	assert_int_equal(fc(a, "GET", "/", "[]", &out), 400);
	json_decref(out);
	assert_int_equal(fc(a, "GET", "/", NULL, &out), 200);
	assert_string_equal(json_string_value(json_object_get(out, "state")), "Not started");
	json_decref(out);
	assert_int_equal(fc(a, "PUT", "/nope", "{}", &out), 404);
	json_decref(out);
	assert_int_equal(fc(a, "GET", "/actions", NULL, &out), 405);
	json_decref(out);
	fc_api_destroy(a);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_route_match), cmocka_unit_test(test_route_errors),
	    cmocka_unit_test(test_parse_body),	cmocka_unit_test(test_check_fields),
	    cmocka_unit_test(test_fc_routes),	cmocka_unit_test(test_fc_dispatch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
