#include "vfs/sim_vfs.h"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "vfs/io_error.h"

namespace persy::vfs {
namespace {

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

const char* IoKindName(IoKind kind) {
  switch (kind) {
    case IoKind::kCreate: return "create";
    case IoKind::kOpen: return "open";
    case IoKind::kExists: return "exists";
    case IoKind::kRemove: return "remove";
    case IoKind::kRename: return "rename";
    case IoKind::kSyncDir: return "syncdir";
    case IoKind::kRead: return "read";
    case IoKind::kWrite: return "write";
    case IoKind::kSync: return "sync";
    case IoKind::kSize: return "size";
    case IoKind::kTruncate: return "truncate";
    case IoKind::kLock: return "lock";
  }
  return "?";
}

struct SimVfs::Inode {
  std::string current;               // what reads see
  std::string durable;               // what a crash starts from
  std::vector<PendingOp> pending;    // changes since the last successful sync
  const File* lock_owner = nullptr;  // the File holding the lock, if any
};

class SimVfs::SimFile final : public File {
 public:
  SimFile(SimVfs* vfs, std::shared_ptr<Inode> inode, std::string path, uint64_t generation)
      : vfs_(vfs), inode_(std::move(inode)), path_(std::move(path)), generation_(generation) {}

  const Inode* inode() const { return inode_.get(); }

  ~SimFile() override {
    std::lock_guard<std::mutex> lock(vfs_->mu_);
    if (Alive() && inode_->lock_owner == this) inode_->lock_owner = nullptr;
  }

  absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n, char* dst) override {
    std::lock_guard<std::mutex> lock(vfs_->mu_);
    if (absl::Status s = Check(IoKind::kRead); !s.ok()) return s;
    if (absl::Status s = CheckRange("read", path_, offset, 0); !s.ok()) return s;
    absl::Status result = vfs_->Begin(IoKind::kRead, path_, static_cast<int64_t>(offset));
    const std::string& data = inode_->current;
    size_t got = 0;
    if (result.ok() && offset < data.size()) {
      got = static_cast<size_t>(std::min<uint64_t>(n, data.size() - offset));
      std::memcpy(dst, data.data() + offset, got);
    }
    vfs_->Finish(IoKind::kRead, path_, offset, got, result);
    if (!result.ok()) return result;
    return got;
  }

  absl::Status WriteAt(uint64_t offset, absl::string_view data) override {
    std::lock_guard<std::mutex> lock(vfs_->mu_);
    if (absl::Status s = CheckChange(IoKind::kWrite); !s.ok()) return s;
    if (absl::Status s = CheckRange("write", path_, offset, data.size()); !s.ok()) return s;
    std::string& current = inode_->current;
    const uint64_t old_size = current.size();
    const uint64_t end = offset + data.size();
    absl::Status result = vfs_->Begin(IoKind::kWrite, path_, static_cast<int64_t>(offset));
    if (result.ok()) {
      result = vfs_->CheckCapacity(old_size, std::max(old_size, end), path_, offset);
    }
    if (!result.ok()) {
      // A failed write may have written an unknown prefix (vfs.h).
      data = data.substr(0, vfs_->rng_.Uniform(data.size() + 1));
    }
    if (!data.empty()) {
      const uint64_t new_end = offset + data.size();
      if (current.size() < new_end) current.resize(new_end, '\0');
      current.replace(offset, data.size(), data.data(), data.size());
      vfs_->RecordSectors(*inode_, std::min(old_size, offset), new_end);
    }
    vfs_->Finish(IoKind::kWrite, path_, offset, data.size(), result);
    return result;
  }

  absl::Status Sync() override {
    std::lock_guard<std::mutex> lock(vfs_->mu_);
    if (absl::Status s = CheckChange(IoKind::kSync); !s.ok()) return s;
    absl::Status result = vfs_->Begin(IoKind::kSync, path_, kNoOffset);
    Inode& inode = *inode_;
    if (result.ok()) {
      ApplyAll(inode.pending, inode.current.size(), vfs_->damage_, vfs_->rng_, inode.durable);
    } else {
      // fsyncgate: some of the pending writes reached the device, the kernel forgot the rest,
      // and reads still return them all. Nothing can make them durable now.
      ApplyDamaged(inode.pending, inode.current.size(), vfs_->damage_, vfs_->rng_,
                   inode.durable);
      poisoned_ = result;
    }
    inode.pending.clear();
    vfs_->Finish(IoKind::kSync, path_, 0, 0, result);
    return result;
  }

  absl::StatusOr<uint64_t> Size() override {
    std::lock_guard<std::mutex> lock(vfs_->mu_);
    if (absl::Status s = Check(IoKind::kSize); !s.ok()) return s;
    absl::Status result = vfs_->Begin(IoKind::kSize, path_, kNoOffset);
    vfs_->Finish(IoKind::kSize, path_, 0, 0, result);
    if (!result.ok()) return result;
    return inode_->current.size();
  }

  absl::Status Truncate(uint64_t size) override {
    std::lock_guard<std::mutex> lock(vfs_->mu_);
    if (absl::Status s = CheckChange(IoKind::kTruncate); !s.ok()) return s;
    if (absl::Status s = CheckRange("truncate", path_, size, 0); !s.ok()) return s;
    std::string& current = inode_->current;
    const uint64_t old_size = current.size();
    absl::Status result = vfs_->Begin(IoKind::kTruncate, path_, kNoOffset);
    if (result.ok()) result = vfs_->CheckCapacity(old_size, size, path_, size);
    if (result.ok() && size != old_size) {
      current.resize(size, '\0');
      vfs_->RecordSectors(*inode_, std::min(old_size, size), std::max(old_size, size));
    }
    vfs_->Finish(IoKind::kTruncate, path_, size, 0, result);
    return result;
  }

  absl::Status Lock() override {
    std::lock_guard<std::mutex> lock(vfs_->mu_);
    if (absl::Status s = Check(IoKind::kLock); !s.ok()) return s;
    absl::Status result = vfs_->Begin(IoKind::kLock, path_, kNoOffset);
    if (result.ok() && inode_->lock_owner != nullptr && inode_->lock_owner != this) {
      result = absl::FailedPreconditionError(absl::StrCat("lock ", path_, ": already in use"));
    }
    if (result.ok()) inode_->lock_owner = this;
    vfs_->Finish(IoKind::kLock, path_, 0, 0, result);
    return result;
  }

 private:
  // REQUIRES: vfs_->mu_ held, for all below.
  bool Alive() const { return generation_ == vfs_->generation_; }

  // Fails a call that cannot reach the disk: the File died in a crash, or the disk is off.
  absl::Status Check(IoKind kind) const {
    if (!Alive()) {
      return absl::UnavailableError(absl::StrCat(
          IoKindName(kind), " ", path_, ": file was opened before a simulated crash"));
    }
    return vfs_->PowerCheck(kind, path_);
  }

  // Like Check, for calls that change the file, which also fail once the File is poisoned.
  absl::Status CheckChange(IoKind kind) const {
    absl::Status s = Check(kind);
    return s.ok() ? poisoned_ : s;
  }

  SimVfs* const vfs_;
  const std::shared_ptr<Inode> inode_;
  const std::string path_;
  const uint64_t generation_;
  absl::Status poisoned_;  // GUARDED_BY(vfs_->mu_): the first failed Sync, if any
};

SimVfs::SimVfs(uint64_t seed, SimDamage damage) : seed_(seed), damage_(damage), rng_(seed) {
  assert(damage_.Validate().ok());
}

SimVfs::~SimVfs() = default;

absl::Status SimVfs::PowerCheck(IoKind kind, const std::string& path) const {
  if (!powered_off_) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(
      IoKindName(kind), " ", path, ": simulated power loss, the disk is off until Crash()"));
}

absl::Status SimVfs::Begin(IoKind kind, const std::string& path, int64_t offset) {
  const uint64_t n = ++attempts_[static_cast<size_t>(kind)];
  for (const Fault& f : faults_) {
    if (f.kind == kind && (n == f.fires_at || (f.persistent && n > f.fires_at))) {
      return IoError(f.err, IoKindName(kind), path, offset);
    }
  }
  return absl::OkStatus();
}

void SimVfs::Finish(IoKind kind, const std::string& path, uint64_t offset, uint64_t length,
                    const absl::Status& result) {
  ++counts_[static_cast<size_t>(kind)];
  if (record_events_) {
    events_.push_back(IoEvent{event_count_, kind, path, offset, length, result.code()});
  }
  ++event_count_;
  if (power_off_at_.has_value() && event_count_ >= *power_off_at_) {
    powered_off_ = true;
    power_off_at_.reset();
  }
}

uint64_t SimVfs::TotalSize() const {
  std::set<const Inode*> seen;
  uint64_t total = 0;
  for (const auto& [path, inode] : dir_) {
    if (seen.insert(inode.get()).second) total += inode->current.size();
  }
  return total;
}

absl::Status SimVfs::CheckCapacity(uint64_t old_size, uint64_t new_size, const std::string& path,
                                   uint64_t offset) const {
  if (!capacity_.has_value() || new_size <= old_size) return absl::OkStatus();
  if (TotalSize() - old_size + new_size <= *capacity_) return absl::OkStatus();
  return IoError(ENOSPC, "write", path, static_cast<int64_t>(offset));
}

void SimVfs::RecordSectors(Inode& inode, uint64_t begin, uint64_t end) {
  const size_t ss = damage_.sector_size;
  const std::string& current = inode.current;
  PendingOp op;
  op.size_after = current.size();
  for (uint64_t s = begin / ss; s * ss < end; ++s) {
    std::string sector(ss, '\0');
    if (s * ss < current.size()) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(ss, current.size() - s * ss));
      std::memcpy(sector.data(), current.data() + s * ss, n);
    }
    op.sectors.emplace_back(s, std::move(sector));
  }
  inode.pending.push_back(std::move(op));
}

absl::StatusOr<std::unique_ptr<File>> SimVfs::Create(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = PowerCheck(IoKind::kCreate, path); !s.ok()) return s;
  absl::Status result = Begin(IoKind::kCreate, path, kNoOffset);
  if (result.ok() && dir_.count(path) != 0) result = IoError(EEXIST, "create", path);
  std::unique_ptr<File> file;
  if (result.ok()) {
    auto inode = std::make_shared<Inode>();
    dir_[path] = inode;
    file = std::make_unique<SimFile>(this, std::move(inode), path, generation_);
  }
  Finish(IoKind::kCreate, path, 0, 0, result);
  if (!result.ok()) return result;
  return file;
}

absl::StatusOr<std::unique_ptr<File>> SimVfs::Open(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = PowerCheck(IoKind::kOpen, path); !s.ok()) return s;
  absl::Status result = Begin(IoKind::kOpen, path, kNoOffset);
  auto it = dir_.find(path);
  if (result.ok() && it == dir_.end()) result = IoError(ENOENT, "open", path);
  std::unique_ptr<File> file;
  if (result.ok()) file = std::make_unique<SimFile>(this, it->second, path, generation_);
  Finish(IoKind::kOpen, path, 0, 0, result);
  if (!result.ok()) return result;
  return file;
}

absl::StatusOr<bool> SimVfs::Exists(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = PowerCheck(IoKind::kExists, path); !s.ok()) return s;
  absl::Status result = Begin(IoKind::kExists, path, kNoOffset);
  Finish(IoKind::kExists, path, 0, 0, result);
  if (!result.ok()) return result;
  return dir_.count(path) != 0;
}

absl::Status SimVfs::Remove(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = PowerCheck(IoKind::kRemove, path); !s.ok()) return s;
  absl::Status result = Begin(IoKind::kRemove, path, kNoOffset);
  if (result.ok() && dir_.erase(path) == 0) result = IoError(ENOENT, "remove", path);
  Finish(IoKind::kRemove, path, 0, 0, result);
  return result;
}

absl::Status SimVfs::RenameNoReplace(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = PowerCheck(IoKind::kRename, from); !s.ok()) return s;
  absl::Status result = Begin(IoKind::kRename, from, kNoOffset);
  auto it = dir_.find(from);
  if (result.ok() && it == dir_.end()) result = IoError(ENOENT, "rename", from);
  if (result.ok() && dir_.count(to) != 0) result = IoError(EEXIST, "rename", to);
  if (result.ok()) {
    std::shared_ptr<Inode> inode = std::move(it->second);
    dir_.erase(it);
    dir_[to] = std::move(inode);
  }
  Finish(IoKind::kRename, from, 0, 0, result);
  return result;
}

// A stat, counted as an exists call.
absl::StatusOr<bool> SimVfs::IsFileAt(File& file, const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = PowerCheck(IoKind::kExists, path); !s.ok()) return s;
  absl::Status result = Begin(IoKind::kExists, path, kNoOffset);
  Finish(IoKind::kExists, path, 0, 0, result);
  if (!result.ok()) return result;
  auto it = dir_.find(path);
  return it != dir_.end() && it->second.get() == static_cast<SimFile&>(file).inode();
}

absl::Status SimVfs::SyncDir(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = PowerCheck(IoKind::kSyncDir, path); !s.ok()) return s;
  absl::Status result = Begin(IoKind::kSyncDir, path, kNoOffset);
  if (result.ok()) {
    // fsync of a directory makes all of its entries durable, not only `path`'s.
    const std::string dir = DirOf(path);
    for (auto it = durable_dir_.begin(); it != durable_dir_.end();) {
      it = DirOf(it->first) == dir && dir_.count(it->first) == 0 ? durable_dir_.erase(it)
                                                                 : std::next(it);
    }
    for (const auto& [name, inode] : dir_) {
      if (DirOf(name) == dir) durable_dir_[name] = inode;
    }
  }
  Finish(IoKind::kSyncDir, path, 0, 0, result);
  return result;
}

void SimVfs::Crash() {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> names;
  for (const auto& entry : dir_) names.insert(entry.first);
  for (const auto& entry : durable_dir_) names.insert(entry.first);

  std::map<std::string, std::shared_ptr<Inode>> next;
  for (const std::string& name : names) {
    auto cur = dir_.find(name);
    auto dur = durable_dir_.find(name);
    std::shared_ptr<Inode> now = cur == dir_.end() ? nullptr : cur->second;
    std::shared_ptr<Inode> then = dur == durable_dir_.end() ? nullptr : dur->second;
    std::shared_ptr<Inode> chosen = now;
    if (now != then && rng_.Bernoulli(damage_.lose_unsynced_dir_op)) chosen = then;
    if (chosen != nullptr) next[name] = chosen;
  }

  std::set<const Inode*> done;
  for (auto& [name, inode] : next) {
    if (!done.insert(inode.get()).second) continue;
    ApplyDamaged(inode->pending, inode->current.size(), damage_, rng_, inode->durable);
    if (rng_.Bernoulli(damage_.bit_rot)) FlipRandomBit(rng_, inode->durable);
    inode->pending.clear();
    inode->current = inode->durable;
    inode->lock_owner = nullptr;
  }
  dir_ = next;
  durable_dir_ = std::move(next);
  ++generation_;
  powered_off_ = false;
  power_off_at_.reset();
}

void SimVfs::InjectFault(IoKind kind, uint64_t nth, int err, bool persistent) {
  std::lock_guard<std::mutex> lock(mu_);
  assert(nth >= 1 && err != 0);
  faults_.push_back(Fault{kind, attempts_[static_cast<size_t>(kind)] + nth, err, persistent});
}

void SimVfs::ClearFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.clear();
}

void SimVfs::SetCapacity(std::optional<uint64_t> bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  capacity_ = bytes;
}

void SimVfs::PowerOffAfter(std::optional<uint64_t> k) {
  std::lock_guard<std::mutex> lock(mu_);
  assert(!k.has_value() || *k >= 1);
  power_off_at_ = k.has_value() ? std::optional<uint64_t>(event_count_ + *k) : std::nullopt;
}

bool SimVfs::powered_off() const {
  std::lock_guard<std::mutex> lock(mu_);
  return powered_off_;
}

absl::Status SimVfs::FlipDurableBit(const std::string& path, uint64_t bit) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = dir_.find(path);
  if (it == dir_.end()) return IoError(ENOENT, "flip bit", path);
  std::string& durable = it->second->durable;
  if (bit / 8 >= durable.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("flip bit ", bit, " of ", path, ": past the durable end ", durable.size()));
  }
  durable[bit / 8] = static_cast<char>(durable[bit / 8] ^ (1 << (bit % 8)));
  return absl::OkStatus();
}

absl::StatusOr<std::string> SimVfs::DurableImage(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = dir_.find(path);
  if (it == dir_.end()) return IoError(ENOENT, "durable image", path);
  return it->second->durable;
}

std::vector<IoEvent> SimVfs::events() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

uint64_t SimVfs::event_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return event_count_;
}

uint64_t SimVfs::count(IoKind kind) const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_[static_cast<size_t>(kind)];
}

void SimVfs::set_record_events(bool record) {
  std::lock_guard<std::mutex> lock(mu_);
  record_events_ = record;
}

}  // namespace persy::vfs
