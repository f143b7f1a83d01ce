/* SPDX-License-Identifier: GPL-2.0-only */
/* --isolation sfi: the rights check the layer's checked exports run before they write through a driver's pointer. */
#ifndef SIDE_SFI_CHECKED_H
#define SIDE_SFI_CHECKED_H

#include "kapi.h"

/* Returns when the driver may write all of [p, p + n) (or nothing is checked: not sfi mode); otherwise a driver
 * fault at `caller`, before anything is written. */
/* (Not named side_kapi_sfi_*: the host resolves a driver's import of X to side_kapi_sfi_X.) */
void side_sfi_check_write(const void *p, unsigned long n, unsigned long caller);

/* In a checked export itself (SIDE_CALLER is the driver's call only there). */
#define CHECK(p, n) side_sfi_check_write((p), (n), SIDE_CALLER)
/* `count` elements of `size` bytes; a count whose bytes overflow is an impossible range, refused whole. */
#define CHECK_ARRAY(p, count, size) CHECK((p), (count) > ~0ul / (size) ? ~0ul : (count) * (size))

#endif
