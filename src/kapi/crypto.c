// SPDX-License-Identifier: GPL-2.0-only
/*
 * The crypto API as a domain has it: no algorithm is registered, so looking up a transform by name fails with
 * -ENOENT, as in a kernel where no module provides it (crc-t10dif then keeps its generic table), and no
 * CRYPTO_MSG_ALG_LOADED notification is ever sent to the notifiers registered for one. Since no transform can
 * exist, using or freeing one is a driver fault; freeing none (NULL or an error pointer) is allowed, as in Linux.
 */
#include <crypto/hash.h>
#include <linux/crypto.h>
#include <linux/notifier.h>
#include <linux/spinlock.h>

#include "kapi.h"

static DEFINE_SPINLOCK(side_crypto_lock);
static struct notifier_block *side_crypto_chain;

int crypto_register_notifier(struct notifier_block *nb)
{
	spin_lock(&side_crypto_lock);
	nb->next = side_crypto_chain;
	side_crypto_chain = nb;
	spin_unlock(&side_crypto_lock);
	return 0;
}

int crypto_unregister_notifier(struct notifier_block *nb)
{
	struct notifier_block **p;
	int ret = -ENOENT;

	spin_lock(&side_crypto_lock);
	for (p = &side_crypto_chain; *p; p = &(*p)->next) {
		if (*p == nb) {
			*p = nb->next;
			ret = 0;
			break;
		}
	}
	spin_unlock(&side_crypto_lock);
	return ret;
}

struct crypto_shash *crypto_alloc_shash(const char *alg_name, u32 type, u32 mask)
{
	return ERR_PTR(-ENOENT);
}

void crypto_destroy_tfm(void *mem, struct crypto_tfm *tfm)
{
	if (IS_ERR_OR_NULL(mem))
		return;
	side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "crypto_destroy_tfm of transform %px, which no lookup returned",
		   tfm);
}

int crypto_shash_update(struct shash_desc *desc, const u8 *data, unsigned int len)
{
	side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "crypto_shash_update on transform %px, which no lookup returned",
		   desc->tfm);
}
