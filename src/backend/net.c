/* Network backend selection, the common callback plumbing and the hostfwd parser. */
#include "backend/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void net_backend_init(struct net_backend *nb, const struct net_backend_ops *ops, const char *kind)
{
	nb->ops = ops;
	nb->kind = kind;
	nb->on_receive = NULL;
	nb->rx_opaque = NULL;
	pthread_mutex_init(&nb->rx_lock, NULL);
}

void net_backend_fini(struct net_backend *nb)
{
	pthread_mutex_destroy(&nb->rx_lock);
}

void net_backend_deliver(struct net_backend *nb, const uint8_t *frame, size_t len)
{
	pthread_mutex_lock(&nb->rx_lock);
	if (nb->on_receive)
		nb->on_receive(nb->rx_opaque, frame, len);
	pthread_mutex_unlock(&nb->rx_lock);
}

void net_backend_set_receive(struct net_backend *nb,
			     void (*on_receive)(void *opaque, const uint8_t *frame, size_t len),
			     void *opaque)
{
	pthread_mutex_lock(&nb->rx_lock);
	nb->on_receive = on_receive;
	nb->rx_opaque = opaque;
	pthread_mutex_unlock(&nb->rx_lock);
}

/* "ADDR:PORT" with ADDR optional; user input, so every piece is checked. */
static int parse_endpoint(const char *s, size_t len, struct in_addr *addr, uint16_t *port,
			  const char *what, char *err, size_t errlen)
{
	char buf[64], *colon, *end;
	unsigned long p;

	if (len >= sizeof(buf)) {
		snprintf(err, errlen, "hostfwd: %s part too long", what);
		return -EINVAL;
	}
	memcpy(buf, s, len);
	buf[len] = 0;
	colon = strrchr(buf, ':');
	if (!colon) {
		snprintf(err, errlen, "hostfwd: %s part '%s' needs ADDR:PORT (ADDR may be empty)",
			 what, buf);
		return -EINVAL;
	}
	*colon = 0;
	if (buf[0] && inet_pton(AF_INET, buf, addr) != 1) {
		snprintf(err, errlen, "hostfwd: bad %s address '%s'", what, buf);
		return -EINVAL;
	}
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || p == 0 || p > 65535 || colon[1] == '-' ||
	    colon[1] == '+') {
		snprintf(err, errlen, "hostfwd: bad %s port '%s' (1-65535)", what, colon + 1);
		return -EINVAL;
	}
	*port = (uint16_t)p;
	return 0;
}

int net_parse_hostfwd(const char *s, struct net_hostfwd *fwd, char *err, size_t errlen)
{
	const char *rest, *dash;
	int rc;

	memset(fwd, 0, sizeof(*fwd));
	fwd->host_addr.s_addr = htonl(INADDR_ANY);
	inet_pton(AF_INET, "10.0.2.15", &fwd->guest_addr);
	if (!strncmp(s, "tcp:", 4)) {
		rest = s + 4;
	} else if (!strncmp(s, "udp:", 4)) {
		fwd->udp = true;
		rest = s + 4;
	} else {
		snprintf(err, errlen, "hostfwd '%s': must start with tcp: or udp:", s);
		return -EINVAL;
	}
	dash = strchr(rest, '-');
	if (!dash) {
		snprintf(err, errlen,
			 "hostfwd '%s': expected [HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT", s);
		return -EINVAL;
	}
	rc = parse_endpoint(rest, (size_t)(dash - rest), &fwd->host_addr, &fwd->host_port, "host",
			    err, errlen);
	if (rc == 0)
		rc = parse_endpoint(dash + 1, strlen(dash + 1), &fwd->guest_addr, &fwd->guest_port,
				    "guest", err, errlen);
	return rc;
}

int net_backend_open(const char *spec, struct net_backend **out, char *err, size_t errlen)
{
	char *copy, *save = NULL, *tok;
	struct net_hostfwd fwds[NET_MAX_HOSTFWD];
	unsigned nfwd = 0;
	const char *ifname = NULL;
	bool tap;
	int rc = 0;

	if (!spec || !*spec)
		spec = "user";
	copy = strdup(spec);
	if (!copy)
		return -ENOMEM;
	tok = strtok_r(copy, ",", &save);
	if (!tok || (strcmp(tok, "user") && strcmp(tok, "tap"))) {
		snprintf(err, errlen, "network '%s': must start with 'user' or 'tap'", spec);
		rc = -EINVAL;
		goto out;
	}
	tap = !strcmp(tok, "tap");
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!tap && !strncmp(tok, "hostfwd=", 8)) {
			if (nfwd == NET_MAX_HOSTFWD) {
				snprintf(err, errlen, "at most %d hostfwd rules", NET_MAX_HOSTFWD);
				rc = -EINVAL;
				goto out;
			}
			rc = net_parse_hostfwd(tok + 8, &fwds[nfwd++], err, errlen);
			if (rc < 0)
				goto out;
		} else if (tap && !strncmp(tok, "ifname=", 7) && tok[7]) {
			ifname = tok + 7;
		} else {
			snprintf(err, errlen, "network option '%s' not understood for %s", tok,
				 tap ? "tap (tap,ifname=NAME)" : "user (user,hostfwd=...)");
			rc = -EINVAL;
			goto out;
		}
	}
	if (tap && !ifname) {
		snprintf(err, errlen, "tap needs ifname=NAME");
		rc = -EINVAL;
		goto out;
	}
	rc = tap ? net_tap_open(ifname, out, err, errlen) : net_slirp_open(fwds, nfwd, out, err, errlen);
out:
	free(copy);
	return rc;
}
