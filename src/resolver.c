/* SPDX-License-Identifier: GPL-2.0-or-later */
/* resolver.c: legacy trace steps → rule text and verdict, bounded by barriers in our own queue */

/*
 * Why this shape (resolver.h has the summary):
 *
 * Time is no bound. A record's receive time says nothing of when the kernel queued it: the
 * loop may be late by any amount. Order is. With the default loginfo nfnetlink_log's
 * effective qthreshold is 1, so ipt_do_table() -> trace_packet() -> nfulnl_log_packet()
 * queues each record on our socket before the rule's target runs. xt_replace_table() swaps
 * table->private and returns only when no CPU still runs the old rules (the caller frees
 * them next), and __do_replace() holds the xt mutex for all of it, the mutex GET_ENTRIES
 * (get_entries() -> xt_find_table_lock()) takes too. So when a GET_ENTRIES returns version
 * F, every record made by an older version is already in our queue. The reader puts a
 * barrier message into that queue right before (position 2k) and right after (2k+1) the
 * reads of round k (a second NETLINK_NETFILTER socket may unicast to our unconnected
 * socket's port id with CAP_NET_ADMIN: netlink_sendmsg()/netlink_allowed()). A record
 * after barrier 2k+1 and before 2k+2 was made by a version in force between the reads of
 * rounds k and k+1; one between 2k and 2k+1, by one in force between rounds k-1 and k+1.
 *
 * Versions between two rounds that no round read (A -> B -> A): the reader polls GET_INFO
 * (7 us) every 10 ms; an interval whose polls saw more changes than its two ends explain
 * (any change when both ends are one version, more than one when they differ) may hold an
 * unread version, and its steps get no rule. What remains: two rewrites that keep the
 * table's size, or a rewrite and its undo within 10 ms, between two rounds.
 *
 * Reading: GET_ENTRIES of 80,008 kube-proxy rules is a 46 MiB blob and ~80 ms of kernel
 * time, parsing it 25 ms (measured). That runs in the reader, a child process, so receiving
 * and grouping never wait for it, and the blob is parsed as the kernel writes it (ufeed
 * below) so that only ~1 MiB of it is ever resident. A version keeps 16 bytes a rule
 * (xtblob.h), shared between rounds that read the same fingerprint; evidence and texts only
 * for chains records named; at most MAX_VERSIONS versions a table.
 *
 * When to read: a record asks for a round (its upper barrier); such rounds take at most a
 * tenth of the time. A change the polls saw is read after one round's cost, so that each
 * version is read while it is in force (else the records around it get no rule).
 *
 * Texts: iptables-legacy-save run between two rounds; its lines belong to the version both
 * rounds read when they read the same one with no change polled in between, and each line's
 * target must be that rule's. Only lines of chains records named are kept.
 */
/* net/if.h (through record.h) before the uapi headers, which then skip their copy of it. */
#include "iptrace/resolver.h"
#include "iptrace/array.h"
#include "iptrace/loop.h"
#include "iptrace/marker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <pthread.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <linux/netlink.h>
#include <linux/userfaultfd.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include "iptrace/privs.h"

#define MAX_TABLES	16
#define HIST		256	/* rounds remembered per table */
#define MAX_VERSIONS	6	/* distinct versions held per table (~5 MiB each at 80k rules) */
#define SAVE_TRIES	3

/* --- the reader --------------------------------------------------------------------------- */

struct rver {
	struct xtversion	*x;
	uint64_t		fp;
	uint32_t		wanted_gen;	/* the wanted chains it kept evidence for */
	int			refs;
};

struct rslot {
	struct rver	*v;		/* NULL: the read failed */
	bool		simple;		/* no unread version between the last round and this */
};

struct rtext {
	uint64_t	id;
	char		*text;		/* NULL: empty slot */
};

struct rtab {
	int		family;
	char		name[TRACE_NAME_MAX];
	int32_t		first;		/* first round that read it, -1 none yet */
	int32_t		oldest;		/* rounds before it are forgotten */
	uint32_t	nver;		/* distinct versions in hist[] */
	struct rslot	hist[HIST];
	uint64_t	sig;		/* the last GET_INFO seen */
	bool		has_sig;
	uint32_t	changes;	/* GET_INFO changes polled since the last round */
	char		**wanted;	/* sorted chain names records named */
	size_t		nwanted, capwanted;
	uint32_t	wanted_gen;
	struct rtext	*texts;		/* open addressing by identity */
	size_t		ntexts, captexts;
	int		save_fails;
};

struct resolver_reader {
	struct resolver_source	src;
	struct rtab		tab[MAX_TABLES];
	size_t			ntab;
	int32_t			round;		/* last completed, -1 none */
	struct resolver_stats	st;
};

/* Drop a reference; true when that freed the version. */
static bool ver_put(struct rver *v)
{
	if (v && --v->refs == 0) {
		xtversion_free(v->x);
		free(v);
		return true;
	}
	return false;
}

/*
 * Forget round t->oldest. A table that changes all the time (every round a new version)
 * would otherwise hold HIST versions: the oldest rounds go first, and a record that needs
 * them gets "table not read in time".
 */
static void forget_oldest(struct rtab *t)
{
	struct rslot *s = &t->hist[t->oldest % HIST];

	if (ver_put(s->v))
		t->nver--;
	s->v = NULL;
	t->oldest++;
}

static struct rtab *rtab_find(struct resolver_reader *rd, int family, const char *name)
{
	for (size_t i = 0; i < rd->ntab; i++)
		if (rd->tab[i].family == family && strcmp(rd->tab[i].name, name) == 0)
			return &rd->tab[i];
	return NULL;
}

struct resolver_reader *resolver_reader_new(const struct resolver_source *src)
{
	struct resolver_reader *rd = calloc(1, sizeof(*rd));

	if (!rd)
		return NULL;
	rd->src = *src;
	rd->round = -1;
	return rd;
}

void resolver_reader_free(struct resolver_reader *rd)
{
	if (!rd)
		return;
	for (size_t i = 0; i < rd->ntab; i++) {
		struct rtab *t = &rd->tab[i];

		for (size_t k = 0; k < HIST; k++)
			ver_put(t->hist[k].v);
		for (size_t k = 0; k < t->nwanted; k++)
			free(t->wanted[k]);
		free(t->wanted);
		for (size_t k = 0; k < t->captexts; k++)
			free(t->texts[k].text);
		free(t->texts);
	}
	free(rd);
}

int resolver_reader_watch(struct resolver_reader *rd, int family, const char *table)
{
	struct rtab *t;

	if (rtab_find(rd, family, table))
		return 0;
	if (strlen(table) >= TRACE_NAME_MAX || !*table)
		return -EINVAL;
	if (rd->ntab == MAX_TABLES)
		return -ENOSPC;
	t = &rd->tab[rd->ntab++];
	memset(t, 0, sizeof(*t));
	t->family = family;
	t->first = -1;
	t->oldest = rd->round + 1;
	snprintf(t->name, sizeof(t->name), "%s", table);
	return 0;
}

static long wanted_index(const struct rtab *t, const char *chain)
{
	size_t lo = 0, hi = t->nwanted;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(chain, t->wanted[mid]);

		if (d == 0)
			return (long)mid;
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1 - (long)lo;
}

static bool wanted(void *ctx, const char *chain)
{
	return wanted_index(ctx, chain) >= 0;
}

static int want_chain(struct rtab *t, const char *chain)
{
	long i = wanted_index(t, chain);
	char *s;

	if (i >= 0)
		return 0;
	i = -1 - i;
	if (t->nwanted == t->capwanted) {
		char **p = array_grow(t->wanted, &t->capwanted, sizeof(*p), 16);

		if (!p)
			return -ENOMEM;
		t->wanted = p;
	}
	s = strdup(chain);
	if (!s)
		return -ENOMEM;
	memmove(&t->wanted[i + 1], &t->wanted[i], (t->nwanted - (size_t)i) * sizeof(char *));
	t->wanted[i] = s;
	t->nwanted++;
	t->wanted_gen++;
	return 0;
}

/*
 * Texts are keyed by the rule's identity and its chain: two chains may hold the same rule
 * (two endpoints at one address), and the text names its chain.
 */
static uint64_t text_key(const char *chain, uint64_t id)
{
	uint64_t h = id;

	for (const char *p = chain; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	return h ^ (h >> 31);
}

static const char *text_get(const struct rtab *t, uint64_t id)
{
	if (!t->captexts)
		return NULL;
	for (size_t i = id & (t->captexts - 1);; i = (i + 1) & (t->captexts - 1)) {
		if (!t->texts[i].text)
			return NULL;
		if (t->texts[i].id == id)
			return t->texts[i].text;
	}
}

/* Takes @text. */
static int text_put(struct rtab *t, uint64_t id, char *text)
{
	size_t i;

	if (text_get(t, id)) {
		free(text);
		return 0;
	}
	if ((t->ntexts + 1) * 2 > t->captexts) {
		size_t nc = t->captexts ? t->captexts * 2 : 256;
		struct rtext *n = calloc(nc, sizeof(*n));

		if (!n) {
			free(text);
			return -ENOMEM;
		}
		for (size_t k = 0; k < t->captexts; k++) {
			if (!t->texts[k].text)
				continue;
			for (i = t->texts[k].id & (nc - 1); n[i].text; i = (i + 1) & (nc - 1))
				;
			n[i] = t->texts[k];
		}
		free(t->texts);
		t->texts = n;
		t->captexts = nc;
	}
	for (i = id & (t->captexts - 1); t->texts[i].text; i = (i + 1) & (t->captexts - 1))
		;
	t->texts[i].id = id;
	t->texts[i].text = text;
	t->ntexts++;
	return 0;
}

static uint64_t info_sig(const struct xtblob_info *in)
{
	uint64_t h = (uint64_t)in->num_entries << 32 | in->size;

	for (int i = 0; i < 5; i++)
		h = (h ^ ((uint64_t)in->hook_entry[i] << 32 | in->underflow[i])) *
		    0x9e3779b97f4a7c15ull;
	return h ^ in->valid_hooks;
}

static void note_sig(struct rtab *t, uint64_t sig)
{
	if (t->has_sig && sig != t->sig)
		t->changes++;
	t->sig = sig;
	t->has_sig = true;
}

void resolver_reader_poll(struct resolver_reader *rd)
{
	for (size_t i = 0; i < rd->ntab; i++) {
		struct rtab *t = &rd->tab[i];
		struct xtblob_info in;

		if (rd->src.info(rd->src.ctx, t->family, t->name, &in) == 0)
			note_sig(t, info_sig(&in));
	}
}

/* What a save run's callbacks get: the lines' collector and the reader for the polls. */
struct save_arg {
	void			*run;
	struct resolver_reader	*rd;
};

static void poll_tick(void *arg)
{
	resolver_reader_poll(((struct save_arg *)arg)->rd);
}

/*
 * The version of @t with fingerprint @fp, kept from a round; NULL if none. @x is its new
 * read: when it kept evidence for more chains (chains records named since), it takes the old
 * read's place, for the old rounds too (the rules are the same), and @x is consumed.
 */
static struct rver *ver_find(struct rtab *t, uint64_t fp, struct xtversion **x)
{
	for (size_t k = 0; k < HIST; k++) {
		struct rver *v = t->hist[k].v;

		if (!v || v->fp != fp)
			continue;
		if (v->wanted_gen != t->wanted_gen) {
			xtversion_free(v->x);
			v->x = *x;
			v->wanted_gen = t->wanted_gen;
		} else {
			xtversion_free(*x);
		}
		*x = NULL;
		return v;
	}
	return NULL;
}

int32_t resolver_reader_round(struct resolver_reader *rd)
{
	int32_t k = rd->round + 1;
	struct {
		struct xtversion	*x;
		struct xtblob_info	info;
		int			err;
	} got[MAX_TABLES];

	rd->src.barrier(rd->src.ctx, 2 * k);
	for (size_t i = 0; i < rd->ntab; i++) {
		got[i].x = NULL;
		got[i].err = rd->src.read(rd->src.ctx, rd->tab[i].family, rd->tab[i].name, wanted,
					  &rd->tab[i], &got[i].info, &got[i].x);
	}
	rd->src.barrier(rd->src.ctx, 2 * k + 1);
	for (size_t i = 0; i < rd->ntab; i++) {
		struct rtab *t = &rd->tab[i];
		struct rslot *s = &t->hist[k % HIST];
		const struct rslot *prev = k ? &t->hist[(k - 1) % HIST] : NULL;
		struct xtversion *x = got[i].x;
		struct rver *v = NULL;

		while (t->oldest <= k - HIST)
			forget_oldest(t);	/* slot k's last user */
		if (got[i].err == 0) {
			note_sig(t, info_sig(&got[i].info));
			v = ver_find(t, xtversion_fp(x), &x);
			if (v) {
				v->refs++;
			} else if (!(v = calloc(1, sizeof(*v)))) {
				xtversion_free(x);
			} else {
				while (t->nver >= MAX_VERSIONS && t->oldest < k)
					forget_oldest(t);
				v->x = x;
				v->fp = xtversion_fp(x);
				v->wanted_gen = t->wanted_gen;
				v->refs = 1;
				t->nver++;
				rd->st.versions++;
			}
		}
		memset(s, 0, sizeof(*s));
		s->v = v;
		/* One version at both ends: no change may have been polled; two: one change. */
		s->simple = v && prev && prev->v && t->first >= 0 && t->first < k &&
			    t->changes <= (prev->v->fp == v->fp ? 0u : 1u);
		t->changes = 0;
		/* After SAVE_TRIES failed saves, texts wait for another version to try again. */
		if (v && prev && prev->v && prev->v->fp != v->fp)
			t->save_fails = 0;
		if (v && t->first < 0)
			t->first = t->oldest = k;
	}
	rd->round = k;
	rd->st.rounds++;
	return k;
}

/* Fill @a as "no rule, for @reason". */
static int unresolved(struct resolver_reader *rd, struct resolver_answer *a, const char *reason)
{
	a->has_rule = false;
	snprintf(a->reason, sizeof(a->reason), "%s", reason);
	rd->st.unresolved++;
	return 1;
}

int resolver_reader_answer(struct resolver_reader *rd, const struct resolver_query *q,
			   struct resolver_answer *a, bool *need_round, bool *need_save)
{
	const struct xt_rule *pick = NULL;
	const struct rver *pv = NULL;
	const struct xt_chain *c;
	struct rtab *t;
	int32_t k, lo, hi;
	bool cont;

	*need_round = *need_save = false;
	memset(a, 0, offsetof(struct resolver_answer, rule));
	a->rule[0] = '\0';
	a->id = q->id;
	t = rtab_find(rd, q->family, q->table);
	if (!t) {
		/* A table made after the start: followed from the next round on. */
		resolver_reader_watch(rd, q->family, q->table);
		return unresolved(rd, a, RESOLVER_REASON_START);
	}
	if (want_chain(t, q->chain) < 0)
		return -ENOMEM;
	if (q->lo < 0)
		return unresolved(rd, a, RESOLVER_REASON_START);
	k = q->lo / 2;
	lo = q->lo % 2 ? k : k - 1;
	hi = k + 1;
	if (rd->round < hi) {
		*need_round = true;
		return 0;
	}
	if (lo < 0 || t->first < 0 || lo < t->first)
		return unresolved(rd, a, RESOLVER_REASON_START);
	if (lo < t->oldest)
		return unresolved(rd, a, RESOLVER_REASON_LATE);
	for (int32_t i = lo; i <= hi; i++) {
		const struct rslot *s = &t->hist[i % HIST];

		if (!s->v)
			return unresolved(rd, a, RESOLVER_REASON_UNREAD);
		if (i > lo && !s->simple)
			return unresolved(rd, a, RESOLVER_REASON_UNSEEN);
	}
	for (int32_t i = lo; i <= hi; i++) {
		const struct rver *v = t->hist[i % HIST].v;
		const struct xt_evidence *ev;
		const struct xt_rule *r;
		const char *jump;

		if (i > lo && v == t->hist[(i - 1) % HIST].v)
			continue;
		r = xtversion_step(v->x, q->chain, (enum trace_kind)q->kind, q->rulenum, &ev);
		if (!r)
			continue;	/* this version cannot have made the record */
		if (q->pkt.family && !xtstep_fits(ev, &q->pkt))
			continue;	/* its rule there cannot match the packet */
		jump = xtversion_jump_chain(v->x, r);
		if (q->has_next && jump && strcmp(jump, q->next) != 0)
			continue;	/* the packet went on elsewhere */
		if (pick && pick->id != r->id)
			return unresolved(rd, a, RESOLVER_REASON_CHANGED);
		pick = r;
		pv = v;
	}
	if (!pick)
		return unresolved(rd, a, RESOLVER_REASON_NOFIT);
	xtversion_verdict(pv->x, pick, a->verdict, sizeof(a->verdict), &cont);
	a->cont = cont;
	c = xtversion_chain(pv->x, q->chain);
	if (q->rulenum == c->n + 1) {
		if (c->hook < 0) {
			snprintf(a->verdict, sizeof(a->verdict), "return");
			snprintf(a->reason, sizeof(a->reason), "%s", RESOLVER_REASON_RETURN);
			return 1;
		}
		snprintf(a->rule, sizeof(a->rule), "-P %s %s", c->name, a->verdict);
		a->has_rule = true;
		return 1;
	}
	{
		const char *text = text_get(t, text_key(q->chain, pick->id));

		if (!text) {
			if (t->save_fails >= SAVE_TRIES)
				return unresolved(rd, a, RESOLVER_REASON_NOTEXT);
			*need_save = true;
			return 0;
		}
		snprintf(a->rule, sizeof(a->rule), "%s", text);
		a->has_rule = true;
	}
	return 1;
}

/* The line's target is the rule's: a misaligned save line is caught here. */
static bool target_agrees(const struct xtversion *x, const struct xt_rule *r, const char *line)
{
	char want[TRACE_NAME_MAX + 8];
	size_t ll = strlen(line), wl;
	bool cont;

	switch (r->kind) {
	case XTV_JUMP:
	case XTV_GOTO:
		snprintf(want, sizeof(want), " -%c %s", r->kind == XTV_JUMP ? 'j' : 'g',
			 xtversion_jump_chain(x, r));
		break;
	case XTV_STANDARD:
		snprintf(want, sizeof(want), " -j ");
		xtversion_verdict(x, r, want + 4, sizeof(want) - 4, &cont);
		break;
	case XTV_EXTENSION:
		snprintf(want, sizeof(want), " -j %s", xtversion_target_name(x, r->target));
		for (const char *p = strstr(line, want); p; p = strstr(p + 1, want))
			if (p[strlen(want)] == ' ' || p[strlen(want)] == '\0')
				return true;
		return false;
	default:
		return true;
	}
	wl = strlen(want);
	return ll >= wl && strcmp(line + ll - wl, want) == 0;
}

/* A save run's lines of wanted chains, checked against the version read before it. */
struct save_run {
	struct rtab		*t;
	const struct rver	*v;
	uint32_t		*count;		/* per wanted chain */
	struct {
		uint64_t	key;
		char		*line;
	}			*got;
	size_t			ngot, cap;
};

static int save_line(void *arg, char *line)
{
	struct save_run *sr = ((struct save_arg *)arg)->run;
	char chain[TRACE_NAME_MAX], *sp, *copy;
	const struct xt_chain *c;
	const struct xt_rule *r;
	long w;

	if (strncmp(line, "-A ", 3) != 0)
		return 0;
	sp = strchr(line + 3, ' ');
	if (!sp || sp - (line + 3) >= TRACE_NAME_MAX)
		return 0;
	memcpy(chain, line + 3, (size_t)(sp - (line + 3)));
	chain[sp - (line + 3)] = '\0';
	w = wanted_index(sr->t, chain);
	if (w < 0)
		return 0;	/* only chains records named are kept */
	c = xtversion_chain(sr->v->x, chain);
	if (!c || ++sr->count[w] > c->n)
		return -EAGAIN;
	r = &c->rules[sr->count[w] - 1];
	if (!target_agrees(sr->v->x, r, line))
		return -EAGAIN;	/* another version's line */
	if (sr->ngot == sr->cap) {
		void *p = array_grow(sr->got, &sr->cap, sizeof(*sr->got), 64);

		if (!p)
			return -ENOMEM;
		sr->got = p;
	}
	copy = strdup(line);
	if (!copy)
		return -ENOMEM;
	sr->got[sr->ngot].key = text_key(chain, r->id);
	sr->got[sr->ngot++].line = copy;
	return 0;
}

int resolver_reader_save(struct resolver_reader *rd, int family, const char *table)
{
	struct rtab *t = rtab_find(rd, family, table);
	struct save_run sr = { .t = t };
	int32_t k1, k2;
	int ret;

	if (!t)
		return -ENOENT;
	k1 = resolver_reader_round(rd);
	sr.v = t->hist[k1 % HIST].v;
	sr.count = calloc(t->nwanted ? t->nwanted : 1, sizeof(*sr.count));
	ret = -ENOMEM;
	if (!sr.count)
		goto fail;
	ret = -EAGAIN;
	if (!sr.v)
		goto fail;
	ret = rd->src.save(rd->src.ctx, family, table, save_line, poll_tick, &(struct save_arg){
			   &sr, rd });
	rd->st.saves++;
	k2 = resolver_reader_round(rd);
	if (ret < 0)
		goto fail;
	ret = -EAGAIN;
	/* The same version at both ends, and no change polled in between. */
	if (!t->hist[k2 % HIST].v || t->hist[k2 % HIST].v->fp != sr.v->fp ||
	    !t->hist[k2 % HIST].simple)
		goto fail;
	for (size_t w = 0; w < t->nwanted; w++) {
		const struct xt_chain *c = xtversion_chain(sr.v->x, t->wanted[w]);

		if (c && sr.count[w] != c->n)
			goto fail;
	}
	for (size_t i = 0; i < sr.ngot; i++) {
		ret = text_put(t, sr.got[i].key, sr.got[i].line);
		sr.got[i].line = NULL;
		if (ret < 0)
			goto fail;
	}
	t->save_fails = 0;
	rd->st.saves_aligned++;
	free(sr.got);
	free(sr.count);
	return 0;
fail:
	t->save_fails++;
	for (size_t i = 0; i < sr.ngot; i++)
		free(sr.got[i].line);
	free(sr.got);
	free(sr.count);
	return ret;
}

void resolver_reader_stats(const struct resolver_reader *rd, struct resolver_stats *st)
{
	*st = rd->st;
}

/* --- the live source (in the reader process) --------------------------------------------- */

struct live {
	int		uffd;		/* userfaultfd, made while we may (-1: none) */
	int		raw[2];		/* AF_INET, AF_INET6 raw sockets, -1 until needed */
	int		nl;		/* NETLINK_NETFILTER, for the barriers */
	uint32_t	portid;		/* our NFLOG socket */
};

static int live_raw(struct live *lv, int family)
{
	int v6 = family == AF_INET6;

	if (lv->raw[v6] < 0) {
		lv->raw[v6] = socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
		if (lv->raw[v6] < 0)
			return -errno;
	}
	return lv->raw[v6];
}

static int live_info(void *ctx, int family, const char *table, struct xtblob_info *out)
{
	int fd = live_raw(ctx, family);

	return fd < 0 ? fd : legacy_table_info(fd, family, table, out);
}

/*
 * Streaming GET_ENTRIES: the kernel copies the blob entry after entry into our buffer
 * (copy_entries_to_user()), so the buffer is registered with userfaultfd and a thread of
 * ours maps the pages the kernel is about to write, a megabyte at a time. By then every
 * entry that ends 64 KiB (the largest entry) before them is whole: the thread parses those
 * and drops their pages. An 80k-rule table is then ~1 MiB of buffer instead of 46 MiB. The
 * thread must not touch the tables itself: the kernel holds the xt mutex while it waits.
 * Where userfaultfd is not allowed, the whole blob is read and parsed after.
 */
#define UFEED_CHUNK	(1u << 20)

struct ufeed {
	int			uffd, stop;	/* stop: a pipe's read end */
	uintptr_t		base, end;	/* the mapping */
	const unsigned char	*entries;
	struct xtparse		*p;
	uintptr_t		dropped;	/* pages below it are given back */
	size_t			page;
};

static void *ufeed_run(void *arg)
{
	struct ufeed *u = arg;

	for (;;) {
		struct pollfd pf[2] = { { .fd = u->uffd, .events = POLLIN },
					{ .fd = u->stop, .events = POLLIN } };
		struct uffd_msg m;
		uintptr_t a, keep;

		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			return NULL;
		if (pf[1].revents)
			return NULL;
		if (!(pf[0].revents & POLLIN) || read(u->uffd, &m, sizeof(m)) != sizeof(m) ||
		    m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		a = (uintptr_t)m.arg.pagefault.address & ~(uintptr_t)(u->page - 1);
		if (a > (uintptr_t)u->entries + 65536)
			xtparse_feed(u->p, u->entries, a - (uintptr_t)u->entries - 65536);
		keep = ((uintptr_t)u->entries + xtparse_done(u->p)) & ~(uintptr_t)(u->page - 1);
		if (keep > u->dropped) {
			madvise((void *)u->dropped, keep - u->dropped, MADV_DONTNEED);
			u->dropped = keep;
		}
		{
			/*
			 * A megabyte of zero pages at a time: the kernel's writes then take
			 * ordinary copy-on-write faults, and we hear from it once a megabyte.
			 */
			size_t len = u->end - a < UFEED_CHUNK ? u->end - a : UFEED_CHUNK;
			struct uffdio_zeropage z = { .range = { a, len }, .mode = 0 };

			ioctl(u->uffd, UFFDIO_ZEROPAGE, &z);	/* EEXIST: mapped meanwhile */
		}
	}
}

/* Register @map's pages with @uffd and start the feeding thread; 0 or -errno. */
static int ufeed_start(struct ufeed *u, int uffd, pthread_t *th, void *map, size_t len,
		       int stopfd[2])
{
	struct uffdio_register reg = { .range = { (uintptr_t)map, len },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };

	if (uffd < 0)
		return -EPERM;
	u->uffd = uffd;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0 || pipe2(stopfd, O_CLOEXEC) < 0)
		return -errno;	/* munmap() unregisters */
	u->stop = stopfd[0];
	u->base = u->dropped = (uintptr_t)map;
	u->end = (uintptr_t)map + len;
	if (pthread_create(th, NULL, ufeed_run, u) != 0) {
		close(stopfd[0]);
		close(stopfd[1]);
		return -EAGAIN;
	}
	return 0;
}

static void ufeed_stop(struct ufeed *u, pthread_t th, int stopfd[2])
{
	char b = 0;

	while (write(stopfd[1], &b, 1) < 0 && errno == EINTR)
		;
	pthread_join(th, NULL);
	close(stopfd[0]);
	close(stopfd[1]);
}

static int live_read(void *ctx, int family, const char *table,
		     bool (*want)(void *wctx, const char *chain), void *wctx,
		     struct xtblob_info *info, struct xtversion **out)
{
	int v6 = family == AF_INET6, fd = live_raw(ctx, family);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (fd < 0)
		return fd;
	for (int tries = 0; tries < 3; tries++) {
		struct ipt_get_entries *ge;
		struct ufeed u = { .page = page };
		struct xtparse *p;
		pthread_t th;
		int stopfd[2];
		bool streamed;
		size_t need;
		socklen_t sl;
		int ret = live_info(ctx, family, table, info);

		if (ret < 0)
			return ret;
		need = (sizeof(*ge) + info->size + page - 1) & ~(page - 1);
		/*
		 * Fresh zeroed pages: xt_{match,target}_to_user copy names only up to their
		 * NUL, and identities hash whole entries.
		 */
		ge = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (ge == MAP_FAILED)
			return -ENOMEM;
		snprintf(ge->name, sizeof(ge->name), "%s", table);
		ge->size = info->size;
		p = xtparse_new(info, want, wctx);
		if (!p) {
			munmap(ge, need);
			return -ENOMEM;
		}
		u.entries = (const unsigned char *)ge->entrytable;
		u.p = p;
		/* The header page is ours already; the rest the kernel faults in. */
		streamed = UFEED_CHUNK % page == 0 && need > page &&
			   ufeed_start(&u, ((struct live *)ctx)->uffd, &th, (char *)ge + page,
					need - page, stopfd) == 0;
		if (streamed)
			u.dropped = (uintptr_t)ge + page;
		sl = (socklen_t)(sizeof(*ge) + info->size);
		ret = getsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP,
				 v6 ? IP6T_SO_GET_ENTRIES : IPT_SO_GET_ENTRIES, ge, &sl) < 0 ?
		      -errno : 0;
		if (streamed)
			ufeed_stop(&u, th, stopfd);
		if (ret == 0)
			xtparse_feed(p, ge->entrytable, info->size);
		munmap(ge, need);
		if (ret < 0) {
			xtparse_free(p);
			if (ret == -EAGAIN)	/* replaced between the two calls */
				continue;
			return ret;
		}
		return xtparse_end(p, out);
	}
	return -EAGAIN;
}

static void live_barrier(void *ctx, int32_t pos)
{
	struct live *lv = ctx;
	struct {
		struct nlmsghdr	h;
		int32_t		pos;
	} m = { { sizeof(m), RESOLVER_BARRIER_TYPE, 0, 0, 0 }, pos };
	struct sockaddr_nl to = { .nl_family = AF_NETLINK, .nl_pid = lv->portid };

	/* Blocking: a barrier is never dropped; the loop drains the socket meanwhile. */
	while (sendto(lv->nl, &m, sizeof(m), 0, (struct sockaddr *)&to, sizeof(to)) < 0 &&
	       errno == EINTR)
		;
}

extern char **environ;

/*
 * The save program, fixed argv (no shell), in this network namespace; its output handed
 * over line by line as it comes (80k rules are 11 MiB of text: none of it is kept here),
 * with @tick called every 10 ms meanwhile so the GET_INFO polls go on.
 */
static int live_save(void *ctx, int family, const char *table,
		     int (*line)(void *arg, char *line), void (*tick)(void *arg), void *arg)
{
	char prog[32], tbl[TRACE_NAME_MAX];
	char *argv[] = { prog, (char *)"-t", tbl, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int pfd[2], status, ret, lret = 0;
	size_t len = 0, cap = 65536;
	char *buf;
	pid_t pid;

	(void)ctx;
	if (!*table || strspn(table, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(table))
		return -EINVAL;
	snprintf(prog, sizeof(prog), "%s", family == AF_INET6 ? "ip6tables-legacy-save" :
					    "iptables-legacy-save");
	snprintf(tbl, sizeof(tbl), "%s", table);
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		free(buf);
		return -errno;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	ret = posix_spawnp(&pid, prog, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pfd[1]);
	if (ret) {
		close(pfd[0]);
		free(buf);
		return -ret;
	}
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		char *nl, *start;
		ssize_t n;

		if (poll(&p, 1, 10) == 0) {
			tick(arg);
			continue;
		}
		if (len == cap) {	/* a line longer than the buffer: no rule is */
			ret = -EINVAL;
			break;
		}
		n = read(pfd[0], buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = -errno;
		if (n <= 0)
			break;
		len += (size_t)n;
		for (start = buf; !lret && (nl = memchr(start, '\n', len - (size_t)(start - buf)));
		     start = nl + 1) {
			*nl = '\0';
			lret = line(arg, start);
		}
		len -= (size_t)(start - buf);
		memmove(buf, start, len);
		if (lret)
			break;	/* the rest is not wanted: the program ends on SIGPIPE */
	}
	close(pfd[0]);
	free(buf);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			status = -1;
			break;
		}
	if (lret)
		return lret;
	if (!ret && (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0))
		ret = -EIO;
	return ret;
}

/* --- the reader process ----------------------------------------------------------------- */

enum { MSG_KICK = 1, MSG_QUERY, MSG_READY };

struct msg_query {
	uint8_t			type;
	struct resolver_query	q;
};

/* The tables that exist now, from /proc: opening a missing one would create it. */
struct watch_ctx {
	struct resolver_reader	*rd;
	int			family;
};

static void watch_table(void *ctx, const char *name)
{
	struct watch_ctx *w = ctx;

	resolver_reader_watch(w->rd, w->family, name);
}

/* Follow the legacy tables that exist now (legacy_tables(): never by opening one). */
static void watch_existing(struct resolver_reader *rd, int family)
{
	struct watch_ctx w = { rd, family };

	legacy_tables(family, watch_table, &w);
}

static void send_answer(int sock, const struct resolver_answer *a)
{
	size_t len = offsetof(struct resolver_answer, rule) + strlen(a->rule) + 1;

	while (send(sock, a, len, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

static uint64_t mono_ns(void)
{
	return loop_clock_ns(CLOCK_MONOTONIC);
}

#define POLL_NS		10000000ull	/* GET_INFO polls */
#define ROUND_IDLE	9		/* times a round's cost between two rounds asked for */
#define MAX_PENDING	65536

/*
 * The reader's loop: rounds when asked (a record arrived) or when a poll saw a change (so
 * each version is read while it is in force), at most a third of the time; answers as soon
 * as their rounds and texts are there; a save when an answer waits for a text.
 */
static void reader_loop(int sock, struct resolver_reader *rd, struct resolver_query **pendp);

static void reader_run(int sock, struct resolver_reader *rd)
{
	struct resolver_query *pend = NULL;

	reader_loop(sock, rd, &pend);
	free(pend);
}

static void reader_loop(int sock, struct resolver_reader *rd, struct resolver_query **pendp)
{
	struct resolver_query *pend = NULL;
	size_t npend = 0, cap = 0;
	uint64_t next_poll = 0, last_end = 0, cost = 0;
	bool kicked = false;

	for (;;) {
		struct pollfd p = { .fd = sock, .events = POLLIN };
		uint64_t now = mono_ns();
		bool need_round = false, changed = false;
		int timeout = now >= next_poll ? 0 : (int)((next_poll - now) / 1000000ull) + 1;
		char save_tab[MAX_TABLES] = { 0 };

		if (poll(&p, 1, timeout) < 0 && errno != EINTR)
			return;
		if (p.revents & (POLLHUP | POLLERR))
			return;
		while (p.revents & POLLIN) {
			struct msg_query m;
			ssize_t n = recv(sock, &m, sizeof(m), MSG_DONTWAIT);

			if (n == 0)
				return;
			if (n < 0)
				break;
			if (m.type == MSG_KICK) {
				kicked = true;
			} else if (m.type == MSG_QUERY && (size_t)n == sizeof(m) && npend < MAX_PENDING) {
				if (npend == cap) {
					void *q = array_grow(pend, &cap, sizeof(*pend), 64);

					if (!q)
						continue;
					pend = *pendp = q;
				}
				pend[npend++] = m.q;
			}
		}
		now = mono_ns();
		if (now >= next_poll) {
			resolver_reader_poll(rd);
			next_poll = now + POLL_NS;
		}
		for (size_t i = 0; i < rd->ntab; i++)
			if (rd->tab[i].changes)
				changed = true;
		for (size_t i = 0; i < npend;) {
			struct resolver_answer a;
			bool nr, ns;
			int ret = resolver_reader_answer(rd, &pend[i], &a, &nr, &ns);

			if (ret != 0) {
				if (ret < 0) {
					memset(&a, 0, sizeof(a));
					a.id = pend[i].id;
					snprintf(a.reason, sizeof(a.reason), "%s",
						 RESOLVER_REASON_UNREAD);
				}
				send_answer(sock, &a);
				pend[i] = pend[--npend];
				continue;
			}
			need_round |= nr;
			if (ns) {
				struct rtab *t = rtab_find(rd, pend[i].family, pend[i].table);

				if (t)
					save_tab[t - rd->tab] = 1;
			}
			i++;
		}
		/*
		 * Records wait for the round after them: those rounds take at most a tenth of
		 * the time (an 80k-rule round is ~120 ms: one a 1.2 s; 16k rules: one a 250
		 * ms), and that is about how long a packet waits. A change the polls saw is
		 * read after one round's cost: each version should be read while in force, or
		 * the records around it have no rule; what that costs is bounded by how often
		 * the writer writes, and by half the time.
		 */
		{
			uint64_t due = changed ? last_end + cost : last_end + ROUND_IDLE * cost;

			if ((kicked || need_round || changed) && now >= due) {
				uint64_t t0 = mono_ns();

				resolver_reader_round(rd);
				last_end = mono_ns();
				cost = last_end - t0;
				kicked = false;
				next_poll = 0;	/* answer what the round made possible */
				continue;
			}
			for (size_t i = 0; i < rd->ntab; i++)
				if (save_tab[i])
					resolver_reader_save(rd, rd->tab[i].family, rd->tab[i].name);
			if ((kicked || need_round || changed) && due > now && due < next_poll)
				next_poll = due;
		}
	}
}

/* --- the client (iptrace's process) -------------------------------------------------- */

struct resolver {
	struct resolver_cfg	cfg;
	pid_t			pid;
	int			sock;
	int32_t			pos;		/* last barrier seen */
	bool			kicked;
};

/* The reader's process: nothing of ours but its socket, gone when we go. */
static void reader_child(int sock, uint32_t portid, pid_t parent)
{
	struct live lv = { -1, { -1, -1 }, -1, portid };
	struct resolver_source src = {
		.info = live_info, .read = live_read, .save = live_save,
		.barrier = live_barrier, .ctx = &lv,
	};
	struct resolver_reader *rd;
	struct sockaddr_nl me = { .nl_family = AF_NETLINK };
	uint8_t ready = MSG_READY;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	/* Not our NFLOG socket (its group binding would outlive iptrace), nor the rules' fds. */
	for (int fd = 3; fd < 1024; fd++)
		if (fd != sock)
			close(fd);
	prctl(PR_SET_NAME, "iptrace-tables");
	lv.nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (lv.nl < 0 || bind(lv.nl, (struct sockaddr *)&me, sizeof(me)) < 0)
		_exit(1);
	/*
	 * Before the capabilities go: handling the kernel's own faults (GET_ENTRIES' copy)
	 * needs CAP_SYS_PTRACE at creation where vm.unprivileged_userfaultfd is 0.
	 */
	lv.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (lv.uffd >= 0) {
		struct uffdio_api api = { .api = UFFD_API, .features = 0 };

		if (ioctl(lv.uffd, UFFDIO_API, &api) < 0) {
			close(lv.uffd);
			lv.uffd = -1;
		}
	}
	privs_keep_net();
	rd = resolver_reader_new(&src);
	if (!rd)
		_exit(1);
	watch_existing(rd, AF_INET);
	watch_existing(rd, AF_INET6);
	resolver_reader_poll(rd);
	resolver_reader_round(rd);
	/* Barriers 0 and 1 are queued: from here on every record has a lower bound. */
	if (send(sock, &ready, 1, MSG_NOSIGNAL) < 0)
		_exit(1);
	reader_run(sock, rd);
	resolver_reader_free(rd);
	_exit(0);
}

struct resolver *resolver_new(const struct resolver_cfg *cfg)
{
	struct resolver *r = calloc(1, sizeof(*r));
	int sv[2], size = 4 << 20, e;
	struct pollfd p;
	uint8_t b;

	if (!r)
		return NULL;
	r->cfg = *cfg;
	r->pos = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		goto err;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	r->pid = fork();
	if (r->pid < 0) {
		close(sv[0]);
		close(sv[1]);
		goto err;
	}
	if (r->pid == 0) {
		uint32_t portid = cfg->nflog_portid;

		close(sv[0]);
		free(r);	/* the parent's */
		reader_child(sv[1], portid, getppid());
	}
	close(sv[1]);
	r->sock = sv[0];
	/* Its first round: bounded, so a stuck kernel read cannot hang the start. */
	p = (struct pollfd){ .fd = r->sock, .events = POLLIN };
	if (poll(&p, 1, 10000) != 1 || recv(r->sock, &b, 1, 0) != 1 || b != MSG_READY) {
		errno = EIO;
		goto err_kill;
	}
	fcntl(r->sock, F_SETFL, O_NONBLOCK);
	return r;
err_kill:
	e = errno;
	resolver_free(r);
	errno = e;
	return NULL;
err:
	e = errno;
	free(r);
	errno = e;
	return NULL;
}

void resolver_free(struct resolver *r)
{
	if (!r)
		return;
	if (r->sock > 0)
		close(r->sock);	/* the reader's EOF: it ends */
	if (r->pid > 0) {
		struct timespec ts = { 0, 10000000 };

		for (int i = 0; i < 100 && waitpid(r->pid, NULL, WNOHANG) == 0; i++)
			nanosleep(&ts, NULL);
		if (waitpid(r->pid, NULL, WNOHANG) == 0) {
			kill(r->pid, SIGKILL);
			waitpid(r->pid, NULL, 0);
		}
	}
	free(r);
}

int resolver_fd(const struct resolver *r)
{
	return r->sock;
}

void resolver_barrier(struct resolver *r, const struct nlmsghdr *nlh)
{
	int32_t pos;

	if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(pos))
		return;
	memcpy(&pos, NLMSG_DATA(nlh), sizeof(pos));
	if (pos > r->pos)
		r->pos = pos;
	if (pos % 2 == 0)
		r->kicked = false;	/* a round started after the records before it */
}

void resolver_observe(struct resolver *r, struct trace_record *rec)
{
	uint8_t kick = MSG_KICK;

	if (rec->backend != TRACE_BACKEND_LEGACY)
		return;
	rec->barrier = r->pos;
	/* Its upper bound is the next barrier: make sure a round comes. */
	if (!r->kicked && send(r->sock, &kick, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
		r->kicked = true;
}

static int rec_family(const struct trace_record *rec)
{
	if (rec->nfproto == NFPROTO_IPV6 || (!rec->nfproto && rec->pkt.family == AF_INET6))
		return AF_INET6;
	return AF_INET;
}

void resolver_ask(struct resolver *r, struct hold *h, uint32_t id, size_t n)
{
	struct trace_record *steps = hold_step(h, id);	/* the packet's n steps, in a row */

	for (size_t i = 0; steps && i < n; i++) {
		struct trace_record *s = &steps[i];
		const struct trace_record *nx = i + 1 < n ? &steps[i + 1] : NULL;
		struct msg_query m;

		if (s->backend != TRACE_BACKEND_LEGACY)
			continue;
		s->rule = s->verdict = NULL;
		s->rule_reason = NULL;
		s->verdict_continues = false;
		memset(&m, 0, sizeof(m));
		m.type = MSG_QUERY;
		m.q.id = id + (uint32_t)i;
		m.q.lo = s->barrier;
		m.q.family = (uint8_t)rec_family(s);
		m.q.kind = (uint8_t)s->kind;
		m.q.rulenum = s->rulenum;
		snprintf(m.q.table, sizeof(m.q.table), "%s", s->table);
		snprintf(m.q.chain, sizeof(m.q.chain), "%s", s->chain);
		/*
		 * The next record of one traversal, nothing lost in between (consecutive NFLOG
		 * numbers): a jump must lead to its chain.
		 */
		if (nx && nx->backend == TRACE_BACKEND_LEGACY && s->has_seq && nx->has_seq &&
		    nx->seq == s->seq + 1 && strcmp(nx->table, s->table) == 0) {
			m.q.has_next = true;
			snprintf(m.q.next, sizeof(m.q.next), "%s", nx->chain);
		}
		m.q.pkt = s->pkt;
		if (send(r->sock, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) != sizeof(m)) {
			/* A full queue is a late answer; a reader that is gone, no reader. */
			s->rule_reason = errno == EAGAIN ? RESOLVER_REASON_LATE :
						RESOLVER_REASON_UNREAD;
			continue;
		}
		hold_expect(h, m.q.id);
	}
}

/* An answer into its held step: the strings live as long as the packet is held. */
static void apply(struct hold *h, struct trace_record *s, const struct resolver_answer *a)
{
	const char *rule = a->has_rule ? hold_keep(h, a->id, a->rule) : NULL;
	const char *verdict = a->verdict[0] ? hold_keep(h, a->id, a->verdict) : NULL;
	const char *reason = a->reason[0] ? hold_keep(h, a->id, a->reason) : NULL;

	s->rule = rule;
	s->verdict = verdict;
	s->rule_reason = reason ? reason : rule ? NULL : RESOLVER_REASON_UNREAD;
	s->verdict_continues = a->cont;
}

void resolver_feed(struct resolver *r, struct hold *h, const void *buf, size_t len)
{
	struct resolver_answer a;
	struct trace_record *s;

	(void)r;
	if (len < offsetof(struct resolver_answer, rule) + 1 || len > sizeof(a))
		return;
	memcpy(&a, buf, len);
	a.rule[len - offsetof(struct resolver_answer, rule) - 1] = '\0';
	a.verdict[sizeof(a.verdict) - 1] = '\0';
	a.reason[sizeof(a.reason) - 1] = '\0';
	s = hold_step(h, a.id);
	if (!s || s->backend != TRACE_BACKEND_LEGACY || s->rule || s->rule_reason || s->verdict)
		return;	/* emitted already (its bound passed) */
	apply(h, s, &a);
	hold_answered(h, a.id);
}

void resolver_late(struct trace_record *recs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct trace_record *s = &recs[i];

		if (s->backend == TRACE_BACKEND_LEGACY && !s->rule && !s->verdict && !s->rule_reason)
			s->rule_reason = RESOLVER_REASON_LATE;
	}
}
