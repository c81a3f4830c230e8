/* fsprobe.c - the few system calls the fs integration tests need that
 * test/tools/tsys lacks: listxattr with a caller-chosen buffer size (size-0
 * probe, ERANGE), a mapping that touches its first byte and returns
 * (tsys map holds its mapping until killed), and writing or reading bytes
 * through a shared mapping (the way libshmfs users reach a region).
 * Prints "OK ..." or the errno name, like tsys. */
#include <errno.h>
#include <fcntl.h>
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

static void usage(void)
{
	fprintf(stderr, "usage: fsprobe listxattr PATH BUFSZ\n"
			"       fsprobe map PATH r|w   (map shared, touch the first byte, unmap)\n"
			"       fsprobe poke PATH OFF TEXT | peek PATH OFF LEN   (through a shared mapping)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "listxattr")) {
		char *end;
		size_t sz = strtoul(argv[3], &end, 0);
		char *buf;
		ssize_t n;

		if (*argv[3] == '\0' || *end)
			usage();
		buf = malloc(sz + 1);
		if (!buf)
			return fail();
		n = listxattr(argv[2], sz ? buf : NULL, sz);
		free(buf);
		if (n < 0)
			return fail();
		printf("OK %zd\n", n);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "map")) {
		int w = argv[3][0] == 'w';
		int fd = open(argv[2], (w ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		struct stat st;
		volatile char *p;

		if (fd < 0 || fstat(fd, &st))
			return fail();
		if (st.st_size == 0) {
			errno = EINVAL;
			return fail();
		}
		p = mmap(NULL, st.st_size, PROT_READ | (w ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return fail();
		if (w)
			p[0] = p[0];
		else
			(void)p[0];
		munmap((void *)p, st.st_size);
		close(fd);
		printf("OK\n");
		return 0;
	}
	if (argc == 5 && (!strcmp(argv[1], "poke") || !strcmp(argv[1], "peek"))) {
		int poke = argv[1][1] == 'o';
		int fd = open(argv[2], (poke ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		char *end;
		size_t off = strtoul(argv[3], &end, 0);
		size_t len = poke ? strlen(argv[4]) : strtoul(argv[4], NULL, 0);
		struct stat st;
		char *p;

		if (*end)
			usage();
		if (fd < 0 || fstat(fd, &st))
			return fail();
		if (off + len > (size_t)st.st_size) {
			errno = ERANGE;
			return fail();
		}
		p = mmap(NULL, st.st_size, PROT_READ | (poke ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return fail();
		if (poke)
			memcpy(p + off, argv[4], len);
		printf("OK %.*s\n", poke ? 0 : (int)len, p + off);
		munmap(p, st.st_size);
		close(fd);
		return 0;
	}
	usage();
	return 2;
}
