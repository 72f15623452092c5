/* SPDX-License-Identifier: GPL-2.0-or-later */
/* confine.c: a Landlock domain for the capture after set-up (no libc wrappers: syscalls) */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/landlock.h>

#include "iptrace/confine.h"

/* Later ABIs' rights, for headers older than the kernel (values are ABI, never change). */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER	(1ULL << 13)	/* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)	/* ABI 3 */
#endif

/* Rights a rule on a file (not a directory) may carry. */
#define FILE_RIGHTS (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
		     LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE)

static int ll_create(const struct landlock_ruleset_attr *attr, size_t size, uint32_t flags)
{
	return (int)syscall(SYS_landlock_create_ruleset, attr, size, flags);
}

/* Allow @access beneath @path (or on the file @path); a path that doesn't exist is skipped. */
static int allow(int ruleset, const char *path, uint64_t access, uint64_t handled)
{
	struct landlock_path_beneath_attr pb = { 0 };
	struct stat st;
	int ret = 0;

	pb.parent_fd = open(path, O_PATH | O_CLOEXEC);
	if (pb.parent_fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	if (fstat(pb.parent_fd, &st) < 0)
		ret = -errno;
	pb.allowed_access = access & handled & (S_ISDIR(st.st_mode) ? ~0ULL : FILE_RIGHTS);
	if (ret == 0 && pb.allowed_access &&
	    syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
		ret = -errno;
	close(pb.parent_fd);
	return ret;
}

int confine_files(const struct confine_paths *p)
{
	/*
	 * Handled: everything that writes or runs. Reading is not: the resolver's save program
	 * reads libraries, /etc and /proc, and reading is not what the drop left open.
	 */
	uint64_t handled = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
		LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
		LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
		LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
		LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
		LANDLOCK_ACCESS_FS_MAKE_SYM;
	const uint64_t state_rights = LANDLOCK_ACCESS_FS_WRITE_FILE |
		LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_MAKE_REG |
		LANDLOCK_ACCESS_FS_REMOVE_FILE;
	static const char *const exec_dirs[] = { "/usr", "/bin", "/sbin", "/lib", "/lib64" };
	struct landlock_ruleset_attr attr;
	int abi, ruleset, ret = 0;

	abi = ll_create(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0)
		return errno == ENOSYS || errno == EOPNOTSUPP || errno == EPERM ?
		       -EOPNOTSUPP : -errno;
	if (abi >= 2)
		handled |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		handled |= LANDLOCK_ACCESS_FS_TRUNCATE;
	/* The fields of later ABIs stay 0: older kernels take the larger struct then. */
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = handled;
	ruleset = ll_create(&attr, sizeof(attr), 0);
	if (ruleset < 0)
		return -errno;
	if (p->state_dir)
		ret = allow(ruleset, p->state_dir, state_rights, handled);
	if (ret == 0 && p->lock_file)
		ret = allow(ruleset, p->lock_file, LANDLOCK_ACCESS_FS_WRITE_FILE, handled);
	if (ret == 0)
		ret = allow(ruleset, "/dev/null", LANDLOCK_ACCESS_FS_WRITE_FILE, handled);
	for (size_t i = 0; ret == 0 && i < sizeof(exec_dirs) / sizeof(exec_dirs[0]); i++)
		ret = allow(ruleset, exec_dirs[i], LANDLOCK_ACCESS_FS_EXECUTE, handled);
	/* Without CAP_SYS_ADMIN, Landlock wants no_new_privs: no set-uid program gains either. */
	if (ret == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		ret = -errno;
	if (ret == 0 && syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
		ret = -errno;
	close(ruleset);
	return ret;
}
