/* tsys.c - run one system call from a test script and print its outcome:
 * "OK" (plus any result) or the errno name ("EINVAL"). Lets shell tests assert
 * exact errnos, which coreutils' messages hide. Exit status 0 on OK, 1 on an
 * errno, 2 on bad usage. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static int fail(void)
{
	const char *n = strerrorname_np(errno);

	printf("%s\n", n ? n : "EUNKNOWN");
	return 1;
}

static int ok(void)
{
	printf("OK\n");
	return 0;
}

static int open_flags(const char *s)
{
	int f = 0, acc = O_RDONLY;

	for (; *s; s++) {
		switch (*s) {
		case 'r': break;
		case 'w': acc = acc == O_RDONLY ? O_WRONLY : acc; break;
		case 'b': acc = O_RDWR; break;
		case 'c': f |= O_CREAT; break;
		case 'x': f |= O_EXCL; break;
		case 't': f |= O_TRUNC; break;
		case 'a': f |= O_APPEND; break;
		default: fprintf(stderr, "bad open flag %c\n", *s); exit(2);
		}
	}
	return f | acc | O_CLOEXEC;
}

static long long num(const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 0);

	if (*s == '\0' || *end) {
		fprintf(stderr, "bad number %s\n", s);
		exit(2);
	}
	return v;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: tsys open PATH FLAGS(r,w,b=rdwr,c,x,t,a) [MODE]\n"
		"       tsys truncate PATH SIZE | ftruncate PATH SIZE | fallocate PATH OFF LEN\n"
		"       tsys mkdir|rmdir|unlink|mknod|stat PATH | chmod PATH MODE\n"
		"       tsys link|symlink|rename A B\n"
		"       tsys getxattr PATH NAME [BUFSZ] | setxattr PATH NAME VALUE | removexattr PATH NAME | listxattr PATH\n"
		"       tsys pwrite PATH OFF TEXT | pread PATH OFF LEN\n"
		"       tsys map PATH r|w [SIZE]   (map, print OK, hold until SIGTERM or stdin closes)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *op, *path;

	if (argc < 3)
		usage();
	op = argv[1];
	path = argv[2];

	if (!strcmp(op, "open")) {
		if (argc < 4)
			usage();
		int fd = open(path, open_flags(argv[3]), argc > 4 ? (mode_t)num(argv[4]) : 0600);
		return fd < 0 ? fail() : ok();
	}
	if (!strcmp(op, "truncate") && argc == 4)
		return truncate(path, num(argv[3])) ? fail() : ok();
	if (!strcmp(op, "ftruncate") && argc == 4) {
		int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return fail();
		return ftruncate(fd, num(argv[3])) ? fail() : ok();
	}
	if (!strcmp(op, "fallocate") && argc == 5) {
		int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return fail();
		return fallocate(fd, 0, num(argv[3]), num(argv[4])) ? fail() : ok();
	}
	if (!strcmp(op, "mkdir"))
		return mkdir(path, 0755) ? fail() : ok();
	if (!strcmp(op, "rmdir"))
		return rmdir(path) ? fail() : ok();
	if (!strcmp(op, "unlink"))
		return unlink(path) ? fail() : ok();
	if (!strcmp(op, "mknod"))
		return mknod(path, S_IFIFO | 0600, 0) ? fail() : ok();
	if (!strcmp(op, "stat")) {
		struct stat st;
		if (stat(path, &st))
			return fail();
		printf("OK size=%lld blocks=%lld mode=%o uid=%u gid=%u nlink=%lu\n",
		       (long long)st.st_size, (long long)st.st_blocks, st.st_mode & 07777,
		       st.st_uid, st.st_gid, (unsigned long)st.st_nlink);
		return 0;
	}
	if (!strcmp(op, "chmod") && argc == 4)
		return chmod(path, (mode_t)num(argv[3])) ? fail() : ok();
	if (!strcmp(op, "link") && argc == 4)
		return link(path, argv[3]) ? fail() : ok();
	if (!strcmp(op, "symlink") && argc == 4)
		return symlink(path, argv[3]) ? fail() : ok();
	if (!strcmp(op, "rename") && argc == 4)
		return rename(path, argv[3]) ? fail() : ok();
	if (!strcmp(op, "getxattr") && (argc == 4 || argc == 5)) {
		static char buf[65536 + 1];
		size_t sz = argc == 5 ? (size_t)num(argv[4]) : 65536;
		if (sz > 65536)
			usage();
		ssize_t n = getxattr(path, argv[3], sz ? buf : NULL, sz);
		if (n < 0)
			return fail();
		if (sz == 0) {
			printf("OK %zd\n", n);
			return 0;
		}
		buf[n] = '\0';
		printf("OK %s\n", buf);
		return 0;
	}
	if (!strcmp(op, "setxattr") && argc == 5)
		return setxattr(path, argv[3], argv[4], strlen(argv[4]), 0) ? fail() : ok();
	if (!strcmp(op, "removexattr") && argc == 4)
		return removexattr(path, argv[3]) ? fail() : ok();
	if (!strcmp(op, "listxattr")) {
		char buf[65536];
		ssize_t n = listxattr(path, buf, sizeof(buf));
		if (n < 0)
			return fail();
		printf("OK");
		for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
			printf(" %s", buf + i);
		printf("\n");
		return 0;
	}
	if (!strcmp(op, "pwrite") && argc == 5) {
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return fail();
		ssize_t n = pwrite(fd, argv[4], strlen(argv[4]), num(argv[3]));
		if (n < 0)
			return fail();
		printf("OK %zd\n", n);
		return 0;
	}
	if (!strcmp(op, "pread") && argc == 5) {
		static char buf[1 << 20];
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		size_t len = (size_t)num(argv[4]);
		if (len >= sizeof(buf))
			usage();
		if (fd < 0)
			return fail();
		ssize_t n = pread(fd, buf, len, num(argv[3]));
		if (n < 0)
			return fail();
		buf[n] = '\0';
		printf("OK %s\n", buf);
		return 0;
	}
	if (!strcmp(op, "map") && argc >= 4) {
		int w = argv[3][0] == 'w';
		int fd = open(path, (w ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		struct stat st;
		char c;
		if (fd < 0 || fstat(fd, &st))
			return fail();
		size_t sz = argc > 4 ? (size_t)num(argv[4]) : (size_t)st.st_size;
		void *p = mmap(NULL, sz, PROT_READ | (w ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return fail();
		close(fd);
		ok();
		fflush(stdout);
		/* Hold the mapping until told to go: stdin closing or a signal. */
		while (read(0, &c, 1) > 0)
			;
		pause();
		return 0;
	}
	usage();
	return 2;
}
