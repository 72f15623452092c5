/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_systemd.c: sd_notify datagrams, the journal stream check, and the journal sink's entries */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <cmocka.h>

#include "iptrace/notify.h"
#include "iptrace/sink.h"
#include "test_step.h"

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/iptrace-systemd.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A datagram socket bound at @path ('@' for abstract). */
static int listener(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	struct timeval tv = { .tv_sec = 2 };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	assert_int_equal(bind(fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
					  (path[0] == '@' ? 0 : 1))), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void test_notify_abstract_and_path(void **state)
{
	char name[128], buf[256];
	ssize_t n;
	int fd;

	(void)state;
	snprintf(name, sizeof(name), "@iptrace-test-%d", (int)getpid());
	fd = listener(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(notify_send("READY=1\nSTATUS=tracing"), 1);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	assert_int_equal(n, 22);
	buf[n] = '\0';
	assert_string_equal(buf, "READY=1\nSTATUS=tracing");
	close(fd);

	snprintf(name, sizeof(name), "%s/notify", tmpdir);
	fd = listener(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(notify_send("READY=1"), 1);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	assert_int_equal(n, 7);
	close(fd);
}

static void test_notify_unset_or_bad(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(notify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(notify_send("READY=1"), -EINVAL);
	setenv("NOTIFY_SOCKET", "/nonexistent/iptrace/notify", 1);
	assert_true(notify_send("READY=1") < 0);
	unsetenv("NOTIFY_SOCKET");
}

static void test_journal_stream(void **state)
{
	char path[128], env[64];
	struct stat st;
	int fd, saved;

	(void)state;
	snprintf(path, sizeof(path), "%s/stream", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	assert_true(notify_stderr_is_journal());
	/* Redirected elsewhere (another inode): no prefixes. */
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", env, 1);
	assert_false(notify_stderr_is_journal());
	unsetenv("JOURNAL_STREAM");
	assert_false(notify_stderr_is_journal());
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
}

/* Journal native protocol, parsed back: fields in order, binary values decoded. */
struct entry {
	size_t	n;
	char	*key[100000];
	char	*val[100000];
};

static void parse_entry(const char *d, size_t len, struct entry *e)
{
	size_t i = 0;

	e->n = 0;
	while (i < len) {
		const char *nl = memchr(d + i, '\n', len - i), *eq;

		assert_non_null(nl);
		eq = memchr(d + i, '=', (size_t)(nl - (d + i)));
		assert_true(e->n < 100000);
		if (eq) {
			e->key[e->n] = strndup(d + i, (size_t)(eq - (d + i)));
			e->val[e->n] = strndup(eq + 1, (size_t)(nl - eq - 1));
			i = (size_t)(nl - d) + 1;
		} else {
			uint64_t vl = 0;
			size_t at = (size_t)(nl - d) + 1;

			assert_true(at + 8 <= len);
			for (int b = 0; b < 8; b++)
				vl |= (uint64_t)(uint8_t)d[at + b] << (8 * b);
			assert_true(at + 8 + vl + 1 <= len);
			assert_int_equal(d[at + 8 + vl], '\n');
			e->key[e->n] = strndup(d + i, (size_t)(nl - (d + i)));
			e->val[e->n] = strndup(d + at + 8, vl);
			i = at + 8 + vl + 1;
		}
		e->n++;
	}
}

static void free_entry(struct entry *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->key[i]);
		free(e->val[i]);
	}
	e->n = 0;
}

static const char *get(const struct entry *e, const char *key)
{
	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->key[i], key) == 0)
			return e->val[i];
	return NULL;
}

static size_t count(const struct entry *e, const char *key)
{
	size_t c = 0;

	for (size_t i = 0; i < e->n; i++)
		c += strcmp(e->key[i], key) == 0;
	return c;
}

/*
 * One entry: a datagram, or (for big ones) a memfd passed with an empty datagram.
 * Returns true when it came as a memfd.
 */
static bool recv_entry(int fd, struct entry *e)
{
	static char buf[1 << 21];
	union {
		struct cmsghdr	h;
		char		b[CMSG_SPACE(sizeof(int))];
	} c;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.b,
			     .msg_controllen = sizeof(c.b) };
	struct cmsghdr *cm;
	ssize_t n = recvmsg(fd, &mh, 0);
	bool memfd;

	assert_true(n >= 0);
	cm = CMSG_FIRSTHDR(&mh);
	memfd = cm && cm->cmsg_type == SCM_RIGHTS;
	if (memfd) {
		int mfd;
		struct stat st;

		assert_int_equal(n, 0);
		memcpy(&mfd, CMSG_DATA(cm), sizeof(int));
		assert_int_equal(fstat(mfd, &st), 0);
		assert_true((size_t)st.st_size <= sizeof(buf));
		n = pread(mfd, buf, (size_t)st.st_size, 0);
		assert_int_equal(n, st.st_size);
		close(mfd);
	}
	parse_entry(buf, (size_t)n, e);
	return memfd;
}

static void mk_step(struct trace_record *r, const char *table, const char *chain,
		    uint32_t num, const char *daddr)
{
	step_rule(r, table, chain, HOOK_PREROUTING);
	r->rulenum = num;
	snprintf(r->in, sizeof(r->in), "eth0");
	r->ts_ns = 1700000000ull * 1000000000ull;
	hdr_v4(&r->pkt, "10.0.1.2", daddr);
	hdr_udp(&r->pkt, 40053, 53);
	r->pkt.len = 42;
	r->pkt.ipid = 4369;
}

/* A journal sink, begun, and the socket of the test's own its entries come to. */
struct journal {
	struct sink	s;
	int		lfd;
};

static struct journal open_journal(void)
{
	char path[128];
	struct journal j = { .s = { .ops = sink_lookup("journal") } };

	assert_non_null(j.s.ops);
	snprintf(path, sizeof(path), "%s/journal-%d", tmpdir, (int)getpid());
	unlink(path);
	j.lfd = listener(path);
	setenv("IPTRACE_JOURNAL_SOCKET", path, 1);
	assert_int_equal(j.s.ops->begin(&j.s), 0);
	return j;
}

/* @p through the sink: its entry into @e; true when it came as a memfd. */
static bool packet_entry(struct journal *j, const struct packet *p, struct entry *e)
{
	assert_int_equal(j->s.ops->packet(&j->s, p), 0);
	return recv_entry(j->lfd, e);
}

/* @r through the sink as a record of its own: its entry into @e. */
static void record_entry(struct journal *j, const struct trace_record *r, struct entry *e)
{
	assert_int_equal(j->s.ops->record(&j->s, r), 0);
	recv_entry(j->lfd, e);
}

/* The sink ended with @sum: its summary entry into @e. */
static void end_entry(struct journal *j, const struct summary *sum, struct entry *e)
{
	assert_int_equal(j->s.ops->end(&j->s, sum), 0);
	recv_entry(j->lfd, e);
}

/* The sink ended with @sum (its summary entry not looked at) and its socket closed. */
static void close_journal(struct journal *j, const struct summary *sum, struct entry *e)
{
	end_entry(j, sum, e);
	free_entry(e);
	close(j->lfd);
}

static void test_journal_packet_fields(void **state)
{
	static struct entry e;
	struct trace_record steps[3];
	struct packet p = { .id = 7, .nsteps = 3, .steps = steps };
	struct summary sum = { .packets = 1, .records = 3, .marker = "legacy" };
	const char *msg;
	struct journal j = open_journal();

	(void)state;
	mk_step(&steps[0], "raw", "PREROUTING", 1, "10.96.0.10");
	mk_step(&steps[1], "nat", "PREROUTING", 1, "10.96.0.10");
	steps[1].rule = "-A PREROUTING -j KUBE-SERVICES";
	steps[1].verdict = "jump KUBE-SERVICES";
	/* DNAT ran before this step: its destination changed. */
	mk_step(&steps[2], "filter", "FORWARD", 2, "10.0.2.7");
	steps[2].rule = "-A FORWARD -p udp -m udp --dport 53 -j ACCEPT";
	steps[2].verdict = "ACCEPT";
	snprintf(steps[2].out, sizeof(steps[2].out), "eth1");
	assert_false(packet_entry(&j, &p, &e));
	assert_string_equal(get(&e, "MESSAGE_ID"), "1226dd637928408c9022206e28a530ee");
	assert_string_equal(get(&e, "SYSLOG_IDENTIFIER"), "iptrace");
	assert_string_equal(get(&e, "PRIORITY"), "6");
	assert_string_equal(get(&e, "PACKET_ID"), "7");
	assert_string_equal(get(&e, "FAMILY"), "ipv4");
	assert_string_equal(get(&e, "PROTO"), "udp");
	assert_string_equal(get(&e, "SRC"), "10.0.1.2");
	assert_string_equal(get(&e, "DST"), "10.96.0.10");
	assert_string_equal(get(&e, "SPORT"), "40053");
	assert_string_equal(get(&e, "DPORT"), "53");
	assert_string_equal(get(&e, "IPID"), "4369");
	assert_string_equal(get(&e, "STEPS"), "3");
	assert_string_equal(get(&e, "VERDICT"), "ACCEPT");
	assert_string_equal(get(&e, "PACKET_TIME"), "2023-11-14T22:13:20.000000Z");
	assert_string_equal(get(&e, "STEP_1_TABLE"), "raw");
	assert_string_equal(get(&e, "STEP_1_RULENUM"), "1");
	assert_null(get(&e, "STEP_1_RULE"));
	assert_string_equal(get(&e, "STEP_2_VERDICT"), "jump KUBE-SERVICES");
	assert_string_equal(get(&e, "STEP_3_CHAIN"), "FORWARD");
	assert_string_equal(get(&e, "STEP_3_OUT"), "eth1");
	assert_string_equal(get(&e, "STEP_3_DST"), "10.0.2.7:53");
	assert_null(get(&e, "STEP_2_DST"));
	assert_null(get(&e, "STEP_3_SRC"));
	/* Distinct values once each: PREROUTING twice in the path, once as a field. */
	assert_int_equal(count(&e, "TABLE"), 3);
	assert_int_equal(count(&e, "CHAIN"), 2);
	assert_int_equal(count(&e, "RULE"), 2);
	msg = get(&e, "MESSAGE");
	assert_non_null(msg);
	assert_true(strncmp(msg, "packet 7 udp 10.0.1.2:40053 \u2192 10.96.0.10:53 id 4369 len 42\n",
			    strlen("packet 7 udp 10.0.1.2:40053 \u2192 10.96.0.10:53 id 4369 len 42\n")) == 0);
	assert_non_null(strstr(msg, "\n  filter FORWARD rule 2 ACCEPT in eth0 out eth1  -A FORWARD"));
	assert_non_null(strstr(msg, "(dst 10.96.0.10:53 \u2192 10.0.2.7:53)"));
	/* MESSAGE is the last field, after every STEP_ one. */
	assert_string_equal(e.key[e.n - 1], "MESSAGE");
	free_entry(&e);

	end_entry(&j, &sum, &e);
	assert_string_equal(get(&e, "MESSAGE_ID"), "3d54f8593de041958ecc77f60ab35d89");
	assert_string_equal(get(&e, "PACKETS"), "1");
	assert_string_equal(get(&e, "RECORDS"), "3");
	assert_string_equal(get(&e, "MARKER"), "legacy");
	assert_string_equal(get(&e, "MESSAGE"), "capture ended: 1 packet, 3 records, 0 lost");
	assert_null(j.s.priv);
	free_entry(&e);
	close(j.lfd);
}

static void test_journal_record(void **state)
{
	static struct entry e;
	struct trace_record r;
	struct summary sum = { 0 };
	struct journal j = open_journal();

	(void)state;
	mk_step(&r, "mangle", "OUTPUT", 3, "10.0.0.1");
	record_entry(&j, &r, &e);
	assert_string_equal(get(&e, "MESSAGE_ID"), "2811253756d941ffad83b44702ae59fe");
	assert_string_equal(get(&e, "TABLE"), "mangle");
	assert_string_equal(get(&e, "CHAIN"), "OUTPUT");
	assert_string_equal(get(&e, "RULENUM"), "3");
	assert_string_equal(get(&e, "DST"), "10.0.0.1");
	assert_null(get(&e, "PACKET_ID"));
	free_entry(&e);
	close_journal(&j, &sum, &e);
}

/*
 * Names a namespace's root chose: the fields keep their exact bytes (the native protocol is
 * binary-safe), MESSAGE shows them escaped, as text output does.
 */
static void test_journal_hostile_names(void **state)
{
	static struct entry e;
	static const char rule[] = "-A CH\033[31mAIN -m comment --comment \"\033]0;pwned\a\xff\"";
	struct trace_record r;
	struct packet p = { .id = 2, .nsteps = 1, .steps = &r };
	struct summary sum = { 0 };
	const char *msg;
	struct journal j = open_journal();

	(void)state;
	mk_step(&r, "filter", "CH\033[31mAIN", 1, "10.0.0.1");
	snprintf(r.in, sizeof(r.in), "v\033[7mX");
	r.rule = rule;
	r.verdict = "DROP";
	packet_entry(&j, &p, &e);
	assert_string_equal(get(&e, "STEP_1_CHAIN"), "CH\033[31mAIN");
	assert_string_equal(get(&e, "STEP_1_IN"), "v\033[7mX");
	assert_string_equal(get(&e, "STEP_1_RULE"), rule);
	assert_string_equal(get(&e, "CHAIN"), "CH\033[31mAIN");
	msg = get(&e, "MESSAGE");
	assert_non_null(msg);
	assert_non_null(strstr(msg, "\n  filter CH\\x1b[31mAIN rule 1 DROP in v\\x1b[7mX  -A "
				    "CH\\x1b[31mAIN -m comment --comment \"\\x1b]0;pwned\\x07\\xff\""));
	for (const char *c = msg; *c; c++)
		assert_true(*c == '\n' || ((unsigned char)*c >= 0x20 && *c != 0x7f));
	free_entry(&e);
	close_journal(&j, &sum, &e);
}

/* The summary entry carries the JSON summary's counters, overruns and unmarked included. */
static void test_journal_summary_counters(void **state)
{
	static struct entry e;
	struct summary sum = {
		.packets = 5, .records = 25, .lost = 2, .dropped = 1, .evicted = 3, .overruns = 4,
		.marker = "nft", .limited = true, .unmarked = 15,
	};
	const char *msg;
	struct journal j = open_journal();

	(void)state;
	end_entry(&j, &sum, &e);
	assert_string_equal(get(&e, "MESSAGE_ID"), "3d54f8593de041958ecc77f60ab35d89");
	assert_string_equal(get(&e, "PACKETS"), "5");
	assert_string_equal(get(&e, "RECORDS"), "25");
	assert_string_equal(get(&e, "LOST"), "2");
	assert_string_equal(get(&e, "DROPPED"), "1");
	assert_string_equal(get(&e, "EVICTED"), "3");
	assert_string_equal(get(&e, "OVERRUNS"), "4");
	assert_string_equal(get(&e, "MARKER"), "nft");
	assert_string_equal(get(&e, "UNMARKED"), "15");
	msg = get(&e, "MESSAGE");
	assert_non_null(msg);
	assert_string_equal(msg, "capture ended: 5 packets, 25 records, 2 lost, 4 nft socket "
			    "overruns (records lost, number unknown)");
	free_entry(&e);
	close(j.lfd);

	/* Without overruns or --limit, the fields are absent, as in JSON. */
	j = open_journal();
	sum = (struct summary){ .packets = 1, .records = 1 };
	end_entry(&j, &sum, &e);
	assert_null(get(&e, "OVERRUNS"));
	assert_null(get(&e, "UNMARKED"));
	assert_null(get(&e, "MARKER"));
	free_entry(&e);
	close(j.lfd);
}

/*
 * NODE: once on a packet of one node (STEP_N_NODE only when it crossed several, each
 * distinct node once then), on a record and on the summary.
 */
static void test_journal_nodes(void **state)
{
	static struct entry e;
	struct trace_record steps[3];
	struct packet p = { .id = 1, .nsteps = 3, .steps = steps };
	struct summary sum = { .packets = 1, .node = "node-a" };
	const char *msg;
	struct journal j = open_journal();

	(void)state;
	mk_step(&steps[0], "raw", "PREROUTING", 1, "10.96.0.10");
	mk_step(&steps[1], "nat", "PREROUTING", 1, "10.96.0.10");
	mk_step(&steps[2], "raw", "PREROUTING", 1, "10.96.0.10");
	steps[0].node = steps[1].node = steps[2].node = "node-a";
	packet_entry(&j, &p, &e);
	assert_int_equal(count(&e, "NODE"), 1);
	assert_string_equal(get(&e, "NODE"), "node-a");
	assert_null(get(&e, "STEP_1_NODE"));
	msg = get(&e, "MESSAGE");
	assert_non_null(strstr(msg, " node node-a\n"));
	free_entry(&e);

	steps[2].node = "node-b";
	packet_entry(&j, &p, &e);
	assert_int_equal(count(&e, "NODE"), 2);
	assert_string_equal(get(&e, "STEP_1_NODE"), "node-a");
	assert_string_equal(get(&e, "STEP_2_NODE"), "node-a");
	assert_string_equal(get(&e, "STEP_3_NODE"), "node-b");
	msg = get(&e, "MESSAGE");
	assert_non_null(strstr(msg, "\n  node-b: raw PREROUTING rule 1"));
	free_entry(&e);

	record_entry(&j, &steps[2], &e);
	assert_string_equal(get(&e, "NODE"), "node-b");
	free_entry(&e);

	end_entry(&j, &sum, &e);
	assert_string_equal(get(&e, "NODE"), "node-a");
	free_entry(&e);
	close(j.lfd);
}

/*
 * An entry bigger than a datagram may be goes through a sealed memfd. journald drops an
 * entry of more than 1024 fields whole: the steps' fields stop before that, MESSAGE has
 * a line for every step.
 */
static void test_journal_big_entry(void **state)
{
	static struct entry e;
	size_t nsteps = 8000, lines = 0;
	const char *msg;
	struct trace_record *steps = calloc(nsteps, sizeof(*steps));
	struct packet p = { .id = 1, .nsteps = nsteps, .steps = steps };
	struct summary sum = { 0 };
	char key[32];
	struct journal j = open_journal();

	(void)state;
	assert_non_null(steps);
	for (size_t i = 0; i < nsteps; i++)
		mk_step(&steps[i], "filter", "A-LONG-USER-CHAIN-NAME", (uint32_t)i + 1,
			"10.96.0.10");
	assert_true(packet_entry(&j, &p, &e));
	assert_string_equal(get(&e, "STEPS"), "8000");
	assert_true(e.n <= 1024);
	assert_string_equal(get(&e, "STEP_1_RULENUM"), "1");
	assert_string_equal(get(&e, "STEP_66_RULENUM"), "66");
	snprintf(key, sizeof(key), "STEP_%zu_RULENUM", nsteps);
	assert_null(get(&e, key));
	msg = get(&e, "MESSAGE");
	assert_non_null(msg);
	for (const char *c = msg; *c; c++)
		lines += *c == '\n';
	assert_int_equal(lines, nsteps);
	assert_non_null(strstr(msg, "A-LONG-USER-CHAIN-NAME rule 8000"));
	free_entry(&e);
	close_journal(&j, &sum, &e);
	free(steps);
}

static void test_journal_missing_socket(void **state)
{
	struct sink s = { .ops = sink_lookup("journal") };
	struct summary sum = { 0 };

	(void)state;
	setenv("IPTRACE_JOURNAL_SOCKET", "/nonexistent/iptrace/journal", 1);
	assert_int_equal(s.ops->begin(&s), -ENOENT);
	assert_null(s.priv);
	/* end() after a failed begin() reports failure without touching anything. */
	assert_int_equal(s.ops->end(&s, &sum), -1);
	unsetenv("IPTRACE_JOURNAL_SOCKET");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notify_abstract_and_path),
		cmocka_unit_test(test_notify_unset_or_bad),
		cmocka_unit_test(test_journal_stream),
		cmocka_unit_test(test_journal_packet_fields),
		cmocka_unit_test(test_journal_record),
		cmocka_unit_test(test_journal_hostile_names),
		cmocka_unit_test(test_journal_summary_counters),
		cmocka_unit_test(test_journal_nodes),
		cmocka_unit_test(test_journal_big_entry),
		cmocka_unit_test(test_journal_missing_socket),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, setup, teardown);
}
