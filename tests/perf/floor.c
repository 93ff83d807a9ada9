/*
 * floor: the least a tool can do to learn the live-patch state of every
 * thread through the kernel interface: list <procfs>/<pid>/task/<tid> and
 * open, read and close each patch_state. Nothing else: no sysfs, no
 * stacks, no output but the counts. Its time is the floor the benchmarks
 * compare patchscope with.
 *
 *   floor [-a] [-d TARGET] [PROCFS]        (default /proc)
 *
 *   -a         open relative to each task directory (openat) instead of
 *              by the full path
 *   -d TARGET  also open, read and close comm, stat, wchan and stack of
 *              every thread whose patch_state is neither -1 nor TARGET
 *              (the details a tool shows of a blocked thread): the floor
 *              for the same files patchscope reads
 *
 * Prints "total T idle I unpatched U patched P unreadable X".
 *   gcc -O2 -o floor tests/perf/floor.c
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int numeric(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static const char *DETAILS[] = {"comm", "stat", "wchan", "stack"};

/* Open, read (up to 64 KiB) and close a file. */
static void slurp(int dirfd, const char *path)
{
	static char big[64 * 1024];
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	while (read(fd, big, sizeof(big)) > 0)
		;
	close(fd);
}

int main(int argc, char **argv)
{
	int use_at = 0, target = -2, opt;
	long total = 0, idle = 0, unpatched = 0, patched = 0, bad = 0;
	char path[4096], rel[512], buf[16];

	while ((opt = getopt(argc, argv, "ad:")) != -1) {
		if (opt == 'a')
			use_at = 1;
		else if (opt == 'd')
			target = atoi(optarg);
		else
			return 2;
	}
	const char *procfs = optind < argc ? argv[optind] : "/proc";
	DIR *procs = opendir(procfs);
	struct dirent *p, *t;

	if (!procs) {
		perror(procfs);
		return 1;
	}
	while ((p = readdir(procs))) {
		if (!numeric(p->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s/task", procfs, p->d_name);
		DIR *tasks = opendir(path);
		if (!tasks)
			continue;
		while ((t = readdir(tasks))) {
			if (!numeric(t->d_name))
				continue;
			int fd;
			if (use_at) {
				snprintf(rel, sizeof(rel), "%s/patch_state", t->d_name);
				fd = openat(dirfd(tasks), rel, O_RDONLY | O_CLOEXEC);
			} else {
				snprintf(path, sizeof(path), "%s/%s/task/%s/patch_state",
					 procfs, p->d_name, t->d_name);
				fd = open(path, O_RDONLY | O_CLOEXEC);
			}
			if (fd < 0) {
				bad++;
				continue;
			}
			ssize_t n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			total++;
			int state = -2;
			if (n >= 2 && buf[0] == '-')
				idle++, state = -1;
			else if (n >= 1 && buf[0] == '0')
				unpatched++, state = 0;
			else if (n >= 1 && buf[0] == '1')
				patched++, state = 1;
			else
				bad++;
			if (target != -2 && state >= 0 && state != target) {
				for (int i = 0; i < 4; i++) {
					if (use_at) {
						snprintf(rel, sizeof(rel), "%s/%s", t->d_name, DETAILS[i]);
						slurp(dirfd(tasks), rel);
					} else {
						snprintf(path, sizeof(path), "%s/%s/task/%s/%s",
							 procfs, p->d_name, t->d_name, DETAILS[i]);
						slurp(AT_FDCWD, path);
					}
				}
			}
		}
		closedir(tasks);
	}
	closedir(procs);
	printf("total %ld idle %ld unpatched %ld patched %ld unreadable %ld\n",
	       total, idle, unpatched, patched, bad);
	return 0;
}
