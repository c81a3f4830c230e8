/* proc.c - placeholder until the pool/proc work lands. */
#include <errno.h>
#include "proc.h"
