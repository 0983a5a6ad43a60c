/*
 * The petrel verbs' side of the toolstack: find petreld's socket, send one
 * HTTP/1.1 request with libcurl over the Unix socket and hand back the status
 * and the parsed JSON (or text) answer. Messages follow docs/cli.md: an
 * unreachable daemon is "petrel: cannot reach petreld at PATH: ...", a
 * refused request prints the daemon's fault_message as is.
 */
#ifndef PETREL_CLI_CLIENT_H
#define PETREL_CLI_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct pc_client {
	char socket[4096];
	void *curl;	 /* CURL *, created on first use */
	bool quiet;	 /* no message when petreld cannot be reached (info) */
	char error[512]; /* why it could not be reached */
};

/* What came back from petreld. */
struct pc_reply {
	long status; /* HTTP status; 0 when no answer */
	char *body;  /* NUL-terminated, malloc'd (may be empty) */
	size_t len;
	json_t *json; /* body parsed when it is JSON, else NULL */
};

/*
 * The socket path: explicit (--socket) when non-NULL, else $PETREL_SOCKET,
 * else /run/petrel/petreld.sock for root, else
 * $XDG_RUNTIME_DIR/petrel/petreld.sock (or /run/user/UID/... without it).
 * Returns 0 or -ENAMETOOLONG.
 */
int pc_socket_path(const char *explicit_path, char *out, size_t out_len);

int pc_init(struct pc_client *c, const char *explicit_socket);
void pc_fini(struct pc_client *c);

/*
 * Send method path (path is already URL-safe) with an optional JSON body.
 * Returns 0 when petreld answered (any status; see r->status), or -errno
 * when it could not be reached (message printed unless quiet).
 */
int pc_request(struct pc_client *c, const char *method, const char *path, const json_t *body,
	       struct pc_reply *r);
void pc_reply_free(struct pc_reply *r);

/* The fault_message of an error reply, or a description of the status. */
const char *pc_fault(const struct pc_reply *r, char *buf, size_t len);

#endif
