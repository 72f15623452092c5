/* SPDX-License-Identifier: GPL-2.0-or-later */
/* demo.h: iptrace --demo — a throw-away client/router/server lab built in namespaces */
#ifndef IPTRACE_DEMO_H
#define IPTRACE_DEMO_H

#include <stdbool.h>

/* Opaque: the lab's namespaces, its server and client processes. */
struct demo;

/*
 * demo_new - build the lab: namespaces iptrace-demo-PID-{client,router,server}, veths between
 * them, addresses and routes, kube-proxy-like legacy nat chains in the router that DNAT the
 * service 10.96.0.10:53 to the server 10.0.2.7:53, a DNS-like UDP server in the server
 * namespace and a client that waits for demo_start(). Labs left by demos that were killed
 * are removed first. Only namespaces are created: the calling namespace's rules and sysctls
 * are never touched. Problems are reported on stderr (diag.h).
 *
 * Call with SIGINT, SIGTERM and SIGHUP blocked: a pending one aborts the build (EINTR).
 * Returns NULL with errno (EINTR, ENOENT for a missing ip or iptables-legacy-restore,
 * EIO for a failed command); whatever was built is removed again. Free with demo_free().
 */
struct demo *demo_new(void);

/* demo_router - path of the router's namespace (/run/netns/NAME): trace there. Borrowed. */
const char *demo_router(const struct demo *d);

/* demo_intro - say in one line on stderr what the lab is. */
void demo_intro(const struct demo *d);

/* demo_start - let the client send its query (call once tracing is ready). 0 or -errno. */
int demo_start(struct demo *d);

/*
 * demo_free - stop the lab's processes, have the lab's namespaces deleted (by a helper
 * process forked in demo_new(), which keeps the capabilities the capture gives up, and
 * which also does it if we die) and say on stderr whether the client got its answer.
 * Returns 0, or -EIO when a namespace could not be deleted. NULL is a no-op.
 */
int demo_free(struct demo *d);

#endif
