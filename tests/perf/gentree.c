/*
 * gentree: write a Linux klp fixture tree (procfs and sysfs with the
 * kernel's file layout and formats) for the performance benchmarks.
 *
 *   gentree DIR THREADS BLOCKED [THREADS_PER_PROCESS]
 *
 * DIR/proc/<pid>/task/<tid>/{patch_state,comm,stat,wchan,stack}, plus
 * DIR/proc/{stat,uptime,sys/kernel/osrelease};
 * DIR/sys/kernel/livepatch/ps_stall/... with a patching transition
 * (enabled 1, transition 1) and DIR/sys-idle/... with the same patch
 * enabled and no transition; DIR/sys/module/ps_stall/taint and
 * DIR/sys-idle/module/ps_stall/taint.
 *
 * BLOCKED threads (spread evenly) have patch_state 0 and a stack inside
 * the patched function; the others have patch_state 1. A tree that
 * already exists with the same THREADS is reused: only patch_state and
 * stack are rewritten, so one tree serves every blocked fraction.
 * Threads are grouped THREADS_PER_PROCESS (default 10) to a process; the
 * first tid of a process is its pid, as on Linux.
 *
 * Built by tests/perf/run and by kmod-bridge/benches/linux_snapshot.rs:
 *   gcc -O2 -o gentree tests/perf/gentree.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIRST_PID 1000
#define BTIME 1700000000L

static const char *STACK_BLOCKED =
	"[<0>] msleep+0x29/0x40\n"
	"[<0>] ps_target_func+0x1c/0x40 [ps_target]\n"
	"[<0>] ps_worker+0x45/0x80 [ps_target]\n"
	"[<0>] kthread+0xd7/0x100\n"
	"[<0>] ret_from_fork+0x1f/0x30\n";

static const char *STACK_IDLE =
	"[<0>] do_epoll_wait+0x4c4/0x4f0\n"
	"[<0>] __x64_sys_epoll_wait+0x64/0x100\n"
	"[<0>] do_syscall_64+0x55/0xb0\n"
	"[<0>] entry_SYSCALL_64_after_hwframe+0x6e/0xd8\n";

static const char *COMMS[] = {"nginx", "postgres", "java", "kworker/3:1",
			      "sshd", "rsyslogd", "containerd", "node"};

static void die(const char *what, const char *path)
{
	fprintf(stderr, "gentree: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static void put(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t len = strlen(content);

	if (fd < 0)
		die("creating", path);
	if (write(fd, content, len) != (ssize_t)len)
		die("writing", path);
	close(fd);
}

static void dir(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		die("creating", path);
}

static void mkdirs(const char *path)
{
	char p[4096];
	size_t len = strlen(path);

	if (len >= sizeof(p))
		die("path too long", path);
	memcpy(p, path, len + 1);
	for (char *s = p + 1; *s; s++) {
		if (*s == '/') {
			*s = 0;
			dir(p);
			*s = '/';
		}
	}
	dir(p);
}

/* sysfs of kernel 6.13: one patch, its object and two functions. */
static void sysfs(const char *root, int transition)
{
	char p[4096], q[4096 + 64];

	snprintf(p, sizeof(p), "%s/kernel/livepatch/ps_stall/ps_target/ps_target_func,1", root);
	mkdirs(p);
	snprintf(p, sizeof(p), "%s/kernel/livepatch/ps_stall/ps_target/ps_worker_helper,2", root);
	mkdirs(p);
	snprintf(p, sizeof(p), "%s/kernel/livepatch/ps_stall", root);
	const char *files[][2] = {
		{"enabled", "1\n"}, {"transition", transition ? "1\n" : "0\n"},
		{"force", ""}, {"replace", "0\n"}, {"stack_order", "1\n"},
		{"ps_target/patched", "1\n"},
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(q, sizeof(q), "%s/%s", p, files[i][0]);
		put(q, files[i][1]);
	}
	snprintf(p, sizeof(p), "%s/module/ps_stall", root);
	mkdirs(p);
	snprintf(q, sizeof(q), "%s/taint", p);
	put(q, "OEK\n");
}

int main(int argc, char **argv)
{
	char p[4096], q[4096 + 64], buf[512];

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: gentree DIR THREADS BLOCKED [THREADS_PER_PROCESS]\n");
		return 2;
	}
	const char *root = argv[1];
	long threads = atol(argv[2]);
	long blocked = atol(argv[3]);
	long per = argc == 5 ? atol(argv[4]) : 10;
	if (threads < 1 || blocked < 0 || blocked > threads || per < 1) {
		fprintf(stderr, "gentree: need THREADS >= 1, 0 <= BLOCKED <= THREADS, THREADS_PER_PROCESS >= 1\n");
		return 2;
	}

	/* A tree with another thread count is not reused. */
	snprintf(p, sizeof(p), "%s/threads", root);
	FILE *f = fopen(p, "r");
	long had = -1;
	if (f) {
		if (fscanf(f, "%ld", &had) != 1)
			had = -1;
		fclose(f);
	}
	int fresh = had != threads;
	if (fresh && had != -1) {
		fprintf(stderr, "gentree: %s holds a tree of %ld threads; remove it first\n", root, had);
		return 1;
	}

	if (fresh) {
		mkdirs(root);
		snprintf(p, sizeof(p), "%s/sys", root);
		sysfs(p, 1);
		snprintf(p, sizeof(p), "%s/sys-idle", root);
		sysfs(p, 0);
		snprintf(p, sizeof(p), "%s/proc/sys/kernel", root);
		mkdirs(p);
		snprintf(p, sizeof(p), "%s/proc/sys/kernel/osrelease", root);
		put(p, "6.13.0-bench\n");
		snprintf(p, sizeof(p), "%s/proc/stat", root);
		snprintf(buf, sizeof(buf), "cpu  10 0 10 1000 0 0 0 0 0 0\nintr 0\nctxt 0\nbtime %ld\nprocesses 1\n", BTIME);
		put(p, buf);
		snprintf(p, sizeof(p), "%s/proc/uptime", root);
		put(p, "100.00 100.00\n");
		snprintf(p, sizeof(p), "%s/dmesg.txt", root);
		put(p, "[   12.000000] livepatch: enabling patch 'ps_stall'\n"
		       "[   12.000100] livepatch: 'ps_stall': starting patching transition\n");
	}

	for (long i = 0; i < threads; i++) {
		long pid = FIRST_PID + i / per * per, tid = FIRST_PID + i;
		/* Evenly spread: thread i is blocked when floor(i*b/n) steps. */
		int is_blocked = (i + 1) * blocked / threads != i * blocked / threads;
		int n = snprintf(p, sizeof(p), "%s/proc/%ld/task/%ld", root, pid, tid);
		if (fresh) {
			if (tid == pid) {
				snprintf(q, sizeof(q), "%s/proc/%ld/task", root, pid);
				mkdirs(q);
			}
			dir(p);
			const char *comm = COMMS[pid % (sizeof(COMMS) / sizeof(COMMS[0]))];
			snprintf(q, sizeof(q), "%s/comm", p);
			snprintf(buf, sizeof(buf), "%s\n", comm);
			put(q, buf);
			snprintf(q, sizeof(q), "%s/stat", p);
			snprintf(buf, sizeof(buf),
				 "%ld (%s) %c %ld %ld %ld 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n",
				 tid, comm, is_blocked ? 'D' : 'S', pid, pid, pid);
			put(q, buf);
			snprintf(q, sizeof(q), "%s/wchan", p);
			put(q, is_blocked ? "msleep" : "do_epoll_wait");
		}
		p[n] = 0;
		snprintf(q, sizeof(q), "%s/patch_state", p);
		put(q, is_blocked ? "0\n" : "1\n");
		snprintf(q, sizeof(q), "%s/stack", p);
		put(q, is_blocked ? STACK_BLOCKED : STACK_IDLE);
	}

	if (fresh) {
		snprintf(p, sizeof(p), "%s/threads", root);
		snprintf(buf, sizeof(buf), "%ld\n", threads);
		put(p, buf);
	}
	return 0;
}
