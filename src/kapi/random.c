// SPDX-License-Identifier: GPL-2.0-only
/* Random bytes for drivers (drivers/char/random.c's get_random_bytes): from the host's kernel generator. */
#include <linux/random.h>

#include "kapi.h"

void get_random_bytes(void *buf, size_t len)
{
	side_host_random(buf, len);
}
