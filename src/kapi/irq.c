// SPDX-License-Identifier: GPL-2.0-only
/*
 * Interrupt lines. The host asserts a line by calling side_kapi_irq() on virtual CPU 1, which runs the line's
 * handlers in hard-interrupt context (HARDIRQ_OFFSET in the preempt count, the virtual interrupt flag clear, as the
 * CPU leaves it) and then pending softirqs, as irq_exit() does.
 *
 * Semantics follow kernel/irq/manage.c: shared lines need IRQF_SHARED on every action; disable_irq() nests; an
 * interrupt arriving while its line is disabled is remembered and replayed once enable_irq() balances the last
 * disable. The kernel replays from a tasklet (softirq context, on the CPU that enables); side replays from the
 * timer softirq on virtual CPU 1, the only CPU that runs handlers, so handlers never run concurrently with each
 * other, and enable_irq() never calls a handler from the context of its caller (which may hold the locks the
 * handler takes).
 *
 * Threaded handlers: when the primary handler returns IRQ_WAKE_THREAD, thread_fn runs in process context on the
 * worker CPU (2), as the irq thread would; with IRQF_ONESHOT the line stays masked until it returns.
 */
#include <linux/interrupt.h>
#include <linux/irq.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "kapi.h"

/* Lines the domain can have; a device's line (pci_dev->irq) comes from the host and is below this. */
#define SIDE_NR_IRQS 256
#define SIDE_IRQ_WAIT_NS (10ULL * NSEC_PER_SEC)
#define SIDE_THREAD_RUN 0

struct side_irq_action {
	struct irqaction action;
	struct work_struct thread_work;
	unsigned int irq;
};

struct side_irq_desc {
	spinlock_t lock;
	struct irqaction *actions;
	unsigned int depth;     /* disable_irq() nesting; a line without handlers is "shut down" (1) */
	bool pending;           /* arrived while disabled or masked */
	bool resend;            /* to be replayed by the timer softirq */
	bool oneshot_masked;    /* a IRQF_ONESHOT thread has not finished */
	atomic_t in_progress;   /* hard handlers running */
	atomic_t threads_active;
};

static struct side_irq_desc side_irqs[SIDE_NR_IRQS];
/* The line whose hard handlers vCPU 1 is running (synchronize_irq() from inside them would never return). */
static struct side_irq_desc *side_irq_running;

static struct side_irq_desc *side_desc(unsigned int irq)
{
	return irq < SIDE_NR_IRQS ? &side_irqs[irq] : NULL;
}

static irqreturn_t side_default_primary_handler(int irq, void *dev_id)
{
	return IRQ_WAKE_THREAD;
}

static void side_irq_thread(struct work_struct *work)
{
	struct side_irq_action *sa = container_of(work, struct side_irq_action, thread_work);
	struct irqaction *a = &sa->action;
	struct side_irq_desc *desc = side_desc(sa->irq);
	unsigned long flags;
	bool replay;

	if (!test_and_clear_bit(SIDE_THREAD_RUN, &a->thread_flags))
		return;
	a->thread_fn(sa->irq, a->dev_id);
	spin_lock_irqsave(&desc->lock, flags);
	if (a->flags & IRQF_ONESHOT)
		desc->oneshot_masked = false;
	replay = desc->pending && !desc->depth && !desc->oneshot_masked;
	if (replay)
		desc->resend = true;
	spin_unlock_irqrestore(&desc->lock, flags);
	atomic_dec(&desc->threads_active);
	if (replay)
		side_raise_timer_softirq();
}

static void side_wake_thread(struct side_irq_desc *desc, struct irqaction *a)
{
	struct side_irq_action *sa = container_of(a, struct side_irq_action, action);

	if (a->flags & IRQF_ONESHOT) {
		spin_lock(&desc->lock);
		desc->oneshot_masked = true;
		spin_unlock(&desc->lock);
	}
	if (!test_and_set_bit(SIDE_THREAD_RUN, &a->thread_flags)) {
		atomic_inc(&desc->threads_active);
		queue_work(system_highpri_wq, &sa->thread_work);
	}
}

/* Runs every action of a line in hard-interrupt context; returns whether one of them claimed the interrupt. */
static bool side_handle_irq(unsigned int irq, struct side_irq_desc *desc)
{
	unsigned long virq = this_cpu_read(side_virq_flags);
	struct side_irq_desc *outer = side_irq_running;
	struct irqaction *a;
	bool handled = false;

	__preempt_count_add(HARDIRQ_OFFSET);
	this_cpu_write(side_virq_flags, 0);
	side_irq_running = desc;
	for (a = READ_ONCE(desc->actions); a; a = READ_ONCE(a->next)) {
		int count = preempt_count();
		irqreturn_t res = a->handler(irq, a->dev_id);

		if (!irqs_disabled()) {
			pr_warn("WARNING: irq %u handler %pS enabled interrupts\n", irq, a->handler);
			this_cpu_write(side_virq_flags, 0);
		}
		if (preempt_count() != count) {
			pr_err("BUG: irq %u handler %pS leaked preempt count %#x -> %#x\n", irq, a->handler, count,
			       preempt_count());
			preempt_count_set(count);
		}
		if (res == IRQ_WAKE_THREAD) {
			if (!a->thread_fn)
				pr_warn("IRQ %d device %s returned IRQ_WAKE_THREAD but no thread function available.\n",
					irq, a->name);
			else
				side_wake_thread(desc, a);
			handled = true;
		} else if (res & IRQ_HANDLED) {
			handled = true;
		}
	}
	side_irq_running = outer;
	this_cpu_write(side_virq_flags, virq);
	__preempt_count_sub(HARDIRQ_OFFSET);
	return handled;
}

/* Claims the line for one delivery; false if it must wait (disabled, masked) or has no handler. */
static bool side_irq_begin(struct side_irq_desc *desc)
{
	unsigned long flags;
	bool run;

	spin_lock_irqsave(&desc->lock, flags);
	run = desc->actions && !desc->depth && !desc->oneshot_masked;
	if (run)
		atomic_inc(&desc->in_progress);
	else if (desc->actions)
		desc->pending = true;
	else
		desc->pending = false;
	if (run)
		desc->pending = false;
	spin_unlock_irqrestore(&desc->lock, flags);
	return run;
}

bool side_irq_has_action(unsigned int irq)
{
	struct side_irq_desc *desc = side_desc(irq);

	return desc && READ_ONCE(desc->actions);
}

int side_kapi_irq(side_u32 irq)
{
	struct side_irq_desc *desc = side_desc(irq);
	bool handled;

	if (!desc || !side_irq_begin(desc))
		return 0;
	handled = side_handle_irq(irq, desc);
	atomic_dec(&desc->in_progress);
	/* irq_exit(): softirqs raised by the handlers (NAPI) run now. */
	side_kapi_softirq();
	side_rcu_quiescent_state();
	return handled;
}

/* Replays lines enable_irq() found pending; called from the timer softirq on vCPU 1. */
void side_irq_resend(void)
{
	unsigned int irq;

	for (irq = 0; irq < SIDE_NR_IRQS; irq++) {
		struct side_irq_desc *desc = &side_irqs[irq];
		unsigned long flags;
		bool resend;

		if (!READ_ONCE(desc->resend))
			continue;
		spin_lock_irqsave(&desc->lock, flags);
		resend = desc->resend;
		desc->resend = false;
		spin_unlock_irqrestore(&desc->lock, flags);
		if (resend && side_irq_begin(desc)) {
			side_handle_irq(irq, desc);
			atomic_dec(&desc->in_progress);
		}
	}
}

int request_threaded_irq(unsigned int irq, irq_handler_t handler, irq_handler_t thread_fn, unsigned long irqflags,
			 const char *devname, void *dev_id)
{
	struct side_irq_desc *desc;
	struct side_irq_action *sa;
	struct irqaction *old, **tail;
	unsigned long flags;
	bool first;

	if (irq == IRQ_NOTCONNECTED)
		return -ENOTCONN;
	/* The same argument checks as the kernel's, in its order. */
	if (((irqflags & IRQF_SHARED) && !dev_id) || ((irqflags & IRQF_SHARED) && (irqflags & IRQF_NO_AUTOEN)) ||
	    (!(irqflags & IRQF_SHARED) && (irqflags & IRQF_COND_SUSPEND)) ||
	    ((irqflags & IRQF_NO_SUSPEND) && (irqflags & IRQF_COND_SUSPEND)))
		return -EINVAL;
	desc = side_desc(irq);
	if (!desc)
		return -EINVAL;
	if (!handler) {
		if (!thread_fn)
			return -EINVAL;
		handler = side_default_primary_handler;
		if (!(irqflags & IRQF_ONESHOT)) {
			pr_err("Threaded irq requested with handler=NULL and !ONESHOT for %s (irq %d)\n", devname, irq);
			return -EINVAL;
		}
	}
	sa = kzalloc(sizeof(*sa), GFP_KERNEL);
	if (!sa)
		return -ENOMEM;
	sa->irq = irq;
	sa->action.handler = handler;
	sa->action.thread_fn = thread_fn;
	sa->action.flags = irqflags;
	sa->action.name = devname;
	sa->action.dev_id = dev_id;
	sa->action.irq = irq;
	INIT_WORK(&sa->thread_work, side_irq_thread);

	spin_lock_irqsave(&desc->lock, flags);
	old = desc->actions;
	if (old && (!(old->flags & irqflags & IRQF_SHARED) || ((old->flags ^ irqflags) & IRQF_TRIGGER_MASK) ||
		    ((old->flags ^ irqflags) & IRQF_ONESHOT))) {
		unsigned int oldflags = old->flags;
		const char *oldname = old->name;

		spin_unlock_irqrestore(&desc->lock, flags);
		if (!(irqflags & IRQF_PROBE_SHARED))
			pr_err("Flags mismatch irq %d. %08x (%s) vs. %08x (%s)\n", irq, (unsigned int)irqflags,
			       devname, oldflags, oldname);
		kfree(sa);
		return -EBUSY;
	}
	for (tail = &desc->actions; *tail; tail = &(*tail)->next)
		;
	first = !old;
	if (first) {
		desc->depth = (irqflags & IRQF_NO_AUTOEN) ? 1 : 0;
		desc->pending = false;
		desc->resend = false;
		desc->oneshot_masked = false;
	}
	WRITE_ONCE(*tail, &sa->action);
	spin_unlock_irqrestore(&desc->lock, flags);
	if (first) {
		side_msi_irq_startup(irq, true);
		side_host_irq_attach(irq, 1);
	}
	return 0;
}

int request_any_context_irq(unsigned int irq, irq_handler_t handler, unsigned long flags, const char *name,
			    void *dev_id)
{
	int ret = request_threaded_irq(irq, handler, NULL, flags, name, dev_id);

	return ret ? ret : IRQC_IS_HARDIRQ;
}

/* Waits for the line's hard handlers (and, with `threads`, its threaded handlers) to finish. */
static bool side_irq_wait(unsigned int irq, struct side_irq_desc *desc, bool threads, unsigned long caller)
{
	u64 start = 0;

	for (;;) {
		bool busy = atomic_read(&desc->in_progress) || (threads && atomic_read(&desc->threads_active));

		if (!busy)
			return !atomic_read(&desc->threads_active);
		if (side_irq_running == desc && in_hardirq())
			side_fault(SIDE_FAULT_DEADLOCK, caller, "waiting for IRQ %u from its own handler", irq);
		if (threads && atomic_read(&desc->threads_active) && current_work() &&
		    current_work()->func == side_irq_thread &&
		    container_of(current_work(), struct side_irq_action, thread_work)->irq == irq)
			side_fault(SIDE_FAULT_DEADLOCK, caller, "waiting for IRQ %u from its own thread", irq);
		if (!start)
			start = side_host_real_clock_ns();
		else if (side_host_real_clock_ns() - start > SIDE_IRQ_WAIT_NS)
			side_fault(SIDE_FAULT_HUNG, caller, "IRQ %u handler still running after %llu s", irq,
				   SIDE_IRQ_WAIT_NS / NSEC_PER_SEC);
		side_host_yield();
	}
}

bool synchronize_hardirq(unsigned int irq)
{
	struct side_irq_desc *desc = side_desc(irq);

	return desc ? side_irq_wait(irq, desc, false, SIDE_CALLER) : true;
}

void synchronize_irq(unsigned int irq)
{
	struct side_irq_desc *desc = side_desc(irq);

	if (desc)
		side_irq_wait(irq, desc, true, SIDE_CALLER);
}

static bool side_disable_nosync(unsigned int irq)
{
	struct side_irq_desc *desc = side_desc(irq);
	unsigned long flags;

	if (!desc)
		return false;
	spin_lock_irqsave(&desc->lock, flags);
	desc->depth++;
	spin_unlock_irqrestore(&desc->lock, flags);
	return true;
}

void disable_irq_nosync(unsigned int irq)
{
	side_disable_nosync(irq);
}

void disable_irq(unsigned int irq)
{
	if (side_disable_nosync(irq))
		side_irq_wait(irq, side_desc(irq), true, SIDE_CALLER);
}

bool disable_hardirq(unsigned int irq)
{
	if (side_disable_nosync(irq))
		return side_irq_wait(irq, side_desc(irq), false, SIDE_CALLER);
	return false;
}

void enable_irq(unsigned int irq)
{
	struct side_irq_desc *desc = side_desc(irq);
	unsigned long flags;
	bool replay = false;

	if (!desc)
		return;
	spin_lock_irqsave(&desc->lock, flags);
	if (!desc->actions) {
		spin_unlock_irqrestore(&desc->lock, flags);
		pr_warn("WARNING: enable_irq before setup/request_irq: irq %u (%pS)\n", irq, (void *)SIDE_CALLER);
		return;
	}
	if (!desc->depth) {
		spin_unlock_irqrestore(&desc->lock, flags);
		pr_warn("WARNING: Unbalanced enable for IRQ %d (%pS)\n", irq, (void *)SIDE_CALLER);
		return;
	}
	if (!--desc->depth && desc->pending && !desc->oneshot_masked) {
		desc->resend = true;
		replay = true;
	}
	spin_unlock_irqrestore(&desc->lock, flags);
	if (replay)
		side_raise_timer_softirq();
}

const void *free_irq(unsigned int irq, void *dev_id)
{
	struct side_irq_desc *desc = side_desc(irq);
	struct irqaction **pp, *a;
	struct side_irq_action *sa;
	const char *devname;
	unsigned long flags;
	bool last;

	if (!desc)
		return NULL;
	spin_lock_irqsave(&desc->lock, flags);
	for (pp = &desc->actions; (a = *pp); pp = &a->next)
		if (a->dev_id == dev_id)
			break;
	if (!a) {
		spin_unlock_irqrestore(&desc->lock, flags);
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "Trying to free already-free IRQ %u (dev_id %px)", irq,
			   dev_id);
	}
	/* Unlinked, but a handler walking the list may still be on it: freed only after the wait below. */
	WRITE_ONCE(*pp, a->next);
	last = !desc->actions;
	if (last) {
		desc->depth = 1;
		desc->pending = false;
		desc->resend = false;
	}
	spin_unlock_irqrestore(&desc->lock, flags);
	if (last) {
		side_host_irq_attach(irq, 0);
		side_msi_irq_startup(irq, false);
	}
	side_irq_wait(irq, desc, false, SIDE_CALLER);
	sa = container_of(a, struct side_irq_action, action);
	/* The irq thread is stopped as kthread_stop() would: after its current run. */
	cancel_work_sync(&sa->thread_work);
	if (test_and_clear_bit(SIDE_THREAD_RUN, &a->thread_flags))
		atomic_dec(&desc->threads_active);
	if (a->flags & IRQF_ONESHOT) {
		spin_lock_irqsave(&desc->lock, flags);
		desc->oneshot_masked = false;
		spin_unlock_irqrestore(&desc->lock, flags);
	}
	devname = a->name;
	kfree(sa);
	return devname;
}

/*
 * Interrupt autoprobing (kernel/irq/autoprobe.c) looks for the one line, among those with no handler, that fires
 * while a legacy ISA/VLB card is made to interrupt. A domain has no such lines: each of its lines is a PCI device's,
 * routed by the host, so the set of probe candidates is empty and probe_irq_off() finds no interrupt (0), which is
 * what the kernel answers when nothing fired. PCI drivers take pdev->irq instead and never get here.
 */
unsigned long probe_irq_on(void)
{
	return 0;
}

int probe_irq_off(unsigned long val)
{
	return 0;
}

unsigned int probe_irq_mask(unsigned long val)
{
	return 0;
}
