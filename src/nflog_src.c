/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nflog_src.c: the nfnetlink_log socket that owns a group and receives TRACE records */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/sock_diag.h>
#include <libnetfilter_log/libnetfilter_log.h>

#include "iptrace/nflog.h"
#include "iptrace/rxbatch.h"

struct nflog_src {
	struct mnl_socket	*nl;
	uint16_t		group;
	bool			bound;
};

/* Send one NFULNL_MSG_CONFIG request for @group and wait for its ack. */
static int send_cfg(struct mnl_socket *nl, uint16_t group,
		    int (*fill)(struct nlmsghdr *, const void *), const void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	uint32_t seq = (uint32_t)rand();
	int ret;

	/* libmnl 1.0.4 leaves attribute padding as it finds it: don't send stack bytes. */
	memset(buf, 0, sizeof(buf));
	nlh = nflog_nlmsg_put_header(buf, NFULNL_MSG_CONFIG, AF_UNSPEC, group);
	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	ret = fill(nlh, arg);
	if (ret < 0)
		return ret;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	/* Records may already be queued ahead of the ack: read until the ack itself. */
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));

		if (n < 0)
			return -errno;
		for (nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, (int)n);
		     nlh = mnl_nlmsg_next(nlh, (int *)&n)) {
			if (nlh->nlmsg_type == NLMSG_ERROR && nlh->nlmsg_seq == seq) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				return e->error;
			}
		}
	}
}

/* The library's putters return -1 with errno on error (none does in 1.0.2). */
static int fill_cmd(struct nlmsghdr *nlh, const void *arg)
{
	return nflog_attr_put_cfg_cmd(nlh, *(const uint8_t *)arg) < 0 ? -errno : 0;
}

static int fill_params(struct nlmsghdr *nlh, const void *arg)
{
	const struct nflog_cfg *cfg = arg;

	if (nflog_attr_put_cfg_mode(nlh, NFULNL_COPY_PACKET, cfg->copy_range) < 0)
		return -errno;
	mnl_attr_put_u16(nlh, NFULA_CFG_FLAGS, htons(NFULNL_CFG_F_SEQ));
	if (cfg->qthresh)
		mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(cfg->qthresh));
	if (cfg->flush_cs)
		mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl(cfg->flush_cs));
	if (cfg->nlbufsiz)
		mnl_attr_put_u32(nlh, NFULA_CFG_NLBUFSIZ, htonl(cfg->nlbufsiz));
	return 0;
}

struct nflog_src *nflog_src_open(const struct nflog_cfg *cfg)
{
	struct nflog_src *src;
	uint8_t cmd = NFULNL_CFG_CMD_BIND;
	int ret;

	src = calloc(1, sizeof(*src));
	if (!src)
		return NULL;
	src->group = cfg->group;
	src->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!src->nl)
		goto err_free;
	if (mnl_socket_bind(src->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto err_close;
	/* Under a flood the socket overruns; ENOBUFS is counted, not fatal. */
	rxbatch_rcvbuf(mnl_socket_get_fd(src->nl), cfg->rcvbuf);
	ret = send_cfg(src->nl, cfg->group, fill_cmd, &cmd);
	if (ret < 0) {
		errno = -ret;
		goto err_close;
	}
	src->bound = true;
	ret = send_cfg(src->nl, cfg->group, fill_params, cfg);
	if (ret < 0) {
		errno = -ret;
		goto err_unbind;
	}
	return src;

err_unbind:
	ret = errno;
	cmd = NFULNL_CFG_CMD_UNBIND;
	send_cfg(src->nl, cfg->group, fill_cmd, &cmd);
	errno = ret;
err_close:
	ret = errno;
	mnl_socket_close(src->nl);
	errno = ret;
err_free:
	ret = errno;
	free(src);
	errno = ret;
	return NULL;
}

void nflog_src_close(struct nflog_src *src)
{
	uint8_t cmd = NFULNL_CFG_CMD_UNBIND;

	if (!src)
		return;
	/* Closing the socket unbinds too; the explicit unbind is for clarity in traces. */
	if (src->bound)
		send_cfg(src->nl, src->group, fill_cmd, &cmd);
	mnl_socket_close(src->nl);
	free(src);
}

int nflog_src_fd(const struct nflog_src *src)
{
	return mnl_socket_get_fd(src->nl);
}

uint32_t nflog_src_portid(const struct nflog_src *src)
{
	return mnl_socket_get_portid(src->nl);
}

int nflog_src_drops(const struct nflog_src *src, uint64_t *drops)
{
	uint32_t mem[SK_MEMINFO_VARS] = { 0 };
	socklen_t len = sizeof(mem);

	if (getsockopt(mnl_socket_get_fd(src->nl), SOL_SOCKET, SO_MEMINFO, mem, &len) < 0)
		return -errno;
	if (len <= SK_MEMINFO_DROPS * sizeof(mem[0]))
		return -ENOPROTOOPT;
	*drops = mem[SK_MEMINFO_DROPS];
	return 0;
}

int nflog_group_owner(uint16_t group, uint32_t *portid)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_log", "re");
	unsigned g, pid;
	char line[256];
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%u %u", &g, &pid) == 2 && g == group) {
			*portid = pid;
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}
