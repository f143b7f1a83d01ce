// A mutex that spins briefly before it sleeps (glibc's adaptive mutex), for locks held a few hundred nanoseconds
// that two running threads take for every frame: the device model's, the IOMMU's, the traffic peer's and recovery's
// (RecoverableDomain's). A std::mutex puts the loser of every meeting to sleep in the kernel (a futex wait and a
// wake, microseconds each, more in a paravirtualised guest), which on the 64-byte receive path was half of all CPU
// time; spinning lets it take the lock the moment the other thread drops it. Sleeps like a std::mutex once the spin
// (bounded by glibc) has not succeeded, so a holder that is descheduled costs no more than before.
#pragma once

#include <pthread.h>

namespace side {

class AdaptiveMutex {
 public:
  AdaptiveMutex() {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&m_, &attr);
    pthread_mutexattr_destroy(&attr);
  }
  ~AdaptiveMutex() { pthread_mutex_destroy(&m_); }
  AdaptiveMutex(const AdaptiveMutex&) = delete;
  AdaptiveMutex& operator=(const AdaptiveMutex&) = delete;

  // Lockable, as std::lock_guard and std::unique_lock need it.
  void lock() { pthread_mutex_lock(&m_); }
  bool try_lock() { return pthread_mutex_trylock(&m_) == 0; }
  void unlock() { pthread_mutex_unlock(&m_); }

 private:
  pthread_mutex_t m_;
};

}  // namespace side
