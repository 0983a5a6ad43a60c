/* JSON-over-HTTP server on libmicrohttpd: routing, body limits, errors (http.h). */
#include <errno.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/http.h"
#include "util/log.h"

struct api_server {
	struct MHD_Daemon *d;
	const struct api_route *routes;
	size_t nr;
	void *ctx;
	int fd;
	atomic_uint in_flight; /* requests begun and not yet completed */
};

/* One request in flight: its body so far. */
struct api_conn {
	char *buf;
	size_t len, cap;
	bool too_big;
};

/* The key marking an api_text() body; a JSON reply never has it. */
#define API_TEXT_KEY "\001petrel-text"

/* The connection whose request the server thread is handling (api_query_arg). */
static __thread struct MHD_Connection *cur_conn;

json_t *api_text(const char *content_type, const char *data, size_t len)
{
	return json_pack("{s:o,s:s}", API_TEXT_KEY, json_stringn_nocheck(data, len), "type",
			 content_type);
}

const char *api_query_arg(const char *name)
{
	return cur_conn ? MHD_lookup_connection_value(cur_conn, MHD_GET_ARGUMENT_KIND, name) : NULL;
}

json_t *api_fault(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:s}", "fault_message", msg);
}

/* Match one pattern against path; fills req->params on success. */
static int route_match_one(const char *pat, const char *path, struct api_request *req)
{
	unsigned np = 0;

	while (*pat && *path) {
		if (*pat == '{') {
			const char *pe = strchr(pat, '}');
			size_t n = strcspn(path, "/");

			if (!pe)
				return -ENOENT;
			if (n == 0)
				return -ENOENT;
			/* The client chose this segment: bound it before copying. */
			if (n > API_MAX_PARAM || np >= API_MAX_PARAMS)
				return -ENAMETOOLONG;
			if (req) {
				memcpy(req->params[np], path, n);
				req->params[np][n] = '\0';
			}
			np++;
			pat = pe + 1;
			path += n;
			continue;
		}
		if (*pat != *path)
			return -ENOENT;
		pat++, path++;
	}
	if (*pat || *path)
		return -ENOENT;
	if (req)
		req->nr_params = np;
	return 0;
}

int api_route_match(const struct api_route *routes, size_t nr, const char *method, const char *path,
		    struct api_request *req, char *allow, size_t allow_len)
{
	bool path_found = false, too_long = false;
	size_t used = 0;

	if (allow && allow_len)
		allow[0] = '\0';
	for (size_t i = 0; i < nr; i++) {
		int rc = route_match_one(routes[i].pattern, path, NULL);

		if (rc == -ENAMETOOLONG)
			too_long = true;
		if (rc)
			continue;
		path_found = true;
		if (!strcmp(routes[i].method, method)) {
			route_match_one(routes[i].pattern, path, req);
			return (int)i;
		}
		if (allow && used < allow_len) {
			int n = snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "",
					 routes[i].method);
			if (n > 0)
				used += (size_t)n;
		}
	}
	if (path_found)
		return -EPERM;
	return too_long ? -ENAMETOOLONG : -ENOENT;
}

int api_parse_body(const char *buf, size_t len, json_t **out, char *err, size_t err_len)
{
	json_error_t je;
	json_t *j;

	*out = NULL;
	if (len == 0)
		return 0;
	/* Guest-independent but client-controlled: untrusted text, parsed strictly. */
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		snprintf(err, err_len, "invalid JSON at line %d column %d: %s", je.line, je.column,
			 je.text);
		return -EINVAL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		snprintf(err, err_len, "the request body must be a JSON object");
		return -EINVAL;
	}
	*out = j;
	return 0;
}

static const char *type_name(enum api_type t)
{
	switch (t) {
	case API_STRING:
		return "a string";
	case API_BOOL:
		return "a boolean";
	case API_UINT:
		return "a non-negative integer";
	case API_OBJECT:
		return "an object";
	default:
		return "a value";
	}
}

int api_check_fields(const json_t *obj, const struct api_field *fields, size_t nr, char *err,
		     size_t err_len)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj)) {
		snprintf(err, err_len, "the request body must be a JSON object");
		return -EINVAL;
	}
	json_object_foreach((json_t *)obj, key, v)
	{
		const struct api_field *f = NULL;
		bool ok;

		for (size_t i = 0; i < nr; i++)
			if (!strcmp(fields[i].name, key))
				f = &fields[i];
		if (!f) {
			snprintf(err, err_len, "unknown field `%s`", key);
			return -EINVAL;
		}
		switch (f->type) {
		case API_STRING:
			ok = json_is_string(v);
			break;
		case API_BOOL:
			ok = json_is_boolean(v);
			break;
		case API_OBJECT:
			ok = json_is_object(v);
			break;
		case API_UINT:
			ok = json_is_integer(v) && json_integer_value(v) >= 0;
			if (ok && ((unsigned long long)json_integer_value(v) < f->min ||
				   (unsigned long long)json_integer_value(v) > f->max)) {
				snprintf(err, err_len,
					 "field `%s`: %lld is out of range [%llu, %llu]", key,
					 (long long)json_integer_value(v), f->min, f->max);
				return -EINVAL;
			}
			break;
		default:
			ok = true;
		}
		if (!ok) {
			snprintf(err, err_len, "field `%s` must be %s", key, type_name(f->type));
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < nr; i++) {
		if (fields[i].required && !json_object_get(obj, fields[i].name)) {
			snprintf(err, err_len, "missing field `%s`", fields[i].name);
			return -EINVAL;
		}
	}
	return 0;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *body,
				 const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *text = NULL;

	if (!body && status >= 400)
		body = api_fault("request failed with status %u", status);
	if (json_is_object(body) && json_object_get(body, API_TEXT_KEY)) {
		const json_t *t = json_object_get(body, API_TEXT_KEY);
		size_t n = json_string_length(t);
		char *copy = malloc(n + 1);

		if (copy)
			memcpy(copy, json_string_value(t), n);
		r = copy ? MHD_create_response_from_buffer(n, copy, MHD_RESPMEM_MUST_FREE) : NULL;
		if (r)
			MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
						json_string_value(json_object_get(body, "type")));
		json_decref(body);
		if (!r) {
			free(copy);
			return MHD_NO;
		}
		ret = MHD_queue_response(c, status, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		json_decref(body);
	}
	if (text)
		r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	else
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	if (text)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (allow && *allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

unsigned api_dispatch(const struct api_route *routes, size_t nr, void *ctx, const char *method,
		      const char *path, const char *body, size_t len, json_t **out, char *allow,
		      size_t allow_len)
{
	struct api_request req;
	unsigned status;
	char err[512];
	int idx;

	*out = NULL;
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = path;
	idx = api_route_match(routes, nr, method, path, &req, allow, allow_len);
	if (idx == -ENOENT) {
		*out = api_fault("no such resource: %s", path);
		return MHD_HTTP_NOT_FOUND;
	}
	if (idx == -EPERM) {
		*out = api_fault("method %s is not allowed on %s (allowed: %s)", method, path,
				 allow ? allow : "");
		return MHD_HTTP_METHOD_NOT_ALLOWED;
	}
	if (idx < 0) {
		*out = api_fault("a path parameter is longer than %u bytes", API_MAX_PARAM);
		return MHD_HTTP_BAD_REQUEST;
	}
	if (api_parse_body(body, len, &req.body, err, sizeof(err))) {
		*out = api_fault("%s", err);
		return MHD_HTTP_BAD_REQUEST;
	}
	status = routes[idx].fn(ctx, &req, out);
	json_decref(req.body);
	return status;
}

static enum MHD_Result dispatch(struct api_server *s, struct MHD_Connection *c, const char *url,
				const char *method, struct api_conn *rq)
{
	char allow[64] = "";
	json_t *out;
	unsigned status;

	if (rq->too_big)
		return send_json(c, MHD_HTTP_CONTENT_TOO_LARGE,
				 api_fault("request body larger than %u bytes", API_MAX_BODY),
				 NULL);
	cur_conn = c;
	status = api_dispatch(s->routes, s->nr, s->ctx, method, url, rq->buf, rq->len, &out, allow,
			      sizeof(allow));
	cur_conn = NULL;
	return send_json(c, status, out, status == MHD_HTTP_METHOD_NOT_ALLOWED ? allow : NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct api_server *s = cls;
	struct api_conn *rq = *con_cls;

	if (!rq) {
		const char *cl;

		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		atomic_fetch_add(&s->in_flight, 1);
		/* Refuse early when the client announces an oversized body. */
		cl =
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > API_MAX_BODY)
			rq->too_big = true;
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		/* Client-controlled size: stop buffering past the limit but drain the rest. */
		if (!rq->too_big && rq->len + n > API_MAX_BODY)
			rq->too_big = true;
		if (!rq->too_big) {
			if (rq->len + n > rq->cap) {
				size_t cap = rq->len + n;
				char *nb = realloc(rq->buf, cap);

				if (!nb)
					return MHD_NO;
				rq->buf = nb;
				rq->cap = cap;
			}
			memcpy(rq->buf + rq->len, upload_data, n);
			rq->len += n;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	return dispatch(s, c, url, method, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct api_server *s = cls;
	struct api_conn *rq = *con_cls;

	if (rq) {
		atomic_fetch_sub(&s->in_flight, 1);
		free(rq->buf);
		free(rq);
		*con_cls = NULL;
	}
}

int api_listen_unix(const char *path, int *fd_out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (!path || !*path || strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	/* A stale socket from an earlier run; never remove anything else. */
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16)) {
		int e = errno;

		close(fd);
		return -e;
	}
	*fd_out = fd;
	return 0;
}

int api_server_start(int listen_fd, const struct api_route *routes, size_t nr, void *ctx,
		     struct api_server **out)
{
	struct api_server *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->routes = routes;
	s->nr = nr;
	s->ctx = ctx;
	s->fd = listen_fd;
	/*
	 * One internal thread serves every connection in turn, so handlers never
	 * run concurrently with each other.
	 */
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC, 0,
				NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, listen_fd,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
	if (!s->d) {
		free(s);
		return -EIO;
	}
	*out = s;
	return 0;
}

void api_server_stop(struct api_server *s)
{
	if (!s)
		return;
	/*
	 * Let answers already being sent reach the client (e.g. the 204 of an
	 * InstanceStart whose guest has already powered off), for at most 1 s.
	 */
	MHD_socket lfd = MHD_quiesce_daemon(s->d);

	for (int i = 0; i < 100 && atomic_load(&s->in_flight); i++)
		usleep(10000);
	MHD_stop_daemon(s->d);
	/* Quiesced, the listening socket is ours to close; otherwise MHD closed it. */
	if (lfd != MHD_INVALID_SOCKET)
		close(lfd);
	free(s);
}
