/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nftrace_src.c: the netlink socket that receives nf_tables trace records and chain events */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>

#include "iptrace/nftrace.h"
#include "iptrace/nlattr.h"
#include "iptrace/rxbatch.h"

struct dump_buf {
	struct dump_buf	*next;
	size_t		len;
	uint32_t	data[];	/* uint32_t: netlink alignment */
};

struct nftrace_src {
	struct mnl_socket	*nl;
	struct dump_buf		*dump, **dump_tail;
};

/*
 * Dump every chain of every family on @nl, calling @fn for each buffer received until
 * NLMSG_DONE. Returns 0 or a negative errno (a dump error from the kernel included).
 */
static int dump_chains(struct mnl_socket *nl, int (*fn)(void *ctx, const void *buf, size_t len),
		       void *ctx)
{
	char req[256];
	uint32_t buf[32768 / 4];	/* MNL_SOCKET_DUMP_SIZE of newer libmnl */
	uint32_t seq = (uint32_t)time(NULL), portid = mnl_socket_get_portid(nl);
	struct nlmsghdr *nlh = nlattr_put_nfnl_header(req, NFNL_SUBSYS_NFTABLES, NFT_MSG_GETCHAIN,
						      AF_UNSPEC, NLM_F_DUMP, seq);

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		int ret;

		if (n < 0)
			return errno == EINTR ? -EINTR : -errno;
		/* Check seq and port: only our dump's messages count; NLMSG_DONE ends it. */
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL);
		if (ret < 0)
			return -errno;
		if (fn(ctx, buf, (size_t)n) < 0)
			return -ENOMEM;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

static int keep_buf(void *ctx, const void *buf, size_t len)
{
	struct nftrace_src *src = ctx;
	struct dump_buf *d = malloc(sizeof(*d) + len + 4);

	if (!d)
		return -ENOMEM;
	d->next = NULL;
	d->len = len;
	memcpy(d->data, buf, len);
	*src->dump_tail = d;
	src->dump_tail = &d->next;
	return 0;
}

static void free_dump(struct nftrace_src *src)
{
	struct dump_buf *d = src->dump, *n;

	for (; d; d = n) {
		n = d->next;
		free(d);
	}
	src->dump = NULL;
	src->dump_tail = &src->dump;
}

struct nftrace_src *nftrace_src_open(uint32_t rcvbuf)
{
	struct nftrace_src *src = calloc(1, sizeof(*src));
	int groups[] = { NFNLGRP_NFTRACE, NFNLGRP_NFTABLES }, ret, e;

	if (!src)
		return NULL;
	src->dump_tail = &src->dump;
	src->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!src->nl)
		goto err_free;
	if (mnl_socket_bind(src->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto err_close;
	rxbatch_rcvbuf(mnl_socket_get_fd(src->nl), rcvbuf);
	/* The dump first, alone on the socket: then no event can interleave with it. */
	ret = dump_chains(src->nl, keep_buf, src);
	if (ret < 0) {
		errno = -ret;
		goto err_dump;
	}
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (mnl_socket_setsockopt(src->nl, NETLINK_ADD_MEMBERSHIP, &groups[i],
					  sizeof(groups[i])) < 0)
			goto err_dump;
	}
	return src;

err_dump:
	free_dump(src);
err_close:
	e = errno;
	mnl_socket_close(src->nl);
	errno = e;
err_free:
	e = errno;
	free(src);
	errno = e;
	return NULL;
}

void nftrace_src_close(struct nftrace_src *src)
{
	if (!src)
		return;
	free_dump(src);
	mnl_socket_close(src->nl);
	free(src);
}

int nftrace_src_fd(const struct nftrace_src *src)
{
	return mnl_socket_get_fd(src->nl);
}

int nftrace_src_take_dump(struct nftrace_src *src,
			  int (*fn)(void *ctx, const void *buf, size_t len), void *ctx)
{
	int ret = 0;

	for (struct dump_buf *d = src->dump; d && ret >= 0; d = d->next)
		ret = fn(ctx, d->data, d->len);
	free_dump(src);
	return ret < 0 ? ret : 0;
}

static const struct nlattr_policy hook_only_policy[NFTA_CHAIN_MAX + 1] = {
	[NFTA_CHAIN_HOOK]	= { .type = MNL_TYPE_NESTED },
};

/* Does any chain of the dump in @buf have a hook? *@ctx (a bool) says. */
static int scan_buf(void *ctx, const void *buf, size_t len)
{
	const struct nlmsghdr *nlh = buf;
	int n = (int)len;

	for (; mnl_nlmsg_ok(nlh, n); nlh = mnl_nlmsg_next(nlh, &n)) {
		const struct nlattr *tb[NFTA_CHAIN_MAX + 1] = { NULL };

		if (NFNL_SUBSYS_ID(nlh->nlmsg_type) == NFNL_SUBSYS_NFTABLES &&
		    NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWCHAIN &&
		    nlattr_parse(nlh, sizeof(struct nfgenmsg), hook_only_policy, NFTA_CHAIN_MAX,
				 tb) == 0 && tb[NFTA_CHAIN_HOOK])
			*(bool *)ctx = true;
	}
	return 0;
}

int nft_has_base_chains(void)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	bool found = false;
	int ret;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		mnl_socket_close(nl);
		return ret;
	}
	ret = dump_chains(nl, scan_buf, &found);
	mnl_socket_close(nl);
	if (ret < 0)
		return ret;
	return found ? 1 : 0;
}
