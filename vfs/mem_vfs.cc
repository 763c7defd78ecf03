#include "vfs/mem_vfs.h"

#include <sys/types.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>
#include <utility>

#include "absl/strings/str_cat.h"
#include "vfs/io_error.h"

namespace persy::vfs {

struct MemVfs::Node {
  std::mutex mu;
  // State below is protected by mu
  std::string data;     // GUARDED_BY(mu)
  bool locked = false;  // GUARDED_BY(mu); whether some MemFile holds the lock
};

class MemVfs::MemFile final : public File {
 public:
  MemFile(std::shared_ptr<Node> node, std::string path)
      : node_(std::move(node)), path_(std::move(path)) {}

  const Node* node() const { return node_.get(); }

  ~MemFile() override {
    std::lock_guard<std::mutex> lock(node_->mu);
    if (holds_lock_) node_->locked = false;
  }

  absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n, char* dst) override {
    if (absl::Status s = CheckRange("pread", path_, offset, 0); !s.ok()) return s;
    std::lock_guard<std::mutex> lock(node_->mu);
    const std::string& data = node_->data;
    if (offset >= data.size()) return 0;
    const size_t count = std::min<uint64_t>(n, data.size() - offset);
    std::memcpy(dst, data.data() + offset, count);
    return count;
  }

  absl::Status WriteAt(uint64_t offset, absl::string_view data) override {
    if (absl::Status s = CheckRange("pwrite", path_, offset, data.size()); !s.ok()) return s;
    // Like pwrite, writing nothing extends nothing.
    if (data.empty()) return absl::OkStatus();
    const uint64_t end = offset + data.size();
    std::lock_guard<std::mutex> lock(node_->mu);
    std::string& contents = node_->data;
    if (end > contents.size()) {
      if (absl::Status s = Resize(end, "pwrite", offset); !s.ok()) return s;
    }
    std::memcpy(contents.data() + offset, data.data(), data.size());
    return absl::OkStatus();
  }

  absl::Status Sync() override { return absl::OkStatus(); }

  absl::StatusOr<uint64_t> Size() override {
    std::lock_guard<std::mutex> lock(node_->mu);
    return node_->data.size();
  }

  absl::Status Truncate(uint64_t size) override {
    if (absl::Status s = CheckRange("ftruncate", path_, size, 0); !s.ok()) return s;
    std::lock_guard<std::mutex> lock(node_->mu);
    return Resize(size, "ftruncate", size);
  }

  absl::Status Lock() override {
    std::lock_guard<std::mutex> lock(node_->mu);
    if (holds_lock_) return absl::OkStatus();
    if (node_->locked) {
      return absl::FailedPreconditionError(
          absl::StrCat("flock ", path_, ": already in use by another File or process"));
    }
    node_->locked = true;
    holds_lock_ = true;
    return absl::OkStatus();
  }

 private:
  // Resizes the data, zero-filling any growth. A size the process cannot allocate is reported
  // as a full disk rather than crashing it: a corrupt page number must not kill the engine.
  // REQUIRES: node_->mu is held.
  absl::Status Resize(uint64_t size, absl::string_view call, uint64_t offset) {
    try {
      node_->data.resize(size, '\0');
    } catch (const std::bad_alloc&) {
      return IoError(ENOSPC, call, path_, static_cast<int64_t>(offset));
    } catch (const std::length_error&) {
      return IoError(ENOSPC, call, path_, static_cast<int64_t>(offset));
    }
    return absl::OkStatus();
  }

  // Constant after construction
  const std::shared_ptr<Node> node_;
  const std::string path_;

  // State below is protected by node_->mu
  bool holds_lock_ = false;  // GUARDED_BY(node_->mu)
};

MemVfs::MemVfs() = default;
MemVfs::~MemVfs() = default;

absl::StatusOr<std::unique_ptr<File>> MemVfs::Create(const std::string& path) {
  auto node = std::make_shared<Node>();
  std::lock_guard<std::mutex> lock(mu_);
  if (!files_.try_emplace(path, node).second) return IoError(EEXIST, "open", path);
  return std::unique_ptr<File>(new MemFile(std::move(node), path));
}

absl::StatusOr<std::unique_ptr<File>> MemVfs::Open(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return IoError(ENOENT, "open", path);
  return std::unique_ptr<File>(new MemFile(it->second, path));
}

absl::StatusOr<bool> MemVfs::Exists(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  return files_.count(path) != 0;
}

absl::Status MemVfs::Remove(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  // Open Files hold their own reference to the Node, so they keep working.
  if (files_.erase(path) == 0) return IoError(ENOENT, "unlink", path);
  return absl::OkStatus();
}

absl::Status MemVfs::RenameNoReplace(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(from);
  if (it == files_.end()) return IoError(ENOENT, "renameat2", from);
  if (files_.count(to) != 0) return IoError(EEXIST, "renameat2", to);
  files_[to] = std::move(it->second);
  files_.erase(from);
  return absl::OkStatus();
}

absl::StatusOr<bool> MemVfs::IsFileAt(File& file, const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  return it != files_.end() && it->second.get() == static_cast<MemFile&>(file).node();
}

absl::Status MemVfs::SyncDir(const std::string& /*path*/) { return absl::OkStatus(); }

}  // namespace persy::vfs
