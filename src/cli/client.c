/*
 * HTTP over petreld's Unix socket with libcurl; see client.h.
 *
 * libcurl is loaded with dlopen when a verb first talks to petreld, not
 * linked: the petrel executable is also every VM process (`petrel run`),
 * and libcurl's dependencies (OpenSSL, GnuTLS, p11-kit, Kerberos, LDAP...)
 * cost each VM process about 1 MiB of private memory at load time
 * (relocations and library initialisers), ~40% of its VMM overhead
 * (bench/density).
 */
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/client.h"

static struct {
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	bool loaded;
} lc;

/* Load libcurl once; 0 or -ENOENT with a message printed. */
static int curl_load(void)
{
	void *h;

	if (lc.loaded)
		return 0;
	h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "petrel: cannot load libcurl (Debian package libcurl4): %s\n",
			dlerror());
		return -ENOENT;
	}
#define LC_SYM(field, name)                                                                        \
	do {                                                                                       \
		*(void **)&lc.field = dlsym(h, name);                                              \
		if (!lc.field) {                                                                   \
			fprintf(stderr, "petrel: libcurl has no %s\n", name);                      \
			dlclose(h);                                                                \
			return -ENOENT;                                                            \
		}                                                                                  \
	} while (0)
	LC_SYM(easy_init, "curl_easy_init");
	LC_SYM(easy_cleanup, "curl_easy_cleanup");
	LC_SYM(easy_reset, "curl_easy_reset");
	LC_SYM(easy_setopt, "curl_easy_setopt");
	LC_SYM(easy_perform, "curl_easy_perform");
	LC_SYM(easy_getinfo, "curl_easy_getinfo");
	LC_SYM(easy_strerror, "curl_easy_strerror");
	LC_SYM(slist_append, "curl_slist_append");
	LC_SYM(slist_free_all, "curl_slist_free_all");
#undef LC_SYM
	lc.loaded = true;
	return 0;
}

int pc_socket_path(const char *explicit_path, char *out, size_t out_len)
{
	const char *env = getenv("PETREL_SOCKET");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (explicit_path)
		n = snprintf(out, out_len, "%s", explicit_path);
	else if (env && *env)
		n = snprintf(out, out_len, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(out, out_len, "/run/petrel/petreld.sock");
	else if (xdg && *xdg)
		n = snprintf(out, out_len, "%s/petrel/petreld.sock", xdg);
	else
		n = snprintf(out, out_len, "/run/user/%u/petrel/petreld.sock", (unsigned)geteuid());
	if (n < 0 || (size_t)n >= out_len)
		return -ENAMETOOLONG;
	return 0;
}

int pc_init(struct pc_client *c, const char *explicit_socket)
{
	memset(c, 0, sizeof(*c));
	if (pc_socket_path(explicit_socket, c->socket, sizeof(c->socket))) {
		fprintf(stderr, "petrel: socket path too long\n");
		return -ENAMETOOLONG;
	}
	return 0;
}

void pc_fini(struct pc_client *c)
{
	if (c->curl)
		lc.easy_cleanup(c->curl);
	c->curl = NULL;
}

static size_t collect(char *data, size_t size, size_t nmemb, void *opaque)
{
	struct pc_reply *r = opaque;
	size_t n = size * nmemb;
	char *p = realloc(r->body, r->len + n + 1);

	if (!p)
		return 0; /* curl reports a write error */
	memcpy(p + r->len, data, n);
	r->len += n;
	p[r->len] = '\0';
	r->body = p;
	return n;
}

int pc_request(struct pc_client *c, const char *method, const char *path, const json_t *body,
	       struct pc_reply *r)
{
	struct curl_slist *hdrs = NULL;
	char url[8192], errbuf[CURL_ERROR_SIZE] = "";
	char *text = NULL;
	CURLcode cc;
	long os_errno = 0;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	if (curl_load()) {
		snprintf(c->error, sizeof(c->error), "libcurl could not be loaded");
		return -ENOENT;
	}
	if (!c->curl) {
		c->curl = lc.easy_init();
		if (!c->curl) {
			fprintf(stderr, "petrel: libcurl initialisation failed\n");
			return -ENOMEM;
		}
	}
	lc.easy_reset(c->curl);
	snprintf(url, sizeof(url), "http://localhost%s", path);
	lc.easy_setopt(c->curl, CURLOPT_UNIX_SOCKET_PATH, c->socket);
	lc.easy_setopt(c->curl, CURLOPT_URL, url);
	lc.easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	lc.easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, collect);
	lc.easy_setopt(c->curl, CURLOPT_WRITEDATA, r);
	lc.easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
	lc.easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	/* Long enough for a slow VM process behind a forwarded call, never forever. */
	lc.easy_setopt(c->curl, CURLOPT_TIMEOUT, 60L);
	hdrs = lc.slist_append(hdrs, "Accept: application/json");
	/* No "Expect: 100-continue" round trip for bodies. */
	hdrs = lc.slist_append(hdrs, "Expect:");
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text) {
			lc.slist_free_all(hdrs);
			return -ENOMEM;
		}
		hdrs = lc.slist_append(hdrs, "Content-Type: application/json");
		lc.easy_setopt(c->curl, CURLOPT_POSTFIELDS, text);
		lc.easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
	}
	lc.easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
	cc = lc.easy_perform(c->curl);
	if (cc != CURLE_OK) {
		lc.easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
		if (cc == CURLE_COULDNT_CONNECT && os_errno)
			snprintf(c->error, sizeof(c->error), "%s", strerror((int)os_errno));
		else
			snprintf(c->error, sizeof(c->error), "%s",
				 errbuf[0] ? errbuf : lc.easy_strerror(cc));
		if (!c->quiet)
			fprintf(stderr, "petrel: cannot reach petreld at %s: %s\n", c->socket,
				c->error);
		rc = os_errno ? -(int)os_errno : -EIO;
		free(r->body);
		memset(r, 0, sizeof(*r));
		goto out;
	}
	lc.easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (!r->body) {
		r->body = calloc(1, 1);
		if (!r->body) {
			rc = -ENOMEM;
			goto out;
		}
	}
	if (r->len)
		r->json = json_loadb(r->body, r->len, JSON_DECODE_ANY, NULL);
out:
	lc.slist_free_all(hdrs);
	free(text);
	return rc;
}

void pc_reply_free(struct pc_reply *r)
{
	json_decref(r->json);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

const char *pc_fault(const struct pc_reply *r, char *buf, size_t len)
{
	const char *msg = NULL;

	if (json_is_object(r->json))
		msg = json_string_value(json_object_get(r->json, "fault_message"));
	if (msg)
		return msg;
	if (r->len && !r->json) {
		/* A text answer: its first line. */
		snprintf(buf, len, "HTTP %ld: %.*s", r->status, (int)strcspn(r->body, "\r\n"),
			 r->body);
		return buf;
	}
	snprintf(buf, len, "HTTP %ld from petreld", r->status);
	return buf;
}
