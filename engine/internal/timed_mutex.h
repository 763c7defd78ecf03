// TimedMutex: a mutex whose lock can wait with a timeout, built on std::mutex and
// std::condition_variable.
//
// Why not std::timed_mutex: libstdc++ implements its try_lock_for with pthread_mutex_clocklock,
// which GCC 12's ThreadSanitizer does not intercept, so every unlock is reported as "unlock of
// an unlocked mutex" and --config=tsan cannot check the engine.
// Thread-safety: safe for concurrent use by multiple threads (it is a lock).

#ifndef ENGINE_INTERNAL_TIMED_MUTEX_H_
#define ENGINE_INTERNAL_TIMED_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace persy::internal {

class TimedMutex {
 public:
  void lock() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [this] { return !held_; });
    held_ = true;
  }

  // Returns whether the lock was taken within `timeout`.
  template <typename Rep, typename Period>
  bool try_lock_for(const std::chrono::duration<Rep, Period>& timeout) {
    return try_lock_until(std::chrono::steady_clock::now() + timeout);
  }

  // Returns whether the lock was taken by `deadline`.
  template <typename Clock, typename Duration>
  bool try_lock_until(const std::chrono::time_point<Clock, Duration>& deadline) {
    std::unique_lock<std::mutex> l(mu_);
    if (!cv_.wait_until(l, deadline, [this] { return !held_; })) return false;
    held_ = true;
    return true;
  }

  void unlock() {
    {
      std::lock_guard<std::mutex> l(mu_);
      held_ = false;
    }
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;  // GUARDED_BY(mu_)
};

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_TIMED_MUTEX_H_
