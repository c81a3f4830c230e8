/* name.c - region name validation. */
#include "name.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int shmfs_name_check(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || !is_alnum(name[0]))
		return -EINVAL;
	for (size_t i = 1; i < len; i++)
		if (!is_alnum(name[i]) && name[i] != '_' && name[i] != '.' && name[i] != '-')
			return -EINVAL;
	if (len > SHMFS_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}
