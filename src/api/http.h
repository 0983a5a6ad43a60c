/*
 * A small JSON-over-HTTP/1.1 server for Petrel's control APIs: a route table
 * of {method, path pattern, handler} served by libmicrohttpd on a listening
 * socket the caller creates (a Unix socket for `petrel run --api-sock`, later
 * petreld's). This layer owns what every API needs: body size limit, path
 * matching with {param} segments, 404/405, JSON parsing and error bodies
 * ({"fault_message": "..."}); handlers only see well-formed JSON objects.
 */
#ifndef PETREL_API_HTTP_H
#define PETREL_API_HTTP_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Firecracker's limit on request bodies. */
#define API_MAX_BODY   51200
#define API_MAX_PARAMS 4
#define API_MAX_PARAM  64 /* longest {param} value, bytes */

struct api_request {
	const char *method;
	const char *path;
	char params[API_MAX_PARAMS][API_MAX_PARAM + 1]; /* {param} values, in order */
	unsigned nr_params;
	json_t *body; /* a JSON object, or NULL when the request had no body */
};

/*
 * A handler returns the HTTP status and may set *out to a JSON value it owns
 * (the server sends and frees it). Statuses >= 400 without *out get a
 * generic fault_message.
 */
typedef unsigned (*api_handler_fn)(void *ctx, const struct api_request *req, json_t **out);

struct api_route {
	const char *method;  /* "GET", "PUT", "PATCH", ... */
	const char *pattern; /* "/drives/{drive_id}": {x} matches one non-empty segment */
	api_handler_fn fn;
};

/*
 * Find the route for method and path. Returns its index, -ENOENT when no
 * pattern matches the path (404), -EPERM when patterns match but not the
 * method (405; allow receives "GET, PUT"), -ENAMETOOLONG when a {param}
 * value is longer than API_MAX_PARAM (400). params receives the values.
 */
int api_route_match(const struct api_route *routes, size_t nr, const char *method, const char *path,
		    struct api_request *req, char *allow, size_t allow_len);

/*
 * Parse a request body: NULL *out for an empty body; otherwise it must be
 * one JSON object (no trailing data, no duplicate keys). Returns 0 or
 * -EINVAL with a message in err.
 */
int api_parse_body(const char *buf, size_t len, json_t **out, char *err, size_t err_len);

/*
 * A non-JSON response (e.g. text/plain): a handler sets *out to this and the
 * server sends data as is with content_type. data may hold any bytes.
 */
json_t *api_text(const char *content_type, const char *data, size_t len);
/*
 * A query-string argument ("?tail=100") of the request being handled, or
 * NULL; valid in a handler running on the server thread only.
 */
const char *api_query_arg(const char *name);

/* {"fault_message": printf(fmt, ...)} */
json_t *api_fault(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Strict field checking of a JSON object against a schema. */
enum api_type {
	API_STRING,
	API_BOOL,
	API_UINT, /* a non-negative integer within [min, max] */
	API_OBJECT,
	API_ANY,
};

struct api_field {
	const char *name;
	enum api_type type;
	bool required;
	unsigned long long min, max; /* API_UINT only */
};

/*
 * Every key of obj must be a listed field of the right type (and range);
 * required fields must be present. Returns 0, or -EINVAL with err naming
 * the offending field.
 */
int api_check_fields(const json_t *obj, const struct api_field *fields, size_t nr, char *err,
		     size_t err_len);

/*
 * Handle one request without HTTP: route, parse the body (len bytes; 0 for
 * none), run the handler. Returns the status; *out receives the response
 * body (NULL for none), allow the methods of a 405. The server's core, and
 * the entry for tests and fuzzing.
 */
unsigned api_dispatch(const struct api_route *routes, size_t nr, void *ctx, const char *method,
		      const char *path, const char *body, size_t len, json_t **out, char *allow,
		      size_t allow_len);

struct api_server;

/* Bind and listen on a Unix socket at path (an existing socket file is replaced). */
int api_listen_unix(const char *path, int *fd_out);
/* Serve routes on listen_fd (taken over) from a libmicrohttpd thread; ctx goes to handlers. */
int api_server_start(int listen_fd, const struct api_route *routes, size_t nr, void *ctx,
		     struct api_server **out);
void api_server_stop(struct api_server *s);

#endif
