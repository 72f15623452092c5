/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nftlist.c: nft chain listings run in a child process, their texts read back by the poll loop */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <endian.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <nftables/libnftables.h>

#include "iptrace/array.h"
#include "iptrace/nftlist.h"
#include "iptrace/nftrace.h"
#include "iptrace/nlattr.h"

#define FRAME_MAGIC	0x6e66746cu		/* "nftl" */
#define TEXT_MAX	(1ull << 30)		/* no chain's listing is near this */

/* What the child sends for each chain it was asked for, in order, then the text. */
struct frame {
	uint32_t	magic;
	uint32_t	index;		/* the chain's place in the child's batch */
	int32_t		err;
	uint32_t	gen;
	uint64_t	len;		/* text bytes that follow */
};

struct req {
	uint8_t		family;
	char		table[NFT_NAME_MAXLEN];
	char		chain[NFT_NAME_MAXLEN];
};

struct reqs {
	struct req	*a;
	size_t		n, cap;
};

struct nl {
	struct mnl_socket	*sock;
	uint32_t		seq;
};

struct nftlist {
	nftlist_done_fn	done;
	void		*ctx;
	struct nl	nl;		/* this process's GETGEN */
	int		fd, peer;	/* we read fd; children write to peer, kept open here */
	pid_t		pid;		/* the child listing batch, 0: none */
	pid_t		old;		/* a child that answered all, not yet reaped */
	uint64_t	started;
	struct reqs	batch;		/* what the running child lists */
	size_t		answered;	/* ... of which answered */
	struct reqs	waiting;	/* for the next child */
	/* The frame being read. */
	struct frame	fr;
	size_t		fgot;		/* bytes of fr read */
	char		*text;		/* NULL while skipping a text we could not keep */
	uint64_t	tgot;
	int		terr;		/* -ENOMEM: the text was skipped */
};

/* ---- netlink requests: generation and table handle ---- */

static const struct nlattr_policy gen_policy[NFTA_GEN_MAX + 1] = {
	[NFTA_GEN_ID]	= { .type = MNL_TYPE_U32 },
};

static int gen_reply_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NFTA_GEN_MAX + 1] = { NULL };

	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWGEN ||
	    nlattr_parse(nlh, sizeof(struct nfgenmsg), gen_policy, NFTA_GEN_MAX, tb) < 0 ||
	    !tb[NFTA_GEN_ID])
		return MNL_CB_ERROR;
	*(uint32_t *)data = ntohl(mnl_attr_get_u32(tb[NFTA_GEN_ID]));
	return MNL_CB_OK;
}

static const struct nlattr_policy table_reply_policy[NFTA_TABLE_MAX + 1] = {
	[NFTA_TABLE_HANDLE]	= { .type = MNL_TYPE_U64 },
};

static int table_reply_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NFTA_TABLE_MAX + 1] = { NULL };

	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWTABLE ||
	    nlattr_parse(nlh, sizeof(struct nfgenmsg), table_reply_policy, NFTA_TABLE_MAX, tb) < 0 ||
	    !tb[NFTA_TABLE_HANDLE])
		return MNL_CB_ERROR;
	*(uint64_t *)data = be64toh(mnl_attr_get_u64(tb[NFTA_TABLE_HANDLE]));
	return MNL_CB_OK;
}

static int nl_open(struct nl *nl)
{
	nl->sock = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl->sock)
		return -errno;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int ret = -errno;

		mnl_socket_close(nl->sock);
		nl->sock = NULL;
		return ret;
	}
	nl->seq = (uint32_t)time(NULL);
	return 0;
}

/*
 * One nf_tables request of @type for @family (of @table when not NULL): its reply to @cb,
 * then the ack. 0 or a negative errno (the kernel's, or -EINVAL when @cb refused the reply).
 */
static int nl_request(struct nl *nl, uint8_t type, uint8_t family, const char *table,
		      mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nlattr_put_nfnl_header(buf, NFNL_SUBSYS_NFTABLES, type,
						      family, NLM_F_ACK, ++nl->seq);
	uint32_t portid = mnl_socket_get_portid(nl->sock);
	ssize_t n;
	int ret;

	if (table)
		mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, table);
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		errno = 0;
		ret = mnl_cb_run(buf, (size_t)n, nl->seq, portid, cb, data);
		if (ret < 0)
			return errno ? -errno : -EINVAL;
	} while (ret > 0);	/* the reply, then the ack that stops the run */
	return 0;
}

static int nl_gen(struct nl *nl, uint32_t *gen)
{
	return nl_request(nl, NFT_MSG_GETGEN, AF_UNSPEC, NULL, gen_reply_cb, gen);
}

int nftlist_gen(struct nftlist *l, uint32_t *gen)
{
	return nl_gen(&l->nl, gen);
}

/* ---- the child ---- */

/* nft's scanner takes these names unquoted; others can't be asked for by name. */
static bool listable(const char *name)
{
	if (!isalpha((unsigned char)name[0]) && name[0] != '_')
		return false;
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("_.-/", *c))
			return false;
	return true;
}

/* @out with its first line "table FAMILY NAME {" given the table's handle, into *@text. */
static int with_table_handle(const char *out, uint64_t th, char **text)
{
	const char *nl = strchr(out, '\n');
	size_t head = nl ? (size_t)(nl - out) : strlen(out);
	int n;

	if (head < 2 || memcmp(out + head - 2, " {", 2) != 0 || memmem(out, head, "# handle", 8))
		n = asprintf(text, "%s", out);
	else
		n = asprintf(text, "%.*s # handle %" PRIu64 "%s", (int)head, out, th, out + head);
	return n < 0 ? -ENOMEM : 0;
}

/*
 * One listing by libnftables, in a context of its own (handles on, counter values off:
 * they would be a stale snapshot); freed with it, so that a chain's expressions do not
 * stay for the next. 0 with *@out, -ENOENT, or -EIO.
 */
static int nft_list(const char *cmd, char **out)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	const char *o, *err;
	int ret = 0;

	if (!nft)
		return -ENOMEM;
	nft_ctx_output_set_flags(nft, NFT_CTX_OUTPUT_HANDLE | NFT_CTX_OUTPUT_STATELESS);
	if (nft_ctx_buffer_output(nft) || nft_ctx_buffer_error(nft)) {
		ret = -ENOMEM;
	} else if (nft_run_cmd_from_buffer(nft, cmd) != 0) {
		err = nft_ctx_get_error_buffer(nft);
		ret = err && strstr(err, "No such file or directory") ? -ENOENT : -EIO;
	} else {
		o = nft_ctx_get_output_buffer(nft);
		*out = strdup(o ? o : "");
		ret = *out ? 0 : -ENOMEM;
	}
	nft_ctx_free(nft);
	return ret;
}

/* One chain: the text is of one generation only if the generation is the same on both sides. */
static int list_one(struct nl *nl, const struct req *q, char **text, uint32_t *gen)
{
	char cmd[3 * NFT_NAME_MAXLEN];
	int ret = -EAGAIN;

	snprintf(cmd, sizeof(cmd), "list chain %s %s %s", nftrace_family_name(q->family),
		 q->table, q->chain);
	for (int tries = 0; tries < 3 && ret == -EAGAIN; tries++) {
		uint32_t g1, g2;
		uint64_t th = 0;
		char *out = NULL;

		ret = nl_gen(nl, &g1);
		if (ret < 0)
			break;
		ret = nft_list(cmd, &out);
		/* "No such table or chain" is an answer too, at the generation it was given. */
		if (ret == -ENOENT && nl_gen(nl, gen) < 0)
			ret = -EIO;
		if (ret < 0)
			break;
		ret = nl_request(nl, NFT_MSG_GETTABLE, q->family, q->table, table_reply_cb, &th);
		if (ret == 0)
			ret = nl_gen(nl, &g2);
		if (ret == 0 && g1 != g2)
			ret = -EAGAIN;
		if (ret == 0)
			ret = with_table_handle(out, th, text);
		if (ret == 0)
			*gen = g1;
		free(out);
	}
	return ret;
}

static int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* In the child: list @batch, a frame and its text for each, down @fd. Never returns. */
static __attribute__((noreturn)) void child_run(const struct reqs *batch, int fd, pid_t parent)
{
	struct nl nl;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	/* Nothing of ours but the answer's way: not the trace sockets, nor the rules' fds. */
	if (fd > 3)
		close_range(3, (unsigned)fd - 1, 0);
	close_range((unsigned)fd + 1, ~0u, 0);
	prctl(PR_SET_NAME, "iptrace-nft");
	if (nl_open(&nl) < 0)
		nl.sock = NULL;
	for (size_t i = 0; i < batch->n; i++) {
		char *text = NULL;
		uint32_t gen = 0;
		int err = nl.sock ? list_one(&nl, &batch->a[i], &text, &gen) : -EIO;
		struct frame f = {
			.magic = FRAME_MAGIC, .index = (uint32_t)i, .err = err, .gen = gen,
			.len = err == 0 ? strlen(text) : 0,
		};

		if (send_all(fd, &f, sizeof(f)) < 0 || (f.len && send_all(fd, text, f.len) < 0))
			_exit(1);
		free(text);
	}
	_exit(0);
}

/* ---- the parent ---- */

static int reqs_add(struct reqs *r, uint8_t family, const char *table, const char *chain)
{
	struct req *q;

	if (r->n == r->cap) {
		struct req *a = array_grow(r->a, &r->cap, sizeof(*a), 8);

		if (!a)
			return -ENOMEM;
		r->a = a;
	}
	q = &r->a[r->n++];
	q->family = family;
	snprintf(q->table, sizeof(q->table), "%s", table);
	snprintf(q->chain, sizeof(q->chain), "%s", chain);
	return 0;
}

static void answer(struct nftlist *l, size_t i, int err, uint32_t gen, char *text)
{
	const struct req *q = &l->batch.a[i];
	struct nftlist_answer a = {
		.family = q->family, .table = q->table, .chain = q->chain, .err = err, .gen = gen,
		.text = err ? NULL : text,
	};

	l->done(l->ctx, &a);
	free(a.text);
}

static void frame_reset(struct nftlist *l)
{
	free(l->text);
	l->text = NULL;
	l->fgot = 0;
	l->tgot = 0;
	l->terr = 0;
}

/* The waiting chains to a new child. 0, or -errno with them still waiting. */
static int start_child(struct nftlist *l, uint64_t now_ns)
{
	struct reqs b = l->waiting;
	pid_t pid, parent = getpid();

	/* A child that answered everything has exited, or is about to. */
	if (l->old > 0) {
		waitpid(l->old, NULL, 0);
		l->old = 0;
	}
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		child_run(&b, l->peer, parent);
	free(l->batch.a);
	l->batch = b;
	l->waiting = (struct reqs){ 0 };
	l->answered = 0;
	l->pid = pid;
	l->started = now_ns;
	return 0;
}

/* The running child's batch is over: answer what it left with @err, start the next. */
static void batch_end(struct nftlist *l, int err, uint64_t now_ns)
{
	int ret;

	for (size_t i = l->answered; i < l->batch.n; i++)
		answer(l, i, err, 0, NULL);
	l->batch.n = 0;
	l->answered = 0;
	frame_reset(l);
	while (l->waiting.n && (ret = start_child(l, now_ns)) < 0) {
		/* No child to be had: answer them all, rather than let them wait for nothing. */
		free(l->batch.a);
		l->batch = l->waiting;
		l->waiting = (struct reqs){ 0 };
		for (size_t i = 0; i < l->batch.n; i++)
			answer(l, i, ret, 0, NULL);
		l->batch.n = 0;
	}
}

void nftlist_feed(struct nftlist *l, const void *buf, size_t len, uint64_t now_ns)
{
	const char *p = buf;

	while (len && l->answered < l->batch.n) {
		size_t k;

		if (l->fgot < sizeof(l->fr)) {
			k = len < sizeof(l->fr) - l->fgot ? len : sizeof(l->fr) - l->fgot;
			memcpy((char *)&l->fr + l->fgot, p, k);
			l->fgot += k;
			p += k;
			len -= k;
			if (l->fgot < sizeof(l->fr))
				return;
			if (l->fr.magic != FRAME_MAGIC || l->fr.index != l->answered ||
			    l->fr.len > TEXT_MAX || (l->fr.err && l->fr.len)) {
				/* Not what our child writes: it is not to be trusted any more. */
				if (l->pid > 0) {
					kill(l->pid, SIGKILL);
					waitpid(l->pid, NULL, 0);
				}
				l->pid = 0;
				batch_end(l, -EIO, now_ns);
				return;
			}
			if (!l->fr.err && !(l->text = malloc(l->fr.len + 1)))
				l->terr = -ENOMEM;
		}
		k = len < l->fr.len - l->tgot ? len : (size_t)(l->fr.len - l->tgot);
		if (l->text)
			memcpy(l->text + l->tgot, p, k);
		l->tgot += k;
		p += k;
		len -= k;
		if (l->tgot < l->fr.len)
			return;
		if (l->text)
			l->text[l->fr.len] = '\0';
		answer(l, l->answered, l->terr ? l->terr : l->fr.err, l->fr.gen, l->text);
		l->text = NULL;
		frame_reset(l);
		if (++l->answered == l->batch.n) {
			/* It exits now: reaped when the next one starts, or by the tick. */
			l->old = l->pid;
			l->pid = 0;
			batch_end(l, 0, now_ns);
		}
	}
}

/* What a child that is gone left in the socket (all it wrote is there by now). */
static void drain(struct nftlist *l, uint64_t now_ns)
{
	char buf[16384];
	ssize_t n;

	while (l->answered < l->batch.n && (n = recv(l->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		nftlist_feed(l, buf, (size_t)n, now_ns);
}

void nftlist_tick(struct nftlist *l, uint64_t now_ns)
{
	pid_t w;

	if (l->old > 0 && waitpid(l->old, NULL, WNOHANG) != 0)
		l->old = 0;
	if (!l->pid) {
		if (l->waiting.n)
			batch_end(l, -EIO, now_ns);
		return;
	}
	w = waitpid(l->pid, NULL, WNOHANG);
	if (w == 0 && now_ns - l->started < NFTLIST_BOUND_NS)
		return;
	if (w == 0) {
		kill(l->pid, SIGKILL);
		waitpid(l->pid, NULL, 0);
	}
	l->pid = 0;
	/*
	 * What it answered (all of it, when it ended as it should: the loop had not read it
	 * yet). Answering its last chain starts the next child: then there is nothing left.
	 */
	drain(l, now_ns);
	if (!l->pid && l->answered < l->batch.n)
		batch_end(l, w == 0 ? -ETIMEDOUT : -EIO, now_ns);
}

int nftlist_start(struct nftlist *l, uint8_t family, const char *table, const char *chain,
		  uint64_t now_ns)
{
	int ret;

	if (!nftrace_family_name(family) || !listable(table) || !listable(chain) ||
	    strlen(table) >= NFT_NAME_MAXLEN || strlen(chain) >= NFT_NAME_MAXLEN)
		return -EINVAL;
	ret = reqs_add(&l->waiting, family, table, chain);
	if (ret < 0 || l->pid)
		return ret;
	ret = start_child(l, now_ns);
	if (ret < 0)
		l->waiting.n--;
	return ret;
}

int nftlist_fd(const struct nftlist *l)
{
	return l->fd;
}

struct nftlist *nftlist_new(nftlist_done_fn done, void *ctx)
{
	struct nftlist *l = calloc(1, sizeof(*l));
	int sv[2], ret;

	if (!l)
		return NULL;
	l->done = done;
	l->ctx = ctx;
	l->fd = l->peer = -1;
	ret = nl_open(&l->nl);
	if (ret < 0)
		goto err;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		ret = -errno;
		goto err;
	}
	l->fd = sv[0];
	l->peer = sv[1];
	/* Only the children write, and we keep their end open: the loop never sees a hang-up. */
	fcntl(l->fd, F_SETFL, O_NONBLOCK);
	return l;
err:
	nftlist_free(l);
	errno = -ret;
	return NULL;
}

void nftlist_free(struct nftlist *l)
{
	if (!l)
		return;
	if (l->pid > 0) {
		kill(l->pid, SIGKILL);
		waitpid(l->pid, NULL, 0);
	}
	if (l->old > 0)
		waitpid(l->old, NULL, 0);
	if (l->fd >= 0)
		close(l->fd);
	if (l->peer >= 0)
		close(l->peer);
	if (l->nl.sock)
		mnl_socket_close(l->nl.sock);
	frame_reset(l);
	free(l->batch.a);
	free(l->waiting.a);
	free(l);
}
