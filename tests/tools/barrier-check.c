/* SPDX-License-Identifier: GPL-2.0-or-later */
/* barrier-check.c: does a barrier after a table read come after every record of older versions? */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <net/if.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netfilter_ipv4/ip_tables.h>

/*
 * Usage: barrier-check SECONDS CHAIN NUM0 SIZE0 NUM1 SIZE1 VIP (root, in a namespace whose
 * nf_log/2 is nfnetlink_log, with a TRACE rule in raw OUTPUT; scripts/bench/barrier-order.sh).
 * A child process sends UDP datagrams to VIP:53, each from a new socket (a new conntrack
 * entry, so each one meets the nat table), while the parent reads.
 *
 * The nat table alternates between two versions told apart by their size (GET_INFO): in
 * version 0 the traced packets meet CHAIN rule NUM0, in version 1 rule NUM1. The program
 * owns NFLOG group 0 and, as fast as it can, sends a barrier to its own socket, reads the
 * nat table's size, sends another barrier. Then every record of CHAIN must have been made
 * by a version that was in force between the reads around it: after barrier 2k+1 and
 * before 2k+2, the version read at k or at k+1 (the table changes far less often than it is
 * read, so no third version fits in between); between 2k and 2k+1, that of k-1, k or k+1.
 * Prints records checked, changes seen and violations. "barrier-check size" prints the nat
 * table's size now.
 */

#define BARRIER 0x7e01

static int nl_cfg(struct mnl_socket *nl, uint8_t cmd, bool params)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(0);
	if (params) {
		struct nfulnl_msg_config_mode mode = { .copy_range = 0,
						       .copy_mode = NFULNL_COPY_META };

		mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof(mode), &mode);
	} else {
		struct nfulnl_msg_config_cmd c = { .command = cmd };

		mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof(c), &c);
	}
	return mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ? -1 : 0;
}

struct ev {
	int32_t		barrier;	/* >= 0: a barrier; -1: a record */
	int		version;	/* records: 0, 1, or -1 for another step */
};

static struct ev *evs;
static size_t nev, cap;
static const char *chain;
static unsigned num[2];

static void add(int32_t barrier, int version)
{
	if (nev == cap) {
		cap = cap ? cap * 2 : 1 << 16;
		evs = realloc(evs, cap * sizeof(*evs));
		if (!evs)
			exit(1);
	}
	evs[nev++] = (struct ev){ barrier, version };
}

static int on_msg(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *a;
	char want[64];

	(void)data;
	if (nlh->nlmsg_type == BARRIER) {
		int32_t pos;

		memcpy(&pos, mnl_nlmsg_get_payload(nlh), sizeof(pos));
		add(pos, 0);
		return MNL_CB_OK;
	}
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		const char *p;

		if (mnl_attr_get_type(a) != NFULA_PREFIX)
			continue;
		p = mnl_attr_get_str(a);
		for (int v = 0; v < 2; v++) {
			snprintf(want, sizeof(want), "TRACE: nat:%s:rule:%u ", chain, num[v]);
			if (strcmp(p, want) == 0) {
				add(-1, v);
				return MNL_CB_OK;
			}
		}
	}
	return MNL_CB_OK;
}

static void drain(struct mnl_socket *nl)
{
	char buf[1 << 16];
	ssize_t n;

	while ((n = recv(mnl_socket_get_fd(nl), buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		mnl_cb_run(buf, (size_t)n, 0, 0, on_msg, NULL);
}

int main(int argc, char **argv)
{
	struct mnl_socket *nl, *bar;
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	uint32_t size[2];
	int *read_v = NULL, raw, rcv = 64 << 20;
	size_t nread = 0, capread = 0, checked = 0, changes = 0, bad = 0;
	struct timespec end;
	pid_t sender;
	int32_t k;

	if (argc == 2 && strcmp(argv[1], "size") == 0) {
		struct ipt_getinfo info = { .name = "nat" };
		socklen_t len = sizeof(info);

		raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
		if (getsockopt(raw, IPPROTO_IP, IPT_SO_GET_INFO, &info, &len) < 0)
			return perror("GET_INFO"), 1;
		printf("%u\n", info.size);
		return 0;
	}
	if (argc != 8)
		return fprintf(stderr, "usage: barrier-check SECONDS CHAIN NUM0 SIZE0 NUM1 SIZE1 VIP\n"), 2;
	chain = argv[2];
	num[0] = (unsigned)atoi(argv[3]);
	size[0] = (uint32_t)atoi(argv[4]);
	num[1] = (unsigned)atoi(argv[5]);
	size[1] = (uint32_t)atoi(argv[6]);
	nl = mnl_socket_open(NETLINK_NETFILTER);
	bar = mnl_socket_open(NETLINK_NETFILTER);
	raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (!nl || !bar || raw < 0 || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_bind(bar, 0, MNL_SOCKET_AUTOPID) < 0)
		return perror("socket"), 1;
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv));
	if (nl_cfg(nl, NFULNL_CFG_CMD_BIND, false) < 0 || nl_cfg(nl, 0, true) < 0)
		return perror("bind group 0"), 1;
	to.nl_pid = mnl_socket_get_portid(nl);
	sender = fork();
	if (sender == 0) {
		struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(53) };

		inet_pton(AF_INET, argv[7], &dst.sin_addr);
		for (;;) {
			int s = socket(AF_INET, SOCK_DGRAM, 0);

			sendto(s, "q", 1, 0, (void *)&dst, sizeof(dst));
			close(s);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += atoi(argv[1]);
	for (k = 0;; k++) {
		struct { struct nlmsghdr h; int32_t pos; } m = { { sizeof(m), BARRIER, 0, 0, 0 }, 0 };
		struct ipt_getinfo info = { .name = "nat" };
		socklen_t len = sizeof(info);
		struct timespec now;

		m.pos = 2 * k;
		sendto(mnl_socket_get_fd(bar), &m, sizeof(m), 0, (void *)&to, sizeof(to));
		if (getsockopt(raw, IPPROTO_IP, IPT_SO_GET_INFO, &info, &len) < 0)
			return perror("GET_INFO"), 1;
		m.pos = 2 * k + 1;
		sendto(mnl_socket_get_fd(bar), &m, sizeof(m), 0, (void *)&to, sizeof(to));
		if (nread == capread) {
			capread = capread ? capread * 2 : 1 << 16;
			read_v = realloc(read_v, capread * sizeof(*read_v));
			if (!read_v)
				return 1;
		}
		read_v[nread++] = info.size == size[0] ? 0 : info.size == size[1] ? 1 : -1;
		if (nread > 1 && read_v[nread - 1] != read_v[nread - 2])
			changes++;
		drain(nl);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			break;
		usleep(200);
	}
	kill(sender, SIGKILL);
	waitpid(sender, NULL, 0);
	usleep(100000);
	drain(nl);
	{
		int32_t last = -1;

		for (size_t i = 0; i < nev; i++) {
			int32_t lo, hi;
			bool ok = false;

			if (evs[i].barrier >= 0) {
				last = evs[i].barrier;
				continue;
			}
			if (last < 0)
				continue;
			lo = last % 2 ? last / 2 : last / 2 - 1;
			hi = last / 2 + 1;
			if (lo < 0 || hi >= (int32_t)nread)
				continue;
			for (int32_t j = lo; j <= hi; j++)
				if (read_v[j] == evs[i].version)
					ok = true;
			checked++;
			if (!ok) {
				bad++;
				fprintf(stderr, "violation: version %d record after barrier %d (reads", evs[i].version, last);
				for (int32_t j = lo; j <= hi; j++)
					fprintf(stderr, " %d", read_v[j]);
				fprintf(stderr, ")\n");
			}
		}
	}
	printf("rounds %zu records %zu changes %zu violations %zu\n", nread, checked, changes, bad);
	nl_cfg(nl, NFULNL_CFG_CMD_UNBIND, false);
	return bad ? 1 : 0;
}
