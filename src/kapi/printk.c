// SPDX-License-Identifier: GPL-2.0-only
/*
 * printk and its relatives (dev_*, netdev_*, print_hex_dump, WARN's message). Messages are formatted with the
 * kernel's vsnprintf semantics (format.c), split into lines, prefixed as the kernel prefixes them
 * ("e1000 0000:00:03.0 eth0: ...") and delivered to side's log one line at a time. A message without a trailing
 * newline waits in a per-CPU buffer for KERN_CONT continuations, as in the kernel.
 */
#include <linux/device.h>
#include <linux/kernel.h>
#include <linux/netdevice.h>
#include <linux/printk.h>
#include <linux/ratelimit.h>
#include <linux/string.h>
#include <asm/unaligned.h>

#include "format.h"
#include "kapi.h"

#define SIDE_LINE_MAX 1024

struct side_cont {
	int level;
	unsigned int len;
	char text[SIDE_LINE_MAX];
};
static DEFINE_PER_CPU(struct side_cont, side_cont);

static int side_symbol_hook(unsigned long addr, char *buf, side_fmt_size_t len, int mode)
{
	return side_host_symbolize(addr, buf, len, mode);
}

static struct side_fmt_hooks side_hooks = { .symbol = side_symbol_hook };

void side_kapi_printk_init(void)
{
	side_host_random(side_hooks.hash_key, sizeof(side_hooks.hash_key));
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list args)
{
	return side_fmt_vsnprintf(buf, size, fmt, args, &side_hooks);
}

int vscnprintf(char *buf, size_t size, const char *fmt, va_list args)
{
	return side_fmt_vscnprintf(buf, size, fmt, args, &side_hooks);
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list args;
	int n;

	va_start(args, fmt);
	n = vsnprintf(buf, size, fmt, args);
	va_end(args);
	return n;
}

int scnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list args;
	int n;

	va_start(args, fmt);
	n = vscnprintf(buf, size, fmt, args);
	va_end(args);
	return n;
}

int vsprintf(char *buf, const char *fmt, va_list args)
{
	return vsnprintf(buf, INT_MAX, fmt, args);
}

int sprintf(char *buf, const char *fmt, ...)
{
	va_list args;
	int n;

	va_start(args, fmt);
	n = vsnprintf(buf, INT_MAX, fmt, args);
	va_end(args);
	return n;
}

char *kvasprintf(gfp_t gfp, const char *fmt, va_list ap)
{
	va_list aq;
	int len;
	char *p;

	va_copy(aq, ap);
	len = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	p = kmalloc(len + 1, gfp);
	if (p)
		vsnprintf(p, len + 1, fmt, ap);
	return p;
}

char *kasprintf(gfp_t gfp, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = kvasprintf(gfp, fmt, ap);
	va_end(ap);
	return p;
}

static void side_emit(int level, const char *text, unsigned int len)
{
	side_host_log(level < 0 ? SIDE_LOG_DEFAULT : level, text, len);
}

static void side_flush_cont(struct side_cont *c)
{
	if (c->len) {
		side_emit(c->level, c->text, c->len);
		c->len = 0;
	}
}

/* Delivers formatted text: complete lines go out at once, a trailing partial line waits for KERN_CONT. */
static void side_deliver(int level, bool cont, const char *prefix, const char *text)
{
	struct side_cont *c;
	unsigned long flags;

	local_irq_save(flags);
	c = this_cpu_ptr(&side_cont);
	if (!cont)
		side_flush_cont(c);
	else if (level < 0)
		level = c->level;
	if (!c->len) {
		c->level = level;
		if (prefix)
			c->len = scnprintf(c->text, sizeof(c->text), "%s", prefix);
	}
	while (*text) {
		const char *nl = strchr(text, '\n');
		unsigned int n = nl ? nl - text : strlen(text);
		unsigned int room = sizeof(c->text) - 1 - c->len;

		if (n > room)
			n = room;
		memcpy(c->text + c->len, text, n);
		c->len += n;
		text += n;
		if (*text == '\n' || c->len == sizeof(c->text) - 1) {
			side_flush_cont(c);
			if (*text == '\n')
				text++;
			c->level = level;
			if (*text && prefix)
				c->len = scnprintf(c->text, sizeof(c->text), "%s", prefix);
		}
	}
	local_irq_restore(flags);
}

int side_vprintk_prefixed(int level, const char *prefix, const char *fmt, va_list args)
{
	char text[SIDE_LINE_MAX];
	const char *rest;
	int parsed_level, n, flags;

	flags = side_fmt_printk_level(fmt, &parsed_level, &rest);
	if (level < 0)
		level = parsed_level;
	n = vscnprintf(text, sizeof(text), rest, args);
	side_deliver(level, flags & SIDE_FMT_PRINTK_CONT, prefix, text);
	return n;
}

void side_log_text(int level, const char *prefix, const char *text)
{
	side_deliver(level, false, prefix, text);
}

asmlinkage int vprintk(const char *fmt, va_list args)
{
	return side_vprintk_prefixed(-1, NULL, fmt, args);
}

asmlinkage __visible int _printk(const char *fmt, ...)
{
	va_list args;
	int n;

	va_start(args, fmt);
	n = vprintk(fmt, args);
	va_end(args);
	return n;
}

/* lib/ratelimit.c: at most `burst` messages per `interval`; callers are told when to stay quiet. */
int ___ratelimit(struct ratelimit_state *rs, const char *func)
{
	unsigned long flags;
	int ret;

	if (!rs->interval)
		return 1;
	if (!raw_spin_trylock_irqsave(&rs->lock, flags))
		return 0;
	if (!rs->begin)
		rs->begin = jiffies;
	if (time_is_before_jiffies(rs->begin + rs->interval)) {
		if (rs->missed)
			pr_warn("%s: %d callbacks suppressed\n", func, rs->missed);
		rs->begin = jiffies;
		rs->printed = 0;
		rs->missed = 0;
	}
	if (rs->burst && rs->burst > rs->printed) {
		rs->printed++;
		ret = 1;
	} else {
		rs->missed++;
		ret = 0;
	}
	raw_spin_unlock_irqrestore(&rs->lock, flags);
	return ret;
}

static DEFINE_RATELIMIT_STATE(side_net_ratelimit_state, 5 * HZ, 10);

int net_ratelimit(void)
{
	return __ratelimit(&side_net_ratelimit_state);
}

int __printk_ratelimit(const char *func)
{
	return ___ratelimit(&side_net_ratelimit_state, func);
}

/* ---- devices */
const char *dev_driver_string(const struct device *dev)
{
	struct device_driver *drv = READ_ONCE(dev->driver);

	if (drv)
		return drv->name;
	if (dev->bus)
		return dev->bus->name;
	if (dev->class)
		return dev->class->name;
	return "";
}

static void side_dev_vprintk(int level, const struct device *dev, const char *fmt, va_list args)
{
	char prefix[128];

	if (dev)
		scnprintf(prefix, sizeof(prefix), "%s %s: ", dev_driver_string(dev), dev_name(dev));
	else
		scnprintf(prefix, sizeof(prefix), "(NULL device *): ");
	side_vprintk_prefixed(level, prefix, fmt, args);
}

#define SIDE_DEV_PRINTK(fn, level)                                         \
	void fn(const struct device *dev, const char *fmt, ...)            \
	{                                                                  \
		va_list args;                                              \
		va_start(args, fmt);                                       \
		side_dev_vprintk(level, dev, fmt, args);                   \
		va_end(args);                                              \
	}

SIDE_DEV_PRINTK(_dev_emerg, LOGLEVEL_EMERG)
SIDE_DEV_PRINTK(_dev_alert, LOGLEVEL_ALERT)
SIDE_DEV_PRINTK(_dev_crit, LOGLEVEL_CRIT)
SIDE_DEV_PRINTK(_dev_err, LOGLEVEL_ERR)
SIDE_DEV_PRINTK(_dev_warn, LOGLEVEL_WARNING)
SIDE_DEV_PRINTK(_dev_notice, LOGLEVEL_NOTICE)
SIDE_DEV_PRINTK(_dev_info, LOGLEVEL_INFO)

void _dev_printk(const char *level, const struct device *dev, const char *fmt, ...)
{
	va_list args;
	int lvl;

	side_fmt_printk_level(level, &lvl, NULL);
	va_start(args, fmt);
	side_dev_vprintk(lvl, dev, fmt, args);
	va_end(args);
}

int dev_printk_emit(int level, const struct device *dev, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	side_dev_vprintk(level, dev, fmt, args);
	va_end(args);
	return 0;
}

/* ---- network devices: "driver parent-device ifname: " as netdev_printk() does. */
static const char *side_netdev_reg_state(const struct net_device *dev)
{
	switch (dev->reg_state) {
	case NETREG_UNINITIALIZED:
		return " (uninitialized)";
	case NETREG_REGISTERED:
		return "";
	case NETREG_UNREGISTERING:
		return " (unregistering)";
	case NETREG_UNREGISTERED:
		return " (unregistered)";
	case NETREG_RELEASED:
		return " (released)";
	case NETREG_DUMMY:
		return " (dummy)";
	}
	return " (unknown)";
}

static const char *side_netdev_name(const struct net_device *dev)
{
	if (!dev->name[0] || strchr(dev->name, '%'))
		return "(unnamed net_device)";
	return dev->name;
}

static void side_netdev_vprintk(int level, const struct net_device *dev, const char *fmt, va_list args)
{
	char prefix[160];

	if (dev && dev->dev.parent)
		scnprintf(prefix, sizeof(prefix), "%s %s %s%s: ", dev_driver_string(dev->dev.parent),
			  dev_name(dev->dev.parent), side_netdev_name(dev), side_netdev_reg_state(dev));
	else if (dev)
		scnprintf(prefix, sizeof(prefix), "%s%s: ", side_netdev_name(dev), side_netdev_reg_state(dev));
	else
		scnprintf(prefix, sizeof(prefix), "(NULL net_device): ");
	side_vprintk_prefixed(level, prefix, fmt, args);
}

#define SIDE_NETDEV_PRINTK(fn, level)                                      \
	void fn(const struct net_device *dev, const char *fmt, ...)        \
	{                                                                  \
		va_list args;                                              \
		va_start(args, fmt);                                       \
		side_netdev_vprintk(level, dev, fmt, args);                \
		va_end(args);                                              \
	}

SIDE_NETDEV_PRINTK(netdev_emerg, LOGLEVEL_EMERG)
SIDE_NETDEV_PRINTK(netdev_alert, LOGLEVEL_ALERT)
SIDE_NETDEV_PRINTK(netdev_crit, LOGLEVEL_CRIT)
SIDE_NETDEV_PRINTK(netdev_err, LOGLEVEL_ERR)
SIDE_NETDEV_PRINTK(netdev_warn, LOGLEVEL_WARNING)
SIDE_NETDEV_PRINTK(netdev_notice, LOGLEVEL_NOTICE)
SIDE_NETDEV_PRINTK(netdev_info, LOGLEVEL_INFO)

void netdev_printk(const char *level, const struct net_device *dev, const char *fmt, ...)
{
	va_list args;
	int lvl;

	side_fmt_printk_level(level, &lvl, NULL);
	va_start(args, fmt);
	side_netdev_vprintk(lvl, dev, fmt, args);
	va_end(args);
}

/*
 * Dynamic debug. side leaves __jump_table unapplied, so every pr_debug()/dev_dbg() site keeps its compile-time
 * default (off) and these are reached only if a driver calls them directly; they then print at debug level.
 */
void __dynamic_pr_debug(struct _ddebug *descriptor, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	side_vprintk_prefixed(LOGLEVEL_DEBUG, NULL, fmt, args);
	va_end(args);
}

void __dynamic_dev_dbg(struct _ddebug *descriptor, const struct device *dev, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	side_dev_vprintk(LOGLEVEL_DEBUG, dev, fmt, args);
	va_end(args);
}

void __dynamic_netdev_dbg(struct _ddebug *descriptor, const struct net_device *dev, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	side_netdev_vprintk(LOGLEVEL_DEBUG, dev, fmt, args);
	va_end(args);
}

/* WARN(cond, fmt...) prints its message here, then executes ud2; the host prints the WARNING line. */
void __warn_printk(const char *fmt, ...)
{
	va_list args;

	side_log_text(LOGLEVEL_WARNING, NULL, "------------[ cut here ]------------\n");
	va_start(args, fmt);
	side_vprintk_prefixed(LOGLEVEL_WARNING, NULL, fmt, args);
	va_end(args);
}

/* ---- hex dumps (lib/hexdump.c) */
int hex_dump_to_buffer(const void *buf, size_t len, int rowsize, int groupsize, char *linebuf, size_t linebuflen,
		       bool ascii)
{
	const u8 *ptr = buf;
	int ngroups, i, lx = 0, ascii_column;

	if (rowsize != 16 && rowsize != 32)
		rowsize = 16;
	if (len > rowsize)
		len = rowsize;
	if (!is_power_of_2(groupsize) || groupsize > 8)
		groupsize = 1;
	if ((len % groupsize) != 0)
		groupsize = 1;
	ngroups = len / groupsize;
	ascii_column = rowsize * 2 + rowsize / groupsize + 1;
	if (!linebuflen)
		return ascii ? ascii_column + len : (groupsize * 2 + 1) * ngroups - 1;
	linebuf[0] = '\0';
	for (i = 0; i < ngroups; i++) {
		u64 v;

		switch (groupsize) {
		case 8:
			v = get_unaligned((const u64 *)(ptr + i * 8));
			break;
		case 4:
			v = get_unaligned((const u32 *)(ptr + i * 4));
			break;
		case 2:
			v = get_unaligned((const u16 *)(ptr + i * 2));
			break;
		default:
			v = ptr[i];
		}
		lx += scnprintf(linebuf + lx, linebuflen - lx, "%s%0*llx", i ? " " : "", groupsize * 2, v);
	}
	if (ascii) {
		while (lx < ascii_column && lx < (int)linebuflen - 1)
			linebuf[lx++] = ' ';
		for (i = 0; i < (int)len && lx < (int)linebuflen - 1; i++)
			linebuf[lx++] = (isascii(ptr[i]) && isprint(ptr[i])) ? ptr[i] : '.';
		linebuf[lx] = '\0';
	}
	return lx;
}

void print_hex_dump(const char *level, const char *prefix_str, int prefix_type, int rowsize, int groupsize,
		    const void *buf, size_t len, bool ascii)
{
	const u8 *ptr = buf;
	size_t i, linelen, remaining = len;
	char linebuf[32 * 3 + 2 + 32 + 1];
	int lvl;

	side_fmt_printk_level(level, &lvl, NULL);
	if (rowsize != 16 && rowsize != 32)
		rowsize = 16;
	for (i = 0; i < len; i += rowsize) {
		char line[256];

		linelen = min(remaining, (size_t)rowsize);
		remaining -= rowsize;
		hex_dump_to_buffer(ptr + i, linelen, rowsize, groupsize, linebuf, sizeof(linebuf), ascii);
		switch (prefix_type) {
		case DUMP_PREFIX_ADDRESS:
			scnprintf(line, sizeof(line), "%s%p: %s\n", prefix_str, ptr + i, linebuf);
			break;
		case DUMP_PREFIX_OFFSET:
			scnprintf(line, sizeof(line), "%s%.8zx: %s\n", prefix_str, i, linebuf);
			break;
		default:
			scnprintf(line, sizeof(line), "%s%s\n", prefix_str, linebuf);
		}
		side_log_text(lvl, NULL, line);
	}
}
