/* fdctl.c - what Firedancer's fd_shmem_ctl does to the backing store, for
 * the tests of its users' workflow (fduser.sh), without Firedancer:
 *   create PATH SIZE NODE MODE  open O_RDWR|O_CREAT|O_EXCL with MODE,
 *                               ftruncate to SIZE, map it shared, mbind the
 *                               mapping to NODE (MPOL_BIND, MOVE|STRICT) and
 *                               touch every page (fd_shmem_create_multi)
 *   join PATH OFF TEXT          open O_RDWR, map the whole file shared, write
 *                               TEXT at OFF and read it back (fd_shmem_join)
 * plus one thing coreutils cannot make for plants.sh:
 *   sock PATH                   bind a unix socket at PATH (left behind)
 * Prints "OK ..." or the errno name of the step that failed, like tsys. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define MPOL_BIND_ 2
#define MPOL_MF_STRICT_ (1 << 0)
#define MPOL_MF_MOVE_ (1 << 1)

static int fail(const char *step)
{
	const char *n = strerrorname_np(errno);

	printf("%s %s\n", n ? n : "EUNKNOWN", step);
	return 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: fdctl create PATH SIZE NODE MODE | join PATH OFF TEXT | sock PATH\n");
	exit(2);
}

static unsigned long long num(const char *s, int base)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, base);
	if (*s == '\0' || *end || errno)
		usage();
	return v;
}

static int create(const char *path, size_t sz, unsigned node, mode_t mode)
{
	unsigned long mask[16] = { 0 };
	long page = sysconf(_SC_PAGESIZE);
	struct stat st;
	unsigned char *p;
	int fd;

	if (node >= sizeof(mask) * 8)
		usage();
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return fail("open");
	if (ftruncate(fd, (off_t)sz) < 0)
		return fail("ftruncate");
	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail("mmap");
	mask[node / (8 * sizeof(mask[0]))] |= 1UL << (node % (8 * sizeof(mask[0])));
	if (syscall(SYS_mbind, p, sz, MPOL_BIND_, mask, sizeof(mask) * 8 + 1,
		    MPOL_MF_MOVE_ | MPOL_MF_STRICT_) < 0)
		return fail("mbind");
	/* fault every page in now, on the bound node (fd_shmem clears it) */
	for (size_t off = 0; off < sz; off += (size_t)page)
		p[off] = 0;
	munmap(p, sz);
	if (fstat(fd, &st) < 0)
		return fail("fstat");
	close(fd);
	printf("OK size=%lld uid=%u mode=%o\n", (long long)st.st_size, st.st_uid, st.st_mode & 07777);
	return 0;
}

static int join(const char *path, size_t off, const char *text)
{
	size_t len = strlen(text);
	struct stat st;
	char *p;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return fail("open");
	if (fstat(fd, &st) < 0)
		return fail("fstat");
	if ((uint64_t)st.st_size < off + len) {
		errno = EINVAL;
		return fail("size");
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail("mmap");
	close(fd);
	memcpy(p + off, text, len);
	printf("OK %.*s\n", (int)len, p + off);
	munmap(p, (size_t)st.st_size);
	return 0;
}

static int sock(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (strlen(path) >= sizeof(a.sun_path))
		usage();
	strcpy(a.sun_path, path);
	if (fd < 0)
		return fail("socket");
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return fail("bind");
	printf("OK\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "create"))
		return create(argv[2], (size_t)num(argv[3], 0), (unsigned)num(argv[4], 10),
			      (mode_t)num(argv[5], 8));
	if (argc == 5 && !strcmp(argv[1], "join"))
		return join(argv[2], (size_t)num(argv[3], 0), argv[4]);
	if (argc == 3 && !strcmp(argv[1], "sock"))
		return sock(argv[2]);
	usage();
	return 2;
}
