// The host side of the kernel-API layer. These functions are called from kernel-compiled code, which keeps only
// 8-byte stack alignment: each one realigns its stack (force_align_arg_pointer). They forward to the active
// domain; argument checks that find a driver bug report a driver fault.
#include "domain/host_services.h"

#include <sched.h>
#include <sys/random.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"
#include "common/log.h"
#include "common/strings.h"
#include "domain/domain.h"
#include "domain/layout.h"
#include "kapi/side_host.h"
#include "sfi/runtime.h"

#define SIDE_HOST_ENTRY extern "C" __attribute__((force_align_arg_pointer))

using side::domain::Domain;

namespace {

Domain& domain() {
  return *Domain::active();
}

// An invalid argument to a kernel service. Formats into a plain buffer: the fault unwinds with siglongjmp, which
// would skip the destructors of any C++ object alive here.
[[noreturn]] __attribute__((format(printf, 2, 3))) void fault(unsigned long caller, const char* fmt, ...) {
  char message[256];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  domain().fault(SIDE_FAULT_BAD_ARGUMENT, message, caller);
}

// --isolation sfi: what the layer hands the driver becomes writable, what it takes back stops being so (before it
// can be handed out again). Nothing in the other modes.
void grant(const void* p, uint64_t len) {
  if (auto* sfi = side::sfi::Runtime::active(); sfi && p) sfi->rights().grant(reinterpret_cast<uint64_t>(p), len);
}

void revoke(const void* p, uint64_t len) {
  if (auto* sfi = side::sfi::Runtime::active(); sfi && p) sfi->rights().revoke(reinterpret_cast<uint64_t>(p), len);
}

void grant_percpu(uint64_t offset, uint64_t size, bool on) {
  auto* sfi = side::sfi::Runtime::active();
  if (!sfi || !offset) return;
  const auto& areas = domain().percpu();
  for (unsigned cpu = 0; cpu < areas.nr_cpus(); ++cpu) {
    if (on) {
      sfi->rights().grant(areas.base(cpu) + offset, size);
    } else {
      sfi->rights().revoke(areas.base(cpu) + offset, size);
    }
  }
}

}  // namespace

SIDE_HOST_ENTRY void side_host_log(int level, const char* text, unsigned long len) {
  if (level < 0 || level > 7) level = SIDE_LOG_DEFAULT;
  side::log_line(static_cast<side::LogLevel>(level < 3 ? 3 : level), std::string_view(text, len));
}

SIDE_HOST_ENTRY void side_host_fault(int kind, const char* message, unsigned long caller) {
  domain().fault(kind, message, caller);
}

SIDE_HOST_ENTRY int side_host_symbolize(unsigned long addr, char* buf, unsigned long len, int mode) {
  // Backtrace mode looks up the call instruction (addr - 1) and reports the return address's offset.
  bool backtrace = mode == 2;
  auto s = domain().symbolize(backtrace ? addr - 1 : addr, mode != 0);
  if (!s || len == 0) return -1;
  std::string out = *s;
  if (backtrace) {
    // "name+0xoff/0xsize": add one to the offset.
    size_t plus = out.find('+'), slash = out.find('/');
    if (plus != std::string::npos && slash != std::string::npos) {
      uint64_t off = std::stoull(out.substr(plus + 1, slash - plus - 1), nullptr, 16) + 1;
      out = out.substr(0, plus + 1) + side::hex(off) + out.substr(slash);
    }
  }
  size_t n = std::min<size_t>(out.size(), len - 1);
  std::memcpy(buf, out.data(), n);
  buf[n] = '\0';
  return static_cast<int>(n);
}

SIDE_HOST_ENTRY void* side_host_pages_alloc(unsigned int order) {
  void* p = domain().arena_mut().alloc_pages(order);
  if (order <= side::domain::Arena::kMaxOrder) grant(p, side::domain::kPageSize << order);
  return p;
}

SIDE_HOST_ENTRY void side_host_pages_free(void* addr, unsigned int order, unsigned long caller) {
  using side::domain::Arena;
  if (order <= Arena::kMaxOrder && domain().arena().contains(addr, side::domain::kPageSize << order)) {
    revoke(addr, side::domain::kPageSize << order);
  }
  switch (domain().arena_mut().free_pages(addr, order)) {
    case Arena::FreeError::kNone:
      return;
    case Arena::FreeError::kNotAllocated:
      fault(caller, "freeing pages at %p that are not allocated (double free?)", addr);
    case Arena::FreeError::kWrongOrder:
      fault(caller, "freeing pages at %p with the wrong order %u", addr, order);
  }
}

SIDE_HOST_ENTRY void side_host_memory_layout(struct side_memory_layout* out) {
  Domain& d = domain();
  out->page_offset_base = reinterpret_cast<uint64_t>(d.arena().base()) - side::domain::kArenaPhysBase;
  out->vmemmap_base = d.vmemmap_base();
  out->first_pfn = side::domain::kArenaPhysBase / side::domain::kPageSize;
  out->nr_pages = d.arena().nr_pages();
  out->page_struct_size = side::domain::kStructPageSize;
}

SIDE_HOST_ENTRY void* side_host_kmalloc(unsigned long size, unsigned long align) {
  uint64_t usable = 0;
  void* p = domain().arena_mut().kmalloc(size, align, &usable);
  if (p) grant(p, usable);
  return p;
}

SIDE_HOST_ENTRY void side_host_kfree(const void* p, unsigned long caller) {
  // Revoked before the object can be handed out again (ksize reads without the arena's lock).
  if (side::sfi::Runtime::active()) revoke(p, domain().arena().ksize(p));
  if (!domain().arena_mut().kfree(p)) {
    fault(caller, "kfree of %p, which is not allocated (double free?)", p);
  }
}

SIDE_HOST_ENTRY unsigned long side_host_ksize(const void* p) {
  return domain().arena().ksize(p);
}

SIDE_HOST_ENTRY void* side_host_vmalloc(unsigned long size) {
  void* p = domain().private_mut().vmalloc(size);
  if (p && side::sfi::Runtime::active()) grant(p, domain().private_memory().vmalloc_size(p));
  return p;
}

SIDE_HOST_ENTRY void side_host_vfree(const void* p, unsigned long caller) {
  if (side::sfi::Runtime::active()) revoke(p, domain().private_memory().vmalloc_size(p));
  if (!domain().private_mut().vfree(p)) {
    fault(caller, "vfree of %p, which is not allocated (double free?)", p);
  }
}

SIDE_HOST_ENTRY int side_host_is_vmalloc(const void* p) {
  return domain().private_memory().is_vmalloc(p);
}

SIDE_HOST_ENTRY unsigned long side_host_percpu_alloc(unsigned long size, unsigned long align) {
  // In sfi mode whole granules, so that granting one allocation never grants part of another.
  const bool sfi = side::sfi::Runtime::active() != nullptr;
  if (sfi) size = (size + 7) & ~7ul, align = align < 8 ? 8 : align;
  const uint64_t offset = domain().percpu_areas().allocate(size, align);
  grant_percpu(offset, size, true);
  return offset;
}

SIDE_HOST_ENTRY void side_host_percpu_free(unsigned long offset, unsigned long caller) {
  grant_percpu(offset, domain().percpu().size_of(offset), false);
  if (!domain().percpu_areas().free(offset)) {
    fault(caller, "free_percpu of %#lx, which is not allocated", offset);
  }
}

SIDE_HOST_ENTRY side_u64 side_host_clock_ns(void) {
  return domain().clock_ns();
}
SIDE_HOST_ENTRY void side_host_delay_ns(side_u64 ns) {
  domain().delay_ns(ns);
}
SIDE_HOST_ENTRY side_u64 side_host_real_clock_ns(void) {
  return side::monotonic_ns();
}

SIDE_HOST_ENTRY void side_host_real_sleep_ns(side_u64 ns) {
  timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  nanosleep(&ts, nullptr);
}

SIDE_HOST_ENTRY void side_host_yield(void) {
  sched_yield();
}

SIDE_HOST_ENTRY void side_host_random(void* buf, unsigned long len) {
  auto* p = static_cast<uint8_t*>(buf);
  while (len) {
    ssize_t n = getrandom(p, len, 0);
    if (n <= 0) break;
    p += n;
    len -= static_cast<unsigned long>(n);
  }
}

SIDE_HOST_ENTRY int side_host_pci_register_driver(void* driver, const char* name, const struct side_pci_id* ids,
                                                  unsigned int nr_ids) {
  return domain().register_pci_driver(reinterpret_cast<uint64_t>(driver), name, ids, nr_ids);
}

SIDE_HOST_ENTRY void side_host_pci_unregister_driver(void* driver) {
  domain().unregister_pci_driver(reinterpret_cast<uint64_t>(driver));
}

// ---- devices ------------------------------------------------------------------------------------------------

namespace {

bool valid_width(side_u32 width) {
  return width == 1 || width == 2 || width == 4 || width == 8;
}

side::domain::Platform* platform() {
  return domain().platform();
}

}  // namespace

SIDE_HOST_ENTRY int side_host_pci_config_read(side_u32 dev, side_u32 offset, side_u32 width, side_u32* value) {
  auto* p = platform();
  if (!p) return -19;  // -ENODEV
  auto r = p->config_read(dev, offset, width);
  if (!r) return -22;  // -EINVAL
  *value = *r;
  return 0;
}

SIDE_HOST_ENTRY int side_host_pci_config_write(side_u32 dev, side_u32 offset, side_u32 width, side_u32 value) {
  auto* p = platform();
  if (!p) return -19;
  return p->config_write(dev, offset, width, value) ? 0 : -22;
}

SIDE_HOST_ENTRY void* side_host_ioremap(side_u64 phys, side_u64 size) {
  return domain().ioremap(phys, size);
}

SIDE_HOST_ENTRY void side_host_iounmap(void* addr, unsigned long caller) {
  if (!domain().iounmap(reinterpret_cast<uint64_t>(addr))) fault(caller, "iounmap of %p, which is not mapped", addr);
}

SIDE_HOST_ENTRY side_u64 side_host_io_read(unsigned long addr, side_u32 width, unsigned long caller) {
  if (!valid_width(width)) fault(caller, "I/O read of width %u", width);
  auto r = domain().io_read(addr, width);
  if (!r) {
    char message[200];
    std::snprintf(message, sizeof message, "%s", r.error().message.c_str());
    fault(caller, "%s", message);
  }
  return *r;
}

SIDE_HOST_ENTRY void side_host_io_write(unsigned long addr, side_u32 width, side_u64 value, unsigned long caller) {
  if (!valid_width(width)) fault(caller, "I/O write of width %u", width);
  auto s = domain().io_write(addr, width, value);
  if (!s) {
    char message[200];
    std::snprintf(message, sizeof message, "%s", s.error().message.c_str());
    fault(caller, "%s", message);
  }
}

SIDE_HOST_ENTRY int side_host_dma_map(side_u32 dev, side_u64 phys, side_u64 size, int dir) {
  auto* p = platform();
  return p ? p->dma_map(dev, phys, size, dir) : -19;
}

SIDE_HOST_ENTRY int side_host_dma_unmap(side_u32 dev, side_u64 phys, side_u64 size, int dir) {
  auto* p = platform();
  return p ? p->dma_unmap(dev, phys, size, dir) : -19;
}

SIDE_HOST_ENTRY void side_host_irq_attach(side_u32 irq, int attached) {
  domain().irq_attach(irq, attached != 0);
}

SIDE_HOST_ENTRY void side_host_kick_worker(void) {
  domain().kick_worker();
}

SIDE_HOST_ENTRY void side_host_kick_softirq(void) {
  domain().kick_softirq();
}

// ---- network devices ----------------------------------------------------------------------------------------

SIDE_HOST_ENTRY int side_host_netdev_register(const struct side_netdev_info* info) {
  auto* p = platform();
  if (!p) return -19;
  side_netdev_info copy = *info;
  copy.name[sizeof copy.name - 1] = '\0';
  return p->netdev_register(copy);
}

SIDE_HOST_ENTRY void side_host_netdev_unregister(side_u64 token) {
  if (auto* p = platform()) p->netdev_unregister(token);
}

SIDE_HOST_ENTRY void side_host_netdev_carrier(side_u64 token, int on) {
  if (auto* p = platform()) p->netdev_carrier(token, on != 0);
}

SIDE_HOST_ENTRY void side_host_netdev_changed(const struct side_netdev_info* info) {
  side_netdev_info copy = *info;
  copy.name[sizeof copy.name - 1] = '\0';
  if (auto* p = platform()) p->netdev_changed(copy);
}

SIDE_HOST_ENTRY void side_host_netdev_tx_wake(side_u64 token, side_u32 queue) {
  domain().tx_wake(token, queue);
}

SIDE_HOST_ENTRY void side_host_netdev_rx(side_u64 token, const void* frame, side_u32 len, side_u32 csum) {
  domain().device_access().receive(token, std::span(static_cast<const uint8_t*>(frame), len), csum);
}

namespace side::domain {

const std::unordered_map<std::string, uint64_t>& host_services() {
#define SIDE_SERVICE(fn) \
  { #fn, reinterpret_cast < uint64_t>(&fn) }
  static const std::unordered_map<std::string, uint64_t> table = {
      SIDE_SERVICE(side_host_log),
      SIDE_SERVICE(side_host_fault),
      SIDE_SERVICE(side_host_sfi_fault),
      SIDE_SERVICE(side_host_symbolize),
      SIDE_SERVICE(side_host_pages_alloc),
      SIDE_SERVICE(side_host_pages_free),
      SIDE_SERVICE(side_host_memory_layout),
      SIDE_SERVICE(side_host_kmalloc),
      SIDE_SERVICE(side_host_kfree),
      SIDE_SERVICE(side_host_ksize),
      SIDE_SERVICE(side_host_vmalloc),
      SIDE_SERVICE(side_host_vfree),
      SIDE_SERVICE(side_host_is_vmalloc),
      SIDE_SERVICE(side_host_percpu_alloc),
      SIDE_SERVICE(side_host_percpu_free),
      SIDE_SERVICE(side_host_clock_ns),
      SIDE_SERVICE(side_host_delay_ns),
      SIDE_SERVICE(side_host_real_clock_ns),
      SIDE_SERVICE(side_host_real_sleep_ns),
      SIDE_SERVICE(side_host_yield),
      SIDE_SERVICE(side_host_random),
      SIDE_SERVICE(side_host_pci_register_driver),
      SIDE_SERVICE(side_host_pci_unregister_driver),
      SIDE_SERVICE(side_host_pci_config_read),
      SIDE_SERVICE(side_host_pci_config_write),
      SIDE_SERVICE(side_host_ioremap),
      SIDE_SERVICE(side_host_iounmap),
      SIDE_SERVICE(side_host_io_read),
      SIDE_SERVICE(side_host_io_write),
      SIDE_SERVICE(side_host_dma_map),
      SIDE_SERVICE(side_host_dma_unmap),
      SIDE_SERVICE(side_host_irq_attach),
      SIDE_SERVICE(side_host_kick_worker),
      SIDE_SERVICE(side_host_kick_softirq),
      SIDE_SERVICE(side_host_netdev_register),
      SIDE_SERVICE(side_host_netdev_unregister),
      SIDE_SERVICE(side_host_netdev_carrier),
      SIDE_SERVICE(side_host_netdev_tx_wake),
      SIDE_SERVICE(side_host_netdev_changed),
      SIDE_SERVICE(side_host_netdev_rx),
  };
#undef SIDE_SERVICE
  return table;
}

std::optional<uint64_t> host_service_address(const std::string& name) {
  auto it = host_services().find(name);
  if (it == host_services().end()) return std::nullopt;
  return it->second;
}

}  // namespace side::domain
