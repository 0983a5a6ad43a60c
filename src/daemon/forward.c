/* HTTP requests to a VM process's api.sock through libcurl over a Unix socket (daemon.h). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"

/* A VM's replies are small JSON documents; anything larger is cut here. */
#define FWD_MAX_REPLY (1u << 20)

static size_t on_data(char *p, size_t size, size_t nmemb, void *opaque)
{
	struct fwd_reply *r = opaque;
	size_t n = size * nmemb;
	char *nb;

	if (r->len + n > FWD_MAX_REPLY)
		return 0; /* aborts the transfer */
	nb = realloc(r->body, r->len + n + 1);
	if (!nb)
		return 0;
	r->body = nb;
	memcpy(r->body + r->len, p, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

int forward(const char *sock, const char *method, const char *path, const char *body,
	    struct fwd_reply *r, long timeout_ms)
{
	struct curl_slist *hdrs = NULL;
	char url[VM_PATH_MAX + 32];
	CURLcode cc;
	CURL *c;

	memset(r, 0, sizeof(*r));
	c = curl_easy_init();
	if (!c)
		return -1;
	/* The host part is ignored on a Unix socket; the path is forwarded unchanged. */
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
	if (body) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	else
		r->status = 0;
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	if (!r->body) {
		r->body = calloc(1, 1);
		r->len = 0;
	}
	return cc == CURLE_OK ? 0 : -1;
}

void fwd_reply_free(struct fwd_reply *r)
{
	free(r->body);
	r->body = NULL;
}

bool vm_api_alive(const char *sock, char *fc_state, size_t len)
{
	struct fwd_reply r;
	bool ok = false;

	if (!forward(sock, "GET", "/", NULL, &r, 1000) && r.status == 200) {
		json_t *j = json_loads(r.body, 0, NULL);
		const char *st = json_string_value(json_object_get(j, "state"));

		if (st) {
			ok = true;
			if (fc_state)
				snprintf(fc_state, len, "%s", st);
		}
		json_decref(j);
	}
	fwd_reply_free(&r);
	return ok;
}
