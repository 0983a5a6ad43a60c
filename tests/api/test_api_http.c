/* Unit tests of the API layer's pure parts: routing, body parsing, field checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
	assert_int_equal(api_route_match(routes, NR, "PUT", "/drives/rootfs", &req, allow,
					 sizeof(allow)),
			 1);
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
	assert_int_equal(api_route_match(routes, NR, "PUT", "/drives/a/b", &req, NULL, 0),
			 -ENOENT);
	assert_int_equal(api_route_match(routes, NR, "GET", "/vm/configx", &req, NULL, 0),
			 -ENOENT);
	assert_int_equal(api_route_match(routes, NR, "", "", &req, NULL, 0), -ENOENT);
	/* Known path, wrong method: 405 with the allowed methods. */
	assert_int_equal(api_route_match(routes, NR, "DELETE", "/drives/x", &req, allow,
					 sizeof(allow)),
			 -EPERM);
	assert_string_equal(allow, "PUT, PATCH");
	assert_int_equal(api_route_match(routes, NR, "PUT", "/", &req, allow, sizeof(allow)),
			 -EPERM);
	assert_string_equal(allow, "GET");
	memset(longid, 'a', sizeof(longid));
	memcpy(longid, "/drives/", 8);
	longid[sizeof(longid) - 1] = '\0';
	assert_int_equal(api_route_match(routes, NR, "PUT", longid, &req, NULL, 0),
			 -ENAMETOOLONG);
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
			snprintf(path, sizeof(path), "%.*sid0", (int)(brace - fc_api_routes[i].pattern),
				 fc_api_routes[i].pattern);
		else
			snprintf(path, sizeof(path), "%s", fc_api_routes[i].pattern);
		assert_int_equal(api_route_match(fc_api_routes, fc_api_nr_routes,
						 fc_api_routes[i].method, path, &req, NULL, 0),
				 (int)i);
	}
	assert_int_equal(api_route_match(fc_api_routes, fc_api_nr_routes, "DELETE", "/vm", &req,
					 NULL, 0),
			 -EPERM);
	assert_int_equal(api_route_match(fc_api_routes, fc_api_nr_routes, "GET", "/snapshot/create",
					 &req, NULL, 0),
			 -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_route_match), cmocka_unit_test(test_route_errors),
	    cmocka_unit_test(test_parse_body),	cmocka_unit_test(test_check_fields),
	    cmocka_unit_test(test_fc_routes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
