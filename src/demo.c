/* SPDX-License-Identifier: GPL-2.0-or-later */
/* demo.c: iptrace --demo — build a client/router/server namespace lab, let it talk, remove it */

/*
 * How the lab is built, and why:
 *
 * - Namespaces, veths, addresses, routes: `ip` run through posix_spawn() with fixed argv
 *   (never a shell; the only variable words are the namespace names, made from our pid).
 *   Twenty short commands cost ~0.1 s; doing the same with rtnetlink messages would
 *   duplicate iproute2's netns bookkeeping (the bind mounts under /run/netns that make the
 *   lab visible to `ip netns`, `iptrace --netns` and the user) for no gain. Every veth is
 *   created directly between two lab namespaces (`ip -n A link add ... peer ... netns B`),
 *   so nothing ever appears in the caller's namespace.
 * - The kube-proxy-like rules: iptables-legacy-restore, run by `ip netns exec ROUTER`, with a
 *   constant ruleset on its stdin: one atomic commit per table, in the router only. libiptc
 *   stays inside the legacy marker (STYLE.md), which only ever writes TRACE rules.
 * - Sysctls (forwarding on, IPv6 off) and the two endpoints: forked children that setns()
 *   into their namespace first, so /proc/sys/net and the sockets are the lab's.
 *
 * Names are iptrace-demo-PID-{client,router,server}. Deleting them needs CAP_SYS_ADMIN,
 * which main() gives up once the capture is set up (privs.c); so a janitor forked while we
 * still have it waits for our end of a pipe to close — demo_free(), or any death, SIGKILL
 * included — and deletes the namespaces. The server and the client die with us
 * (PR_SET_PDEATHSIG). Should the janitor be killed too, the next demo removes the labs of
 * dead pids.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "iptrace/demo.h"
#include "iptrace/diag.h"

enum { NS_CLIENT, NS_ROUTER, NS_SERVER, NS_N };

static const char *const ns_role[NS_N] = { "client", "router", "server" };

#define DEMO_PREFIX	"iptrace-demo-"
#define SERVICE_ADDR	"10.96.0.10"
#define SERVER_ADDR	"10.0.2.7"
#define CLIENT_ADDR	"10.0.1.2"
#define ANSWER_ADDR	"10.96.0.1"	/* what the server answers: kubernetes.default */
#define DNS_PORT	53

struct demo {
	char	ns[NS_N][64];		/* namespace names */
	char	router_path[96];	/* /run/netns/ROUTER */
	bool	created[NS_N];
	int	home_fd;		/* the namespace demo_new() was called in */
	pid_t	server, client;
	int	go_fd;			/* write end: one byte lets the client send */
	pid_t	janitor;		/* deletes the namespaces when we are gone */
	int	janitor_fd;		/* write end: closing it (or dying) starts the janitor */
	char	ip[64];			/* absolute path of ip(8) */
};

/* kube-proxy's shape (iptables mode), with readable chain names. Constant: no user input. */
static const char demo_rules[] =
	/* The raw table exists on any real node; here it saves the marker creating it. */
	"*raw\n"
	":PREROUTING ACCEPT [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	"COMMIT\n"
	"*nat\n"
	":PREROUTING ACCEPT [0:0]\n"
	":INPUT ACCEPT [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	":POSTROUTING ACCEPT [0:0]\n"
	":KUBE-SERVICES - [0:0]\n"
	":KUBE-SVC-DNS - [0:0]\n"
	":KUBE-SEP-DNS - [0:0]\n"
	":KUBE-MARK-MASQ - [0:0]\n"
	":KUBE-POSTROUTING - [0:0]\n"
	"-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
	"-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
	"-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING\n"
	"-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n"
	"-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n"
	"-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0\n"
	"-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE\n"
	"-A KUBE-SERVICES -d " SERVICE_ADDR "/32 -p udp -m comment --comment \"kube-system/kube-dns:dns cluster IP\" -m udp --dport 53 -j KUBE-SVC-DNS\n"
	"-A KUBE-SVC-DNS -m comment --comment \"kube-system/kube-dns:dns -> " SERVER_ADDR ":53\" -j KUBE-SEP-DNS\n"
	"-A KUBE-SEP-DNS -s " SERVER_ADDR "/32 -m comment --comment \"kube-system/kube-dns:dns\" -j KUBE-MARK-MASQ\n"
	"-A KUBE-SEP-DNS -p udp -m comment --comment \"kube-system/kube-dns:dns\" -m udp -j DNAT --to-destination " SERVER_ADDR ":53\n"
	"COMMIT\n"
	"*filter\n"
	":INPUT ACCEPT [0:0]\n"
	":FORWARD ACCEPT [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	":KUBE-FORWARD - [0:0]\n"
	"-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD\n"
	"-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP\n"
	"-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT\n"
	"-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
	"COMMIT\n";

/* Spawned tools get this environment, not ours: `ip netns exec` looks the tool up in it. */
static char *const tool_env[] = {
	"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL,
};

/* A pending SIGINT/SIGTERM/SIGHUP (blocked by main) aborts the build between steps. */
static bool interrupted(void)
{
	sigset_t s;

	if (sigpending(&s) < 0)
		return false;
	return sigismember(&s, SIGINT) == 1 || sigismember(&s, SIGTERM) == 1 ||
	       sigismember(&s, SIGHUP) == 1;
}

/* Find @name in the system directories (not $PATH: the argv stays what we wrote). */
static int find_tool(const char *name, char *buf, size_t size)
{
	static const char *const dirs[] = { "/usr/sbin", "/usr/bin", "/sbin", "/bin" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(buf, size, "%s/%s", dirs[i], name);
		if (access(buf, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

/*
 * run - spawn @argv (argv[0] an absolute path), @input (may be NULL) on its stdin, its
 * stdout onto our stderr so the data stream stays clean. 0, -EINTR, or -EIO on failure.
 */
static int run(char *const argv[], const char *input)
{
	posix_spawn_file_actions_t fa;
	int in[2] = { -1, -1 }, status, ret = 0;
	pid_t pid;

	if (input && pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	if (input)
		posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, 2, 1);
	errno = posix_spawn(&pid, argv[0], &fa, NULL, argv, tool_env);
	posix_spawn_file_actions_destroy(&fa);
	if (errno) {
		ret = -errno;
		goto out;
	}
	if (input) {
		size_t len = strlen(input), off = 0;

		close(in[0]);
		in[0] = -1;
		while (off < len) {
			ssize_t n = write(in[1], input + off, len - off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				break;	/* the tool died early: its exit status says so */
			off += (size_t)n;
		}
		close(in[1]);
		in[1] = -1;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			ret = -errno;
			goto out;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		ret = -EIO;
out:
	if (ret < 0 && ret != -EINTR) {
		char cmd[512];
		size_t n = 0;

		cmd[0] = '\0';
		for (int i = 0; argv[i] && n < sizeof(cmd); i++)
			n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, "%s%s", i ? " " : "", argv[i]);
		diag_info("demo: '%s' failed", cmd);
	}
	if (in[0] >= 0)
		close(in[0]);
	if (in[1] >= 0)
		close(in[1]);
	return ret;
}

/* ip - run `ip ARGS...` (NULL-terminated). */
static int ip(const struct demo *d, ...)
{
	char *argv[16];
	int n = 0;
	va_list ap;

	argv[n++] = (char *)d->ip;
	va_start(ap, d);
	while (n < 15 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	return run(argv, NULL);
}

static int enter(const char *name)
{
	char path[96];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* A child for the lab: dies with us, lives in namespace @name. Returns 0 in the child. */
static pid_t fork_into(const char *name)
{
	pid_t parent = getpid(), pid;

	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent || enter(name) < 0)
		_exit(127);
	return 0;
}

static int wait_child(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Forwarding on in the router; IPv6 off everywhere (no router solicitations, no DAD). */
static int set_sysctls(const struct demo *d)
{
	for (int i = 0; i < NS_N; i++) {
		pid_t pid = fork_into(d->ns[i]);

		if (pid < 0)
			return -errno;
		if (pid == 0) {
			/* /proc/sys/net follows the opener's namespace: this one. */
			int r = write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");

			r |= write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
			if (i == NS_ROUTER)
				r |= write_file("/proc/sys/net/ipv4/ip_forward", "1");
			_exit(r ? 1 : 0);
		}
		if (wait_child(pid) != 0) {
			diag_info("demo: cannot set the sysctls of namespace %s", d->ns[i]);
			return -EIO;
		}
	}
	return 0;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The question: kubernetes.default.svc.cluster.local, type A, class IN. */
static size_t dns_query(uint8_t *buf, uint16_t id)
{
	static const char *const labels[] = { "kubernetes", "default", "svc", "cluster", "local" };
	size_t n = 12;

	memset(buf, 0, 12);
	put16(buf, id);
	put16(buf + 2, 0x0100);		/* recursion desired */
	put16(buf + 4, 1);		/* one question */
	for (size_t i = 0; i < 5; i++) {
		size_t l = strlen(labels[i]);

		buf[n++] = (uint8_t)l;
		memcpy(buf + n, labels[i], l);
		n += l;
	}
	buf[n++] = 0;
	put16(buf + n, 1);
	put16(buf + n + 2, 1);
	return n + 4;
}

/* The server: answer each question with one A record, until killed. */
static void serve(int ready_fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(DNS_PORT) };
	uint8_t buf[512];
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, SERVER_ADDR, &sa.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		_exit(1);
	if (write(ready_fd, "r", 1) != 1)
		_exit(1);
	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf) - 16, 0, (struct sockaddr *)&from, &fl);
		size_t len;

		if (n < 12)
			continue;
		len = (size_t)n;
		put16(buf + 2, 0x8580);		/* response, authoritative, RD, RA */
		put16(buf + 6, 1);		/* one answer, after the question */
		put16(buf + len, 0xc00c);	/* name: the question's */
		put16(buf + len + 2, 1);
		put16(buf + len + 4, 1);
		put16(buf + len + 6, 0);
		put16(buf + len + 8, 30);	/* TTL 30 s */
		put16(buf + len + 10, 4);
		inet_pton(AF_INET, ANSWER_ADDR, buf + len + 12);
		sendto(fd, buf, len + 16, 0, (struct sockaddr *)&from, fl);
	}
}

/* The client: on a byte from @go_fd, ask the service; exit 0 with an answer, 1 without, 2 if never started. */
static void ask(int go_fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(DNS_PORT) };
	struct pollfd pfd;
	uint8_t q[512], a[512];
	uint16_t id = (uint16_t)getpid();
	size_t qlen = dns_query(q, id);
	ssize_t n;
	char c;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, SERVICE_ADDR, &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		_exit(1);
	if (read(go_fd, &c, 1) != 1)
		_exit(2);
	if (send(fd, q, qlen, 0) != (ssize_t)qlen)
		_exit(1);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&pfd, 1, 3000) != 1)
		_exit(1);
	n = recv(fd, a, sizeof(a), 0);
	_exit(n >= (ssize_t)qlen && a[0] == q[0] && a[1] == q[1] && (a[2] & 0x80) ? 0 : 1);
}

static int start_endpoints(struct demo *d)
{
	int ready[2], go[2];
	struct pollfd pfd;
	char c;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return -errno;
	d->server = fork_into(d->ns[NS_SERVER]);
	if (d->server == 0) {
		close(ready[0]);
		serve(ready[1]);
	}
	close(ready[1]);
	if (d->server < 0) {
		close(ready[0]);
		return -errno;
	}
	/* The server listens before anyone may ask. */
	pfd = (struct pollfd){ .fd = ready[0], .events = POLLIN };
	if (poll(&pfd, 1, 5000) != 1 || read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		diag_info("demo: the server in %s did not start", d->ns[NS_SERVER]);
		return -EIO;
	}
	close(ready[0]);
	if (pipe2(go, O_CLOEXEC) < 0)
		return -errno;
	d->client = fork_into(d->ns[NS_CLIENT]);
	if (d->client == 0) {
		close(go[1]);
		ask(go[0]);
	}
	close(go[0]);
	if (d->client < 0) {
		close(go[1]);
		return -errno;
	}
	d->go_fd = go[1];
	return 0;
}

/* Labs of demos that died without cleaning up (SIGKILL): their pid no longer runs. */
static void remove_stale(const struct demo *d)
{
	DIR *dir = opendir("/run/netns");
	struct dirent *e;

	if (!dir)
		return;
	while ((e = readdir(dir))) {
		char role[16];
		int pid;

		if (sscanf(e->d_name, DEMO_PREFIX "%d-%15s", &pid, role) != 2 || pid <= 0 ||
		    pid == getpid() || (kill(pid, 0) == 0 || errno != ESRCH))
			continue;
		if (ip(d, "netns", "del", e->d_name, NULL) == 0)
			diag_info("demo: removed namespace %s left by a killed demo", e->d_name);
	}
	closedir(dir);
}

static int build(struct demo *d)
{
	char ipt[64];
	const char *C = d->ns[NS_CLIENT], *R = d->ns[NS_ROUTER], *S = d->ns[NS_SERVER];
	int ret;

	if (find_tool("iptables-legacy-restore", ipt, sizeof(ipt)) < 0) {
		diag_info("demo: needs iptables-legacy-restore (Debian: apt install iptables)");
		return -ENOENT;
	}
	remove_stale(d);
	for (int i = 0; i < NS_N; i++) {
		ret = interrupted() ? -EINTR : ip(d, "netns", "add", d->ns[i], NULL);
		if (ret < 0)
			return ret;
		d->created[i] = true;
	}
	ret = set_sysctls(d);
	if (ret < 0)
		return ret;
#define IP(...) do {						\
		ret = interrupted() ? -EINTR : ip(d, __VA_ARGS__, NULL);	\
		if (ret < 0)						\
			return ret;					\
	} while (0)
	/* Each veth is born between two lab namespaces: never in the caller's. */
	IP("-n", C, "link", "add", "c0", "type", "veth", "peer", "name", "r0", "netns", R);
	IP("-n", S, "link", "add", "s0", "type", "veth", "peer", "name", "r1", "netns", R);
	IP("-n", C, "addr", "add", CLIENT_ADDR "/24", "dev", "c0");
	IP("-n", R, "addr", "add", "10.0.1.1/24", "dev", "r0");
	IP("-n", R, "addr", "add", "10.0.2.1/24", "dev", "r1");
	IP("-n", S, "addr", "add", SERVER_ADDR "/24", "dev", "s0");
	IP("-n", C, "link", "set", "lo", "up");
	IP("-n", R, "link", "set", "lo", "up");
	IP("-n", S, "link", "set", "lo", "up");
	IP("-n", C, "link", "set", "c0", "up");
	IP("-n", R, "link", "set", "r0", "up");
	IP("-n", R, "link", "set", "r1", "up");
	IP("-n", S, "link", "set", "s0", "up");
	IP("-n", C, "route", "add", "default", "via", "10.0.1.1");
	IP("-n", S, "route", "add", "default", "via", "10.0.2.1");
#undef IP
	{
		char *argv[] = { d->ip, "netns", "exec", (char *)R, ipt, "-w", NULL };

		ret = interrupted() ? -EINTR : run(argv, demo_rules);
		if (ret < 0)
			return ret;
	}
	return interrupted() ? -EINTR : start_endpoints(d);
}

static int destroy(struct demo *d)
{
	int ret = 0, status = -1;

	if (d->go_fd >= 0)
		close(d->go_fd);	/* a client never started exits now */
	if (d->client > 0) {
		/* Its exchange is over by the time the capture saw both packets. */
		for (int i = 0; i < 100 && waitpid(d->client, &status, WNOHANG) == 0; i++)
			nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
		if (status == -1) {
			kill(d->client, SIGKILL);
			waitpid(d->client, NULL, 0);
		}
	}
	if (d->server > 0) {
		kill(d->server, SIGKILL);
		waitpid(d->server, NULL, 0);
	}
	/*
	 * Leave the router, so that it goes with its name, not at our exit. Without
	 * CAP_SYS_ADMIN (dropped after set-up) this fails: then it goes at our exit.
	 */
	if (d->home_fd >= 0) {
		(void)setns(d->home_fd, CLONE_NEWNET);
		close(d->home_fd);
	}
	if (d->janitor > 0) {
		close(d->janitor_fd);
		if (wait_child(d->janitor) != 0)
			ret = -EIO;
	} else {
		for (int i = NS_N - 1; i >= 0; i--)
			if (d->created[i] && ip(d, "netns", "del", d->ns[i], NULL) < 0)
				ret = -EIO;
	}
	if (ret < 0)
		diag_info("demo: could not remove every namespace of the lab: see 'ip netns list'");
	else if (d->client > 0 && status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 2)
		diag_info("demo: the client %s an answer; lab removed",
			  WEXITSTATUS(status) == 0 ? "got" : "did not get");
	else if (d->created[NS_CLIENT])
		diag_info("demo: lab removed");
	free(d);
	return ret;
}

/* The janitor: wait until the demo ends, however it ends, then delete the lab. */
static void janitor(const struct demo *d, int fd)
{
	char c;
	int bad = 0;

	while (read(fd, &c, 1) < 0 && errno == EINTR)
		;
	for (int i = NS_N - 1; i >= 0; i--)
		if (ip(d, "netns", "del", d->ns[i], NULL) < 0)
			bad = 1;
	_exit(bad);
}

static int start_janitor(struct demo *d)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	d->janitor = fork();
	if (d->janitor == 0) {
		/* Not ours to hold: the client must see EOF when the demo closes it. */
		close(d->go_fd);
		close(p[1]);
		janitor(d, p[0]);
	}
	close(p[0]);
	if (d->janitor < 0) {
		close(p[1]);
		return -errno;
	}
	d->janitor_fd = p[1];
	return 0;
}

struct demo *demo_new(void)
{
	struct demo *d = calloc(1, sizeof(*d));
	int ret;

	if (!d)
		return NULL;
	d->go_fd = -1;
	d->janitor_fd = -1;
	d->home_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	for (int i = 0; i < NS_N; i++)
		snprintf(d->ns[i], sizeof(d->ns[i]), DEMO_PREFIX "%d-%s", (int)getpid(), ns_role[i]);
	snprintf(d->router_path, sizeof(d->router_path), "/run/netns/%s", d->ns[NS_ROUTER]);
	if (d->home_fd < 0) {
		ret = -errno;
		goto err;
	}
	if (find_tool("ip", d->ip, sizeof(d->ip)) < 0) {
		diag_info("demo: needs ip from iproute2 (Debian: apt install iproute2)");
		ret = -ENOENT;
		goto err;
	}
	ret = build(d);
	if (ret == 0)
		ret = start_janitor(d);
	if (ret < 0)
		goto err;
	return d;
err:
	if (ret == -EINTR)
		diag_info("demo: interrupted");
	destroy(d);
	errno = -ret;
	return NULL;
}

const char *demo_router(const struct demo *d)
{
	return d->router_path;
}

void demo_intro(const struct demo *d)
{
	diag_info("demo: client " CLIENT_ADDR " → service " SERVICE_ADDR ":53, DNATed "
		  "(KUBE-SERVICES → KUBE-SVC-DNS → KUBE-SEP-DNS) by router %s to server "
		  SERVER_ADDR ":53", d->ns[NS_ROUTER]);
}

int demo_start(struct demo *d)
{
	ssize_t n;

	if (d->go_fd < 0)
		return -EBADF;
	do
		n = write(d->go_fd, "g", 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -errno;
}

int demo_free(struct demo *d)
{
	return d ? destroy(d) : 0;
}
