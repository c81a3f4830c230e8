/* ctlproc.c - processes with a known life for the orphan tests: a creator
 * that makes a region and stays alive, and a creator that dies but stays a
 * zombie (its parent never reaps it). The regions are of process lifetime
 * (the creator opts in, as libshmfs's SHMFS_CREATE_PROCESS_LIFETIME does):
 * only those can be orphaned. Prints the creator's pid once the region
 * exists, then holds until killed or stdin closes.
 *
 *   ctlproc hold PATH     create PATH (O_CREAT), print own pid, hold
 *   ctlproc zombie PATH   a child creates PATH and exits; print the child's
 *                         pid and hold without reaping it */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static void hold(void)
{
	char c;

	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	pause();
}

static int create(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	if (fd < 0) {
		printf("ERR %s\n", strerror(errno));
		return 1;
	}
	if (fsetxattr(fd, "user.shmfs.lifetime", "process", 7, 0) < 0) {
		printf("ERR lifetime: %s\n", strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "hold") == 0) {
		if (create(argv[2]))
			return 1;
		printf("%d\n", (int)getpid());
		hold();
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "zombie") == 0) {
		int pfd[2];
		pid_t child;
		char st;

		if (pipe(pfd) < 0)
			return 1;
		child = fork();
		if (child < 0)
			return 1;
		if (child == 0) {
			st = create(argv[2]) ? 'E' : 'K';
			(void)!write(pfd[1], &st, 1);
			_exit(0);
		}
		if (read(pfd[0], &st, 1) != 1 || st != 'K') {
			printf("ERR child could not create\n");
			return 1;
		}
		printf("%d\n", (int)child);
		hold(); /* never waitpid: the child stays a zombie while we live */
		return 0;
	}
	fprintf(stderr, "usage: ctlproc hold PATH | ctlproc zombie PATH\n");
	return 2;
}
