// SPDX-License-Identifier: GPL-2.0-only
/*
 * Module parameters (kernel/params.c semantics): the standard kernel_param_ops, arrays, the kstrto*() parsers they
 * use, and parse_args() for "name=value ..." given on side's command line as to insmod.
 */
#include <linux/ctype.h>
#include <linux/kernel.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "kapi.h"

/* ---- kstrto*: base 0 detects 0x / 0 prefixes; a single trailing newline is allowed; overflow is -ERANGE. */
static int side_parse_ull(const char *s, unsigned int base, unsigned long long *res)
{
	unsigned long long acc = 0;
	bool any = false;

	if (base == 0) {
		if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isxdigit(s[2]))
			base = 16, s += 2;
		else if (s[0] == '0')
			base = 8;
		else
			base = 10;
	} else if (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
	}
	for (; *s; s++) {
		unsigned int v;

		if (isdigit(*s))
			v = *s - '0';
		else if (isalpha(*s))
			v = tolower(*s) - 'a' + 10;
		else
			break;
		if (v >= base)
			break;
		if (acc > (ULLONG_MAX - v) / base)
			return -ERANGE;
		acc = acc * base + v;
		any = true;
	}
	if (!any)
		return -EINVAL;
	if (*s == '\n')
		s++;
	if (*s)
		return -EINVAL;
	*res = acc;
	return 0;
}

int kstrtoull(const char *s, unsigned int base, unsigned long long *res)
{
	if (s[0] == '+')
		s++;
	return side_parse_ull(s, base, res);
}

int kstrtoll(const char *s, unsigned int base, long long *res)
{
	unsigned long long tmp;
	int rv;

	if (s[0] == '-') {
		rv = side_parse_ull(s + 1, base, &tmp);
		if (rv < 0)
			return rv;
		if ((long long)-tmp > 0)
			return -ERANGE;
		*res = -tmp;
	} else {
		rv = kstrtoull(s, base, &tmp);
		if (rv < 0)
			return rv;
		if ((long long)tmp < 0)
			return -ERANGE;
		*res = tmp;
	}
	return 0;
}

int _kstrtoul(const char *s, unsigned int base, unsigned long *res)
{
	unsigned long long tmp;
	int rv = kstrtoull(s, base, &tmp);

	if (!rv)
		*res = tmp;
	return rv;
}

int _kstrtol(const char *s, unsigned int base, long *res)
{
	long long tmp;
	int rv = kstrtoll(s, base, &tmp);

	if (!rv)
		*res = tmp;
	return rv;
}

#define SIDE_KSTRTO(name, type, wide, parse)                                  \
	int name(const char *s, unsigned int base, type *res)                 \
	{                                                                     \
		wide tmp;                                                     \
		int rv = parse(s, base, &tmp);                                \
		if (rv < 0)                                                   \
			return rv;                                            \
		if (tmp != (wide)(type)tmp)                                   \
			return -ERANGE;                                       \
		*res = tmp;                                                   \
		return 0;                                                     \
	}

SIDE_KSTRTO(kstrtouint, unsigned int, unsigned long long, kstrtoull)
SIDE_KSTRTO(kstrtoint, int, long long, kstrtoll)
SIDE_KSTRTO(kstrtou16, u16, unsigned long long, kstrtoull)
SIDE_KSTRTO(kstrtos16, s16, long long, kstrtoll)
SIDE_KSTRTO(kstrtou8, u8, unsigned long long, kstrtoull)
SIDE_KSTRTO(kstrtos8, s8, long long, kstrtoll)

int kstrtobool(const char *s, bool *res)
{
	if (!s)
		return -EINVAL;
	switch (s[0]) {
	case 'y': case 'Y': case 't': case 'T': case '1':
		*res = true;
		return 0;
	case 'n': case 'N': case 'f': case 'F': case '0':
		*res = false;
		return 0;
	case 'o': case 'O':
		if (s[1] == 'n' || s[1] == 'N') {
			*res = true;
			return 0;
		}
		if (s[1] == 'f' || s[1] == 'F') {
			*res = false;
			return 0;
		}
		break;
	}
	return -EINVAL;
}

/* ---- standard parameter types */
#define SIDE_PARAM(name, type, format, strtolfn)                                        \
	int param_set_##name(const char *val, const struct kernel_param *kp)            \
	{                                                                               \
		if (!val)                                                               \
			return -EINVAL;                                                 \
		return strtolfn(val, 0, (type *)kp->arg);                               \
	}                                                                               \
	int param_get_##name(char *buffer, const struct kernel_param *kp)               \
	{                                                                               \
		return scnprintf(buffer, PAGE_SIZE, format "\n", *((type *)kp->arg));   \
	}                                                                               \
	const struct kernel_param_ops param_ops_##name = {                              \
		.set = param_set_##name,                                                \
		.get = param_get_##name,                                                \
	};

SIDE_PARAM(byte, unsigned char, "%hhu", kstrtou8)
SIDE_PARAM(short, short, "%hi", kstrtos16)
SIDE_PARAM(ushort, unsigned short, "%hu", kstrtou16)
SIDE_PARAM(int, int, "%i", kstrtoint)
SIDE_PARAM(uint, unsigned int, "%u", kstrtouint)
SIDE_PARAM(long, long, "%li", _kstrtol)
SIDE_PARAM(ulong, unsigned long, "%lu", _kstrtoul)
SIDE_PARAM(ullong, unsigned long long, "%llu", kstrtoull)

int param_set_bool(const char *val, const struct kernel_param *kp)
{
	/* No value means "set", as for a bare "name" on the command line. */
	if (!val)
		val = "1";
	return kstrtobool(val, kp->arg);
}

int param_get_bool(char *buffer, const struct kernel_param *kp)
{
	return sprintf(buffer, "%c\n", *(bool *)kp->arg ? 'Y' : 'N');
}

const struct kernel_param_ops param_ops_bool = {
	.flags = KERNEL_PARAM_OPS_FL_NOARG,
	.set = param_set_bool,
	.get = param_get_bool,
};

int param_set_invbool(const char *val, const struct kernel_param *kp)
{
	bool b;
	int ret = kstrtobool(val ? val : "1", &b);

	if (!ret)
		*(bool *)kp->arg = !b;
	return ret;
}

int param_get_invbool(char *buffer, const struct kernel_param *kp)
{
	return sprintf(buffer, "%c\n", *(bool *)kp->arg ? 'N' : 'Y');
}

const struct kernel_param_ops param_ops_invbool = {
	.set = param_set_invbool,
	.get = param_get_invbool,
};

int param_set_charp(const char *val, const struct kernel_param *kp)
{
	char *copy;

	if (!val)
		return -EINVAL;
	if (strlen(val) > 1024)
		return -ENOSPC;
	copy = kstrdup(val, GFP_KERNEL);
	if (!copy)
		return -ENOMEM;
	/* The previous value may be the module's static default: it is never freed (as the kernel's
	 * maybe_kfree_parameter() only frees what it allocated, side simply keeps it). */
	*(char **)kp->arg = copy;
	return 0;
}

int param_get_charp(char *buffer, const struct kernel_param *kp)
{
	return scnprintf(buffer, PAGE_SIZE, "%s\n", *((char **)kp->arg) ? *((char **)kp->arg) : "(null)");
}

void param_free_charp(void *arg)
{
}

const struct kernel_param_ops param_ops_charp = {
	.set = param_set_charp,
	.get = param_get_charp,
	.free = param_free_charp,
};

int param_set_copystring(const char *val, const struct kernel_param *kp)
{
	const struct kparam_string *kps = kp->str;

	if (!val)
		return -EINVAL;
	if (strlen(val) + 1 > kps->maxlen) {
		pr_err("%s: string doesn't fit in %u chars.\n", kp->name, kps->maxlen - 1);
		return -ENOSPC;
	}
	strcpy(kps->string, val);
	return 0;
}

int param_get_string(char *buffer, const struct kernel_param *kp)
{
	return scnprintf(buffer, PAGE_SIZE, "%s\n", kp->str->string);
}

const struct kernel_param_ops param_ops_string = {
	.set = param_set_copystring,
	.get = param_get_string,
};

/* Arrays: comma-separated values, each set through the element type's ops. */
static int param_array_set(const char *val, const struct kernel_param *kp)
{
	const struct kparam_array *arr = kp->arr;
	unsigned int temp_num;
	unsigned int *num = arr->num ? arr->num : &temp_num;
	struct kernel_param elem = *kp;
	char buf[256];
	const char *p = val;
	unsigned int count = 0;

	if (!val)
		return -EINVAL;
	do {
		size_t len = strcspn(p, ",");
		int ret;

		if (count >= arr->max) {
			pr_err("%s: can only take %i arguments\n", kp->name, arr->max);
			return -EINVAL;
		}
		if (len >= sizeof(buf))
			return -ENOSPC;
		memcpy(buf, p, len);
		buf[len] = '\0';
		elem.arg = (char *)arr->elem + (size_t)arr->elemsize * count;
		ret = arr->ops->set(buf, &elem);
		if (ret)
			return ret;
		count++;
		p += len;
	} while (*p++ == ',');
	*num = count;
	return 0;
}

static int param_array_get(char *buffer, const struct kernel_param *kp)
{
	const struct kparam_array *arr = kp->arr;
	struct kernel_param elem = *kp;
	unsigned int i, n = arr->num ? *arr->num : arr->max;
	int off = 0, ret;

	for (i = 0; i < n; i++) {
		if (i)
			buffer[off - 1] = ',';
		elem.arg = (char *)arr->elem + (size_t)arr->elemsize * i;
		ret = arr->ops->get(buffer + off, &elem);
		if (ret < 0)
			return ret;
		off += ret;
	}
	buffer[off] = '\0';
	return off;
}

const struct kernel_param_ops param_array_ops = {
	.set = param_array_set,
	.get = param_array_get,
};

size_t strcspn(const char *s, const char *reject)
{
	const char *p;

	for (p = s; *p; p++)
		if (strchr(reject, *p))
			break;
	return p - s;
}

size_t strspn(const char *s, const char *accept)
{
	const char *p;

	for (p = s; *p; p++)
		if (!strchr(accept, *p))
			break;
	return p - s;
}

/* ---- parse_args */
static bool side_param_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;

		if (x != y)
			return false;
	}
	return *a == *b;
}

/* Splits off the next "name[=value]" (value may be double-quoted); returns the rest of the string. */
static char *side_next_arg(char *args, char **param, char **val)
{
	unsigned int i, equals = 0;
	bool in_quote = false, quoted = false;

	if (*args == '"') {
		args++;
		in_quote = true;
		quoted = true;
	}
	for (i = 0; args[i]; i++) {
		if (isspace(args[i]) && !in_quote)
			break;
		if (equals == 0 && args[i] == '=')
			equals = i;
		if (args[i] == '"')
			in_quote = !in_quote;
	}
	*param = args;
	if (!equals) {
		*val = NULL;
	} else {
		args[equals] = '\0';
		*val = args + equals + 1;
		if (**val == '"') {
			(*val)++;
			if (args[i - 1] == '"')
				args[i - 1] = '\0';
		}
	}
	if (quoted && i > 0 && args[i - 1] == '"')
		args[i - 1] = '\0';
	if (args[i]) {
		args[i] = '\0';
		args += i + 1;
	} else {
		args += i;
	}
	return skip_spaces(args);
}

int side_kapi_parse_params(const char *module, char *args, void *params, unsigned int nr_params)
{
	struct kernel_param *kps = params;

	args = skip_spaces(args);
	while (*args) {
		char *param, *val;
		unsigned int i;
		bool found = false;

		args = side_next_arg(args, &param, &val);
		for (i = 0; i < nr_params; i++) {
			int err;

			if (!side_param_eq(param, kps[i].name))
				continue;
			found = true;
			if (!val && !(kps[i].ops->flags & KERNEL_PARAM_OPS_FL_NOARG)) {
				pr_err("%s: parameter '%s' needs a value\n", module, param);
				return -EINVAL;
			}
			err = kps[i].ops->set(val, &kps[i]);
			if (err) {
				pr_err("%s: '%s' invalid for parameter '%s'\n", module, val ? val : "", param);
				return err;
			}
			break;
		}
		if (!found)
			pr_warn("%s: unknown parameter '%s' ignored\n", module, param);
	}
	return 0;
}

/* A parameter's set() that accepts an unsigned int within [min, max] (kernel/params.c). */
int param_set_uint_minmax(const char *val, const struct kernel_param *kp, unsigned int min, unsigned int max)
{
	unsigned int num;
	int ret;

	if (!val)
		return -EINVAL;
	ret = kstrtouint(val, 0, &num);
	if (ret)
		return ret;
	if (num < min || num > max)
		return -EINVAL;
	*((unsigned int *)kp->arg) = num;
	return 0;
}
