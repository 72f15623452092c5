/* SPDX-License-Identifier: GPL-2.0-or-later */
/* confine-probe.c: confine.sh's probe, preloaded into iptrace by the test (never part of it) */

/*
 * On SIGUSR1 it asks the kernel, from inside the process it was preloaded into, whether that
 * process may still create each file of $PROBE_CREATE, open for writing each (existing) file
 * of $PROBE_WRITE and run each program of $PROBE_EXEC (colon-separated lists), and says on
 * stderr what the kernel answered: "probe: create PATH: EACCES", "probe: exec PATH: ok". It
 * changes nothing in iptrace: iptrace neither uses SIGUSR1 nor blocks it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/landlock.h>

static char create_list[2048], write_list[2048], exec_list[2048];

static void say(const char *what, const char *path, int err)
{
	char line[2200];
	int n = snprintf(line, sizeof(line), "probe: %s %s: %s\n", what, path,
			 err ? strerrorname_np(err) : "ok");

	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

static int try_open(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* The child's exit status carries execve's errno (0: it ran, and succeeded). */
static int try_exec(const char *path)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		execl(path, path, (char *)NULL);
		_exit(errno & 0x7f);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : EINTR;
}

static void each(const char *list, const char *what, int (*fn)(const char *, int), int arg)
{
	char buf[2048], *save, *p;

	snprintf(buf, sizeof(buf), "%s", list);
	for (p = strtok_r(buf, ":", &save); p; p = strtok_r(NULL, ":", &save))
		say(what, p, fn(p, arg));
}

static int exec_one(const char *path, int unused)
{
	(void)unused;
	return try_exec(path);
}

static void probe(int sig)
{
	int saved = errno;
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	char line[64];
	int n = snprintf(line, sizeof(line), "probe: landlock abi %ld\n", abi);

	(void)sig;
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
	each(create_list, "create", try_open, O_WRONLY | O_CREAT | O_EXCL);
	each(write_list, "write", try_open, O_WRONLY);
	each(exec_list, "exec", exec_one, 0);
	errno = saved;
}

__attribute__((constructor)) static void probe_init(void)
{
	struct sigaction sa = { .sa_handler = probe };
	const char *v;

	if ((v = getenv("PROBE_CREATE")))
		snprintf(create_list, sizeof(create_list), "%s", v);
	if ((v = getenv("PROBE_WRITE")))
		snprintf(write_list, sizeof(write_list), "%s", v);
	if ((v = getenv("PROBE_EXEC")))
		snprintf(exec_list, sizeof(exec_list), "%s", v);
	sigaction(SIGUSR1, &sa, NULL);
}
