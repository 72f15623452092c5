/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nfhook.c: the kernel's own order of the functions at each hook (nfnetlink_hook) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_hook.h>
#include <linux/netfilter/nf_tables.h>

#include "iptrace/array.h"
#include "iptrace/nfhook.h"
#include "iptrace/nlattr.h"

/* ---- the decoder ---- */

static const struct nlattr_policy hook_policy[NFNLA_HOOK_MAX + 1] = {
	[NFNLA_HOOK_HOOKNUM]		= { .type = MNL_TYPE_U32 },
	[NFNLA_HOOK_PRIORITY]		= { .type = MNL_TYPE_U32 },
	[NFNLA_HOOK_FUNCTION_NAME]	= { .type = MNL_TYPE_NUL_STRING },
	[NFNLA_HOOK_CHAIN_INFO]		= { .type = MNL_TYPE_NESTED },
};

static const struct nlattr_policy info_policy[NFNLA_HOOK_INFO_MAX + 1] = {
	[NFNLA_HOOK_INFO_DESC]		= { .type = MNL_TYPE_NESTED },
	[NFNLA_HOOK_INFO_TYPE]		= { .type = MNL_TYPE_U32 },
};

static const struct nlattr_policy desc_policy[NFNLA_CHAIN_MAX + 1] = {
	[NFNLA_CHAIN_TABLE]		= { .type = MNL_TYPE_NUL_STRING },
	[NFNLA_CHAIN_FAMILY]		= { .type = MNL_TYPE_U8 },
	[NFNLA_CHAIN_NAME]		= { .type = MNL_TYPE_NUL_STRING },
};

static void cut(char *dst, size_t size, const struct nlattr *a)
{
	const char *s = mnl_attr_get_str(a);
	size_t n = strnlen(s, size - 1);

	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* The nf_tables chain an entry is, from its NFNLA_HOOK_CHAIN_INFO nest. */
static int chain_info(const struct nlattr *nest, struct nfhook_entry *e)
{
	const struct nlattr *in[NFNLA_HOOK_INFO_MAX + 1] = { NULL };
	const struct nlattr *d[NFNLA_CHAIN_MAX + 1] = { NULL };

	if (nlattr_parse_nested(nest, info_policy, NFNLA_HOOK_INFO_MAX, in) < 0 ||
	    !in[NFNLA_HOOK_INFO_TYPE])
		return -EINVAL;
	if (ntohl(mnl_attr_get_u32(in[NFNLA_HOOK_INFO_TYPE])) != NFNL_HOOK_TYPE_NFTABLES)
		return 0;	/* a BPF program or a flowtable: not a chain we trace */
	if (!in[NFNLA_HOOK_INFO_DESC] ||
	    nlattr_parse_nested(in[NFNLA_HOOK_INFO_DESC], desc_policy, NFNLA_CHAIN_MAX, d) < 0 ||
	    !d[NFNLA_CHAIN_TABLE] || !d[NFNLA_CHAIN_NAME] || !d[NFNLA_CHAIN_FAMILY])
		return -EINVAL;
	e->nft = true;
	e->chain_family = mnl_attr_get_u8(d[NFNLA_CHAIN_FAMILY]);
	cut(e->table, sizeof(e->table), d[NFNLA_CHAIN_TABLE]);
	cut(e->chain, sizeof(e->chain), d[NFNLA_CHAIN_NAME]);
	return 0;
}

int nfhook_decode(const struct nlmsghdr *nlh, struct nfhook_entry *e)
{
	const struct nlattr *tb[NFNLA_HOOK_MAX + 1] = { NULL };
	const struct nfgenmsg *nfg;

	if (nlh->nlmsg_type < NLMSG_MIN_TYPE ||
	    NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_HOOK ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFNL_MSG_HOOK_GET)
		return -ENOMSG;
	if (nlattr_parse(nlh, sizeof(*nfg), hook_policy, NFNLA_HOOK_MAX, tb) < 0 ||
	    !tb[NFNLA_HOOK_HOOKNUM] || !tb[NFNLA_HOOK_PRIORITY])
		return -EINVAL;
	nfg = mnl_nlmsg_get_payload(nlh);
	memset(e, 0, sizeof(*e));
	e->family = nfg->nfgen_family;
	e->hooknum = ntohl(mnl_attr_get_u32(tb[NFNLA_HOOK_HOOKNUM]));
	e->prio = (int32_t)ntohl(mnl_attr_get_u32(tb[NFNLA_HOOK_PRIORITY]));
	if (tb[NFNLA_HOOK_FUNCTION_NAME])
		cut(e->func, sizeof(e->func), tb[NFNLA_HOOK_FUNCTION_NAME]);
	if (tb[NFNLA_HOOK_CHAIN_INFO])
		return chain_info(tb[NFNLA_HOOK_CHAIN_INFO], e);
	return 0;
}

/* ---- the order ---- */

struct nfhook_order {
	struct nfhook_entry	*e;
	size_t			n, cap;
};

struct nfhook_order *nfhook_order_new(void)
{
	return calloc(1, sizeof(struct nfhook_order));
}

void nfhook_order_free(struct nfhook_order *o)
{
	if (!o)
		return;
	free(o->e);
	free(o);
}

void nfhook_order_clear(struct nfhook_order *o)
{
	o->n = 0;
}

int nfhook_order_add(struct nfhook_order *o, const struct nfhook_entry *e)
{
	if (o->n == o->cap) {
		struct nfhook_entry *a = array_grow(o->e, &o->cap, sizeof(*a), 32);

		if (!a)
			return -ENOMEM;
		o->e = a;
	}
	o->e[o->n++] = *e;
	return 0;
}

bool nfhook_order_known(const struct nfhook_order *o)
{
	return o && o->n > 0;
}

/*
 * ip_tables' and ip6_tables' hook function: ipt_do_table itself since the tables became
 * templates (6.x), a per-table wrapper before (iptable_filter_hook...). Legacy nat is not
 * one of them: its chains, like nft's nat chains, run from nf_nat's own entry.
 */
static bool legacy_func(uint8_t family, const char *f)
{
	const char *p = family == NFPROTO_IPV6 ? "ip6t" : "ipt";
	size_t n = strlen(p);

	if (strncmp(f, p, n) == 0 && strcmp(f + n, "_do_table") == 0)
		return true;
	p = family == NFPROTO_IPV6 ? "ip6table_" : "iptable_";
	n = strlen(p);
	return strncmp(f, p, n) == 0 && strncmp(f + n, "nat", 3) != 0 &&
	       strlen(f) > 5 && strcmp(f + strlen(f) - 5, "_hook") == 0;
}

int nfhook_order_legacy_pos(const struct nfhook_order *o, uint8_t family, int hook, int32_t prio,
			    const char *const *tables, const uint8_t *fams, size_t k)
{
	int pos = 0, found = 0;
	bool legacy = false;

	if (!o || hook < 0)
		return -1;
	for (size_t i = 0; i < o->n; i++) {
		const struct nfhook_entry *e = &o->e[i];

		if (e->family != family || e->hooknum != (uint32_t)hook || e->prio != prio)
			continue;
		if (!e->nft) {
			if (legacy_func(family, e->func))
				legacy = true;
			continue;
		}
		for (size_t j = 0; j < k; j++)
			if (fams[j] == e->chain_family && strcmp(tables[j], e->table) == 0) {
				found++;
				if (!legacy)
					pos++;
				break;
			}
	}
	/* Every table found (a table with two chains here counts twice: don't judge). */
	return legacy && (size_t)found == k ? pos : -1;
}

/* ---- the request ---- */

/* One dump of @family's @hook into @o. */
static int dump_hook(struct mnl_socket *nl, uint32_t seq, uint8_t family, uint32_t hook,
		     struct nfhook_order *o)
{
	char req[128];
	uint32_t buf[8192 / 4];
	struct nlmsghdr *nlh = nlattr_put_nfnl_header(req, NFNL_SUBSYS_HOOK, NFNL_MSG_HOOK_GET,
						      family, NLM_F_DUMP, seq);
	uint32_t portid = mnl_socket_get_portid(nl);

	mnl_attr_put_u32(nlh, NFNLA_HOOK_HOOKNUM, htonl(hook));
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		const struct nlmsghdr *m = (const struct nlmsghdr *)buf;
		size_t left;
		int ret;

		if (n < 0)
			return -errno;
		/* Checks seq and port, turns an NLMSG_ERROR into errno, stops at NLMSG_DONE. */
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL);
		if (ret < 0)
			return -errno;
		for (left = (size_t)n; mnl_nlmsg_ok(m, (int)left); m = mnl_nlmsg_next(m, (int *)&left)) {
			struct nfhook_entry e;

			if (nfhook_decode(m, &e) == 0 && nfhook_order_add(o, &e) < 0)
				return -ENOMEM;
		}
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

int nfhook_order_load(struct nfhook_order *o)
{
	static const uint8_t fams[] = { NFPROTO_IPV4, NFPROTO_IPV6 };
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	uint32_t seq = (uint32_t)time(NULL);
	int ret = 0;

	nfhook_order_clear(o);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	for (size_t f = 0; f < sizeof(fams) && ret == 0; f++)
		for (uint32_t h = NF_INET_PRE_ROUTING; h <= NF_INET_POST_ROUTING && ret == 0; h++)
			ret = dump_hook(nl, ++seq, fams[f], h, o);
	/*
	 * nfnetlink answers a subsystem it doesn't have (CONFIG_NETFILTER_NETLINK_HOOK unset)
	 * with EINVAL, after trying to load its module; EOPNOTSUPP is what the subsystem
	 * itself says to a request that is not a dump.
	 */
	if (ret == -EINVAL || ret == -EOPNOTSUPP)
		ret = -EOPNOTSUPP;
	if (ret < 0)
		nfhook_order_clear(o);
out:
	mnl_socket_close(nl);
	return ret;
}

/* ---- events ---- */

static const struct nlattr_policy chain_ev_policy[NFTA_CHAIN_MAX + 1] = {
	[NFTA_CHAIN_HOOK]	= { .type = MNL_TYPE_NESTED },
};

bool nfhook_event_moves(const struct nlmsghdr *nlh)
{
	const struct nlattr *tb[NFTA_CHAIN_MAX + 1] = { NULL };
	uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);

	if (nlh->nlmsg_type < NLMSG_MIN_TYPE ||
	    NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    (nlh->nlmsg_flags & NLM_F_MULTI))
		return false;
	if (type == NFT_MSG_NEWTABLE || type == NFT_MSG_DELTABLE)
		return true;
	if (type != NFT_MSG_NEWCHAIN && type != NFT_MSG_DELCHAIN)
		return false;
	return nlattr_parse(nlh, sizeof(struct nfgenmsg), chain_ev_policy, NFTA_CHAIN_MAX, tb) == 0 &&
	       tb[NFTA_CHAIN_HOOK];
}
