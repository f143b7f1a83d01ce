// SPDX-License-Identifier: GPL-2.0-only
/*
 * What a driver does to sysfs and to user space's device events. A domain exports no sysfs and has no uevent
 * listener (no netlink socket, no helper), but the rules a driver can run into are kept: a symbolic link is
 * created once per name in its directory (a second is -EEXIST, as sysfs_warn_dup reports it) and removed by name;
 * an event is composed as kobject_uevent_env composes it (ACTION, the object's name, the caller's variables) and
 * then reaches nobody, which is what a kernel with no listener does with it.
 */
#include <linux/blkdev.h>
#include <linux/kobject.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "kapi.h"

struct side_sysfs_link {
	struct list_head node;
	struct kobject *dir;
	char name[64];
};

static DEFINE_MUTEX(side_links_lock);
static LIST_HEAD(side_links);

static struct side_sysfs_link *side_find_link(struct kobject *dir, const char *name)
{
	struct side_sysfs_link *l;

	list_for_each_entry(l, &side_links, node) {
		if (l->dir == dir && !strcmp(l->name, name))
			return l;
	}
	return NULL;
}

int sysfs_create_link(struct kobject *kobj, struct kobject *target, const char *name)
{
	struct side_sysfs_link *l;
	int ret = 0;

	if (!target || !name || strlen(name) >= sizeof(l->name))
		return -EINVAL;
	l = kzalloc(sizeof(*l), GFP_KERNEL);
	if (!l)
		return -ENOMEM;
	l->dir = kobj;
	strscpy(l->name, name, sizeof(l->name));
	mutex_lock(&side_links_lock);
	if (side_find_link(kobj, name)) {
		pr_err("sysfs: cannot create duplicate filename '%s/%s'\n", kobj ? kobject_name(kobj) : "", name);
		ret = -EEXIST;
	} else {
		list_add(&l->node, &side_links);
	}
	mutex_unlock(&side_links_lock);
	if (ret)
		kfree(l);
	return ret;
}

void sysfs_remove_link(struct kobject *kobj, const char *name)
{
	struct side_sysfs_link *l;

	mutex_lock(&side_links_lock);
	l = side_find_link(kobj, name);
	if (l)
		list_del(&l->node);
	mutex_unlock(&side_links_lock);
	kfree(l);
}

static const char *const side_uevent_actions[] = {
	[KOBJ_ADD] = "add",	  [KOBJ_REMOVE] = "remove", [KOBJ_CHANGE] = "change", [KOBJ_MOVE] = "move",
	[KOBJ_ONLINE] = "online", [KOBJ_OFFLINE] = "offline", [KOBJ_BIND] = "bind",   [KOBJ_UNBIND] = "unbind",
};

int kobject_uevent_env(struct kobject *kobj, enum kobject_action action, char *envp_ext[])
{
	struct kobj_uevent_env *env;
	int i, ret = 0;

	if (action >= ARRAY_SIZE(side_uevent_actions) || !side_uevent_actions[action])
		return -EINVAL;
	if (kobj->uevent_suppress)
		return 0;
	env = kzalloc(sizeof(*env), GFP_KERNEL);
	if (!env)
		return -ENOMEM;
	ret = add_uevent_var(env, "ACTION=%s", side_uevent_actions[action]);
	if (!ret)
		ret = add_uevent_var(env, "DEVPATH=/%s", kobject_name(kobj) ?: "");
	for (i = 0; !ret && envp_ext && envp_ext[i]; i++)
		ret = add_uevent_var(env, "%s", envp_ext[i]);
	if (!ret)
		pr_debug("uevent %s (%d variables): no listener in a driver domain\n", env->envp[0], env->envp_idx);
	kfree(env);
	return ret;
}

int kobject_uevent(struct kobject *kobj, enum kobject_action action)
{
	return kobject_uevent_env(kobj, action, NULL);
}

/* The disk and each of its partitions: a domain's disks have no partitions of their own (part0 only). */
void disk_uevent(struct gendisk *disk, enum kobject_action action)
{
	kobject_uevent(&disk_to_dev(disk)->kobj, action);
}
