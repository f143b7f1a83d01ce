// SPDX-License-Identifier: GPL-2.0-only
/*
 * CPU hotplug states (kernel/cpu.c): drivers register callbacks for CPUs coming and going, and instances of
 * multi-instance states. A domain's virtual CPUs are all online from its start to its end and none is ever
 * plugged or unplugged, so callbacks run only when a registration asks for them to be invoked (on the CPUs online
 * now, called from the registering CPU), and the hotplug lock is never taken for writing: readers never wait.
 */
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/list.h>

#include "kapi.h"

struct side_cpuhp_step {
	const char *name;
	int (*startup)(unsigned int cpu);
	int (*teardown)(unsigned int cpu);
	bool multi_instance;
	struct hlist_head list;
};

static DEFINE_MUTEX(side_cpuhp_mutex);
static struct side_cpuhp_step side_cpuhp_steps[CPUHP_ONLINE + 1];
static atomic_t side_cpus_readers = ATOMIC_INIT(0);

void cpus_read_lock(void)
{
	might_sleep();
	atomic_inc(&side_cpus_readers);
}

void cpus_read_unlock(void)
{
	if (atomic_dec_return(&side_cpus_readers) < 0)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "cpus_read_unlock() without cpus_read_lock()");
}

/* cpuhp_reserve_state(): the first free dynamic slot of the range `state` names, or the fixed state itself. */
static int side_cpuhp_slot(enum cpuhp_state state, const char *name)
{
	int first, last, i;

	if (state == CPUHP_AP_ONLINE_DYN) {
		first = CPUHP_AP_ONLINE_DYN;
		last = CPUHP_AP_ONLINE_DYN_END;
	} else if (state == CPUHP_BP_PREPARE_DYN) {
		first = CPUHP_BP_PREPARE_DYN;
		last = CPUHP_BP_PREPARE_DYN_END;
	} else {
		if (state <= CPUHP_OFFLINE || state >= CPUHP_ONLINE)
			return -EINVAL;
		return side_cpuhp_steps[state].name && name ? -EBUSY : state;
	}
	for (i = first; i <= last; i++)
		if (!side_cpuhp_steps[i].name)
			return i;
	WARN(1, "No more dynamic states available for CPU hotplug\n");
	return -ENOSPC;
}

typedef int (*side_cpuhp_multi_fn)(unsigned int cpu, struct hlist_node *node);

/* Calls `fn` for each online CPU; on a failure, `undo` for those done, and the error. */
static int side_cpuhp_each(struct side_cpuhp_step *sp, struct hlist_node *node, bool up)
{
	void *fn = up ? (void *)sp->startup : (void *)sp->teardown;
	void *undo = up ? (void *)sp->teardown : NULL;
	unsigned int cpu, done;
	int ret = 0;

	if (!fn)
		return 0;
	for_each_online_cpu(cpu) {
		ret = sp->multi_instance ? ((side_cpuhp_multi_fn)fn)(cpu, node) : ((int (*)(unsigned int))fn)(cpu);
		if (ret)
			break;
	}
	if (!ret || !undo)
		return ret;
	for_each_online_cpu(done) {
		if (done == cpu)
			break;
		if (sp->multi_instance)
			((side_cpuhp_multi_fn)undo)(done, node);
		else
			((int (*)(unsigned int))undo)(done);
	}
	return ret;
}

int __cpuhp_setup_state(enum cpuhp_state state, const char *name, bool invoke, int (*startup)(unsigned int cpu),
			int (*teardown)(unsigned int cpu), bool multi_instance)
{
	struct side_cpuhp_step *sp;
	int slot, ret = 0;

	if (!name)
		return -EINVAL;
	mutex_lock(&side_cpuhp_mutex);
	slot = side_cpuhp_slot(state, name);
	if (slot < 0) {
		mutex_unlock(&side_cpuhp_mutex);
		return slot;
	}
	sp = &side_cpuhp_steps[slot];
	sp->name = name;
	sp->startup = startup;
	sp->teardown = teardown;
	sp->multi_instance = multi_instance;
	INIT_HLIST_HEAD(&sp->list);
	/* A multi-instance state has no instance yet: there is nothing to invoke. */
	if (invoke && !multi_instance)
		ret = side_cpuhp_each(sp, NULL, true);
	if (ret)
		memset(sp, 0, sizeof(*sp));
	mutex_unlock(&side_cpuhp_mutex);
	if (ret)
		return ret;
	/* A dynamic state is returned to its caller, who removes it with it; a fixed one is 0. */
	return (state == CPUHP_AP_ONLINE_DYN || state == CPUHP_BP_PREPARE_DYN) ? slot : 0;
}

static struct side_cpuhp_step *side_cpuhp_step(enum cpuhp_state state, unsigned long caller)
{
	if (state <= CPUHP_OFFLINE || state >= CPUHP_ONLINE || !side_cpuhp_steps[state].name)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, caller, "CPU hotplug state %d is not set up", state);
	return &side_cpuhp_steps[state];
}

void __cpuhp_remove_state(enum cpuhp_state state, bool invoke)
{
	struct side_cpuhp_step *sp = side_cpuhp_step(state, SIDE_CALLER);

	mutex_lock(&side_cpuhp_mutex);
	if (sp->multi_instance)
		WARN(!hlist_empty(&sp->list), "Error: Removing state %d which has instances left.\n", state);
	else if (invoke)
		side_cpuhp_each(sp, NULL, false);
	memset(sp, 0, sizeof(*sp));
	mutex_unlock(&side_cpuhp_mutex);
}

int __cpuhp_state_add_instance(enum cpuhp_state state, struct hlist_node *node, bool invoke)
{
	struct side_cpuhp_step *sp = side_cpuhp_step(state, SIDE_CALLER);
	int ret = 0;

	if (!sp->multi_instance)
		return -EINVAL;
	mutex_lock(&side_cpuhp_mutex);
	if (invoke)
		ret = side_cpuhp_each(sp, node, true);
	if (!ret)
		hlist_add_head(node, &sp->list);
	mutex_unlock(&side_cpuhp_mutex);
	return ret;
}

int __cpuhp_state_remove_instance(enum cpuhp_state state, struct hlist_node *node, bool invoke)
{
	struct side_cpuhp_step *sp = side_cpuhp_step(state, SIDE_CALLER);

	if (!sp->multi_instance)
		return -EINVAL;
	mutex_lock(&side_cpuhp_mutex);
	if (invoke)
		side_cpuhp_each(sp, node, false);
	hlist_del(node);
	mutex_unlock(&side_cpuhp_mutex);
	return 0;
}
