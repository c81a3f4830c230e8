/* pool.c - placeholder until the pool/proc work lands. */
#include <errno.h>
#include "pool.h"
