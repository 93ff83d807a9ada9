/*
 * floor: the least a tool can do to learn the live-patch state of every
 * thread through the kernel interface: list <procfs>/<pid>/task/<tid> and
 * open, read and close each patch_state. Nothing else: no sysfs, no
 * stacks, no output but the counts. Its time is the floor the benchmarks
 * compare patchscope with.
 *
 *   floor [PROCFS]        (default /proc)
 *   floor -a [PROCFS]     the same with openat() relative to each task
 *                         directory instead of the full path
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

int main(int argc, char **argv)
{
	int use_at = argc > 1 && strcmp(argv[1], "-a") == 0;
	const char *procfs = argc > 1 + use_at ? argv[1 + use_at] : "/proc";
	long total = 0, idle = 0, unpatched = 0, patched = 0, bad = 0;
	char path[4096], rel[512], buf[16];
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
			if (n >= 2 && buf[0] == '-')
				idle++;
			else if (n >= 1 && buf[0] == '0')
				unpatched++;
			else if (n >= 1 && buf[0] == '1')
				patched++;
			else
				bad++;
		}
		closedir(tasks);
	}
	closedir(procs);
	printf("total %ld idle %ld unpatched %ld patched %ld unreadable %ld\n",
	       total, idle, unpatched, patched, bad);
	return 0;
}
