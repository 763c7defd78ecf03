#include "engine/internal/engine.h"

#include <algorithm>
#include <cassert>
#include <deque>
#include <thread>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "engine/error.h"
#include "engine/internal/api_errors.h"
#include "engine/internal/commit_record.h"
#include "engine/internal/index_commit.h"
#include "engine/internal/journal_format.h"
#include "engine/internal/snapshot_state.h"
#include "engine/internal/tx_locks.h"
#include "engine/internal/tx_state.h"
#include "engine/internal/write_set.h"

namespace persy::internal {
namespace {

constexpr size_t kMinCacheBytes = 64 << 10;
// How far the file grows ahead of the journal (GrowForJournal).
constexpr uint64_t kJournalGrowPages = 64;

// An estimate of the journal pages a commit of `tx` needs, to make room before building it:
// small records share data pages and index entries share leaves, so a page per 32 records or 16
// index changes, plus the overflow pages of big records and a few pages per structure. Too
// little costs one rebuild of the commit (Commit measures the real need); too much would start
// allocation groups the journal never uses, growing the file.
uint64_t JournalPagesFor(const TxState& tx) {
  const TxIndexes& indexes = tx.indexes();
  uint64_t pages = 8 + 2 * tx.created().size() + 2 * indexes.created().size() +
                   4 * (tx.dropped().size() + indexes.dropped().size());
  for (const auto& [id, records] : tx.writes()) {
    pages += 2 + records.size() / 32;
    for (const auto& [number, write] : records) {
      if (write.bytes.has_value()) pages += write.bytes->size() / 3000;
    }
  }
  for (const auto& [id, changes] : indexes.changes()) {
    uint64_t ops = 0;
    for (const auto& [key, key_ops] : changes.ops) ops += key_ops.size();
    pages += 2 + ops / 16;
  }
  // A page image and its id take a little more than a page of journal.
  return pages + pages / 16 + 2;
}

// The journal pages a record of `bytes` may take: its frames of at most kMaxFramePayload bytes,
// and slack for the first and last, partial ones.
uint64_t JournalPagesForRecord(uint64_t bytes) { return bytes / kMaxFramePayload + 3; }

absl::Status Closed() { return MakeError(Error::kFailed, "the database is closed"); }

// Opens `path` and takes its lock, mapping the file layer's errors to persy's.
absl::StatusOr<std::unique_ptr<vfs::File>> OpenLocked(vfs::Vfs* vfs, const std::string& path) {
  absl::StatusOr<std::unique_ptr<vfs::File>> file = vfs->Open(path);
  if (!file.ok()) {
    if (file.status().code() == absl::StatusCode::kNotFound) {
      return MakeError(Error::kFileNotFound, file.status().message());
    }
    return IoErrorFrom(file.status());
  }
  if (absl::Status s = (*file)->Lock(); !s.ok()) {
    if (s.code() == absl::StatusCode::kFailedPrecondition) {
      return MakeError(Error::kAlreadyInUse, s.message());
    }
    return IoErrorFrom(s);
  }
  return file;
}

// Takes the creation file `temp` of `path`: creates it, or takes over one a crashed creator
// left (nobody holds its lock). Returns it locked, and checked to be still at `temp` once
// locked: whoever removes `temp` first holds the lock of the file there, so a file still at
// `temp` while locked stays there until its holder renames it.
absl::StatusOr<std::unique_ptr<vfs::File>> TakeCreationFile(vfs::Vfs* vfs,
                                                            const std::string& path,
                                                            const std::string& temp) {
  const auto in_use = [&] {
    return MakeError(Error::kAlreadyInUse,
                     absl::StrCat("another process is creating ", path, " (", temp, ")"));
  };
  // Locks `file` and checks that it is still at `temp`: AlreadyInUse if a live creator holds
  // it, or if another creator took it over before the lock.
  const auto lock_at_temp = [&](vfs::File& file) -> absl::Status {
    if (absl::Status s = file.Lock(); !s.ok()) {
      return s.code() == absl::StatusCode::kFailedPrecondition ? in_use() : IoErrorFrom(s);
    }
    absl::StatusOr<bool> at = vfs->IsFileAt(file, temp);
    if (!at.ok()) return IoErrorFrom(at.status());
    return *at ? absl::OkStatus() : in_use();
  };
  absl::StatusOr<std::unique_ptr<vfs::File>> file = vfs->Create(temp);
  if (file.status().code() == absl::StatusCode::kAlreadyExists) {
    absl::StatusOr<std::unique_ptr<vfs::File>> stale = vfs->Open(temp);
    if (stale.status().code() == absl::StatusCode::kNotFound) return in_use();  // just went
    if (!stale.ok()) return IoErrorFrom(stale.status());
    if (absl::Status s = lock_at_temp(**stale); !s.ok()) return s;
    // Its creator crashed: no one else can have it now.
    if (absl::Status s = vfs->Remove(temp); !s.ok()) return IoErrorFrom(s);
    file = vfs->Create(temp);
  }
  if (!file.ok()) {
    if (file.status().code() == absl::StatusCode::kAlreadyExists) return in_use();
    if (file.status().code() == absl::StatusCode::kNotFound) {
      return MakeError(Error::kFileNotFound, file.status().message());
    }
    return IoErrorFrom(file.status());
  }
  if (absl::Status s = lock_at_temp(**file); !s.ok()) return s;
  return file;
}

}  // namespace

Engine::Engine(const Config& config, std::unique_ptr<vfs::Vfs> owned_vfs,
               std::unique_ptr<PageFile> file)
    : config_(config),
      owned_vfs_(std::move(owned_vfs)),
      file_(std::move(file)),
      cache_(file_.get(), std::max(config.cache_size_bytes, kMinCacheBytes)) {
  // Pages a commit frees are reused only once no snapshot can read them (KeepFreed).
  allocator_.set_defer_frees(true);
}

Engine::~Engine() {
  if (creation_.has_value()) {
    Discard();
  } else {
    Close().IgnoreError();
  }
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(vfs::Vfs* vfs, const std::string& path,
                                                       const Config& config,
                                                       std::unique_ptr<vfs::Vfs> owned_vfs) {
  absl::StatusOr<bool> exists = vfs->Exists(path);
  if (!exists.ok()) return IoErrorFrom(exists.status());
  if (*exists) {
    return MakeError(Error::kFileAlreadyExists, absl::StrCat("create ", path, ": exists"));
  }
  absl::StatusOr<std::unique_ptr<vfs::File>> file =
      TakeCreationFile(vfs, path, CreationPath(path));
  if (!file.ok()) return file.status();
  auto engine = std::unique_ptr<Engine>(
      new Engine(config, std::move(owned_vfs), std::make_unique<PageFile>(std::move(*file))));
  Engine& e = *engine;
  e.creation_ = Creation{vfs, path};  // from here, a failure discards the file
  std::lock_guard<TimedMutex> lock(e.commit_mu_);

  // The initial pages are written in place, not journaled: the file gets its name only once
  // it is complete and durable (Publish).
  PageDelta delta(&e.cache_);
  if (absl::Status s = Allocator::Format(delta); !s.ok()) return IoErrorFrom(s);
  absl::StatusOr<PageId> catalog_root = e.allocator_.Allocate(delta);
  if (!catalog_root.ok()) return IoErrorFrom(catalog_root.status());
  FormatCatalog(delta, *catalog_root);
  absl::StatusOr<PageId> head = e.ReserveJournalPage(delta);
  if (!head.ok()) return IoErrorFrom(head.status());
  absl::StatusOr<PageId> next = e.ReserveJournalPage(delta);
  if (!next.ok()) return IoErrorFrom(next.status());
  delta.SealAll(/*lsn=*/0);
  // Through the cache, which may already hold these pages as read (all zero) by the delta.
  for (const auto& [id, page] : delta.pages()) {
    e.cache_.Put(id, std::make_shared<const PageBuf>(page));
  }
  if (absl::Status s = e.cache_.FlushDirty(); !s.ok()) return IoErrorFrom(s);
  absl::StatusOr<JournalPosition> tail = StartJournal(*e.file_, *head, *next, /*seq=*/1,
                                                      /*epoch=*/1);
  if (!tail.ok()) return IoErrorFrom(tail.status());
  if (absl::Status s = e.file_->Sync(); !s.ok()) return IoErrorFrom(s);

  e.header_.counter = 1;
  e.header_.next_lsn = 1;
  e.header_.journal_head_page = tail->page;
  e.header_.journal_head_seq = tail->seq;
  e.header_.journal_head_offset = tail->offset;
  e.header_.catalog_root = *catalog_root;
  if (absl::Status s = WriteFileHeader(*e.file_, e.header_); !s.ok()) return IoErrorFrom(s);
  if (absl::Status s = e.file_->Sync(); !s.ok()) return IoErrorFrom(s);

  e.journal_ = std::make_unique<JournalWriter>(e.file_.get(), *tail, e.header_.next_lsn,
                                               e.header_.counter);
  e.cache_.SetLsnLimit(e.header_.next_lsn);
  return engine;
}

absl::Status Engine::Publish() {
  assert(creation_.has_value());
  const std::string temp = CreationPath(creation_->path);
  absl::Status renamed = creation_->vfs->RenameNoReplace(temp, creation_->path);
  if (!renamed.ok()) {
    Discard();
    if (renamed.code() == absl::StatusCode::kAlreadyExists) {
      return MakeError(Error::kFileAlreadyExists, renamed.message());
    }
    return IoErrorFrom(renamed);
  }
  const Creation creation = *std::move(creation_);
  creation_.reset();
  if (absl::Status s = creation.vfs->SyncDir(creation.path); !s.ok()) return IoErrorFrom(s);
  return absl::OkStatus();
}

void Engine::Discard() {
  std::lock_guard<TimedMutex> lock(commit_mu_);
  closed_ = true;
  {
    std::lock_guard<std::mutex> counters(counter_mu_);
    if (failed_.ok()) failed_ = Closed();
  }
  if (!creation_.has_value()) return;
  // While the file is still open and locked: a creator that takes over `temp` holds its lock.
  creation_->vfs->Remove(CreationPath(creation_->path)).IgnoreError();
  creation_.reset();
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Open(vfs::Vfs* vfs, const std::string& path,
                                                     const Config& config) {
  absl::StatusOr<std::unique_ptr<vfs::File>> file = OpenLocked(vfs, path);
  if (!file.ok()) return file.status();
  auto engine = std::unique_ptr<Engine>(
      new Engine(config, nullptr, std::make_unique<PageFile>(std::move(*file))));
  absl::Status recovered = engine->Recover();
  if (recovered.ok()) {
    // A checkpoint makes the recovered state the file's state and gives every later frame a
    // new epoch, so that stale frames past the journal's end can never be taken for new ones.
    std::lock_guard<TimedMutex> lock(engine->commit_mu_);
    recovered = engine->Checkpoint();
  }
  if (!recovered.ok()) {
    engine->closed_ = true;  // nothing (more) to checkpoint
    return recovered;
  }
  return engine;
}

absl::Status Engine::Recover() {
  std::lock_guard<TimedMutex> lock(commit_mu_);
  absl::StatusOr<FileHeader> header = ReadFileHeader(*file_);
  if (!header.ok()) {
    if (header.status().code() == absl::StatusCode::kFailedPrecondition) {
      return MakeError(Error::kNotPersyFile, header.status().message());
    }
    return IoErrorFrom(header.status());
  }
  header_ = *header;

  // Replay every complete commit record of the journal into the cache, as dirty pages.
  const JournalPosition head{header_.journal_head_page, header_.journal_head_seq,
                             header_.journal_head_offset, kNoPage};
  JournalReader reader(file_.get(), head, header_.next_lsn, header_.counter);
  uint64_t next_lsn = header_.next_lsn;
  std::map<PageId, uint64_t> replayed;  // page -> lsn of its last image in the journal
  // The last image of each page replayed, held here until the whole journal is read: a page
  // written by an early commit may have been freed and taken into the journal since, and its
  // image, were the cache to write it back now, would overwrite the journal being read. (Its
  // size is bounded by the journal's: Config::checkpoint_journal_bytes.)
  std::map<PageId, std::shared_ptr<const PageBuf>> images;
  std::map<uint64_t, std::string> in_doubt;  // prepared, not decided: write sets by prepare id
  while (true) {
    absl::StatusOr<std::optional<JournalRecord>> record = reader.Next();
    if (!record.ok()) return IoErrorFrom(record.status());
    if (!record->has_value()) break;
    absl::StatusOr<CommitRecord> commit = DecodeCommitRecord((*record)->payload);
    if (!commit.ok()) return IoErrorFrom(commit.status());
    for (PrepareEntry& prepare : commit->log.prepares) {
      in_doubt[prepare.prepare_id] = std::move(prepare.write_set);
    }
    for (const Decision& decision : commit->log.decisions) in_doubt.erase(decision.prepare_id);
    for (const PageChange& change : commit->pages) {
      // A difference applies to the page's last image replayed.
      auto base = images.find(change.id);
      absl::StatusOr<PageBuf> page =
          ApplyPageChange(change, base == images.end() ? nullptr : base->second.get());
      if (!page.ok()) return IoErrorFrom(page.status());
      replayed[change.id] = (*record)->lsn;
      images[change.id] = std::make_shared<const PageBuf>(*page);
    }
    next_lsn = (*record)->lsn + 1;
  }
  // Had the header copy in use been superseded by a checkpoint whose own copy was later
  // damaged, its journal would be stale, and replaying it would quietly undo commits. The pages
  // tell: none may have been written by a later commit than the journal's last image of it (a
  // page that fails its check was torn in place, which the journal covers), and no page read
  // from now on may come from a commit past the journal's end (PageCache::SetLsnLimit).
  for (const auto& [id, lsn] : replayed) {
    PageBuf on_disk;
    if (!file_->Read(id, on_disk).ok()) continue;
    if (LsnOf(on_disk) > lsn) {
      return MakeError(Error::kDataLoss,
                       absl::StrCat("page ", id, " holds commit ", LsnOf(on_disk),
                                    " but the journal's last image of it is from commit ", lsn,
                                    ": the file header in use is older than the data"));
    }
  }
  cache_.SetLsnLimit(next_lsn);
  for (PageId id : reader.pages()) {
    allocator_.Reserve(id);
    journal_pages_.insert(id);
    images.erase(id);  // a page the journal took after a commit wrote it: that image is stale
  }
  for (auto& [id, image] : images) cache_.Put(id, std::move(image));
  images.clear();
  journal_ = std::make_unique<JournalWriter>(file_.get(), reader.end(), next_lsn,
                                             header_.counter);

  PageDelta delta(&cache_);
  absl::StatusOr<Catalog> catalog = ReadCatalog(delta, header_.catalog_root);
  if (!catalog.ok()) return IoErrorFrom(catalog.status());
  {
    std::unique_lock<std::shared_mutex> state(state_mu_);
    catalog_ = std::move(*catalog);
  }
  // The transactions left in doubt hold their locks again, and the ids they took stay taken.
  std::lock_guard<std::mutex> counters(counter_mu_);
  next_segment_id_ = catalog_.next_segment_id;
  next_index_id_ = catalog_.next_index_id;
  for (const auto& [prepare_id, write_set] : in_doubt) {
    absl::StatusOr<std::unique_ptr<TxState>> tx = DecodeWriteSet(this, write_set);
    if (!tx.ok()) return IoErrorFrom(tx.status());
    for (const auto& [name, id] : (*tx)->created()) {
      next_segment_id_ = std::max(next_segment_id_, id + 1);
    }
    for (const auto& [name, declared] : (*tx)->indexes().created()) {
      next_index_id_ = std::max(next_index_id_, declared.id + 1);
    }
    for (const auto& [id, highest] : (*tx)->highest_inserted()) {
      // Started as AllocateRecordNumber starts it, then raised past the prepared inserts.
      const SegmentMeta* meta = catalog_.FindById(id);
      uint64_t& next =
          next_number_.try_emplace(id, meta == nullptr ? 1 : meta->next_number).first->second;
      next = std::max(next, highest + 1);
    }
    prepared_[prepare_id] = PreparedTx{std::move(*tx)};
    next_prepare_id_ = prepare_id + 1;
  }
  return absl::OkStatus();
}

absl::Status Engine::Close() {
  std::lock_guard<TimedMutex> lock(commit_mu_);
  if (closed_) return absl::OkStatus();
  closed_ = true;
  absl::Status result = WriteState().ok() ? Checkpoint() : absl::OkStatus();
  std::lock_guard<std::mutex> counters(counter_mu_);
  if (failed_.ok()) failed_ = Closed();
  return result;
}

absl::Status Engine::WriteState() const {
  std::lock_guard<std::mutex> counters(counter_mu_);
  return failed_;
}

absl::Status Engine::Fail(const absl::Status& status) {
  std::lock_guard<std::mutex> counters(counter_mu_);
  if (failed_.ok()) {
    failed_ = MakeError(Error::kFailed, absl::StrCat("an earlier write failed: ",
                                                     status.message()));
  }
  return IoErrorFrom(status);
}

uint32_t Engine::AllocateSegmentId() {
  std::lock_guard<std::mutex> counters(counter_mu_);
  return next_segment_id_++;
}

uint32_t Engine::AllocateIndexId() {
  std::lock_guard<std::mutex> counters(counter_mu_);
  return next_index_id_++;
}

uint64_t Engine::AllocateRecordNumber(uint32_t segment_id) {
  std::lock_guard<std::mutex> counters(counter_mu_);
  auto it = next_number_.find(segment_id);
  if (it == next_number_.end()) {
    // First insert since open: continue after what committed inserts used. Reading catalog_
    // here is safe: the caller holds the shared lock.
    const SegmentMeta* meta = catalog_.FindById(segment_id);
    it = next_number_.emplace(segment_id, meta == nullptr ? 1 : meta->next_number).first;
  }
  return it->second++;
}

std::shared_lock<std::shared_mutex> Engine::SharedLock() const {
  return std::shared_lock<std::shared_mutex>(state_mu_);
}

absl::Status Engine::Validate(const TxState& tx, const Catalog& catalog,
                              PageDelta& delta) const {
  for (const auto& [name, id] : tx.created()) {
    auto committed = catalog.segments.find(name);
    // A name this transaction freed by dropping its committed segment may be created again.
    if (committed != catalog.segments.end() &&
        tx.dropped().count(committed->second.id) == 0) {
      return MakeError(Error::kSegmentAlreadyExists,
                       absl::StrCat("segment \"", std::string(name), "\" was created meanwhile"));
    }
  }
  auto created_here = [&](uint32_t id) {
    for (const auto& [name, created] : tx.created()) {
      if (created == id) return true;
    }
    return false;
  };
  for (const auto& [id, name] : tx.dropped()) {
    if (catalog.FindById(id) == nullptr) {
      return MakeError(Error::kSegmentNotFound,
                       absl::StrCat("segment \"", std::string(name), "\" was dropped meanwhile"));
    }
  }
  for (const auto& [id, records] : tx.writes()) {
    if (!created_here(id) && catalog.FindById(id) == nullptr) {
      return MakeError(Error::kSegmentNotFound,
                       absl::StrCat("segment ", id, " was dropped meanwhile"));
    }
  }
  if (absl::Status s = ValidateIndexNames(tx.indexes(), catalog); !s.ok()) return s;
  for (const auto& [id, records] : tx.writes()) {
    if (created_here(id)) continue;
    const SegmentMeta* meta = catalog.FindById(id);
    for (const auto& [number, write] : records) {
      if (write.inserted) continue;
      absl::StatusOr<std::optional<uint32_t>> version = RecordVersion(delta, meta->root, number);
      if (!version.ok()) return IoErrorFrom(version.status());
      if (!version->has_value()) {
        return MakeError(Error::kRecordNotFound,
                         absl::StrCat("record ", RecordId(id, number).ToString(),
                                      " was deleted meanwhile"));
      }
    }
  }
  auto check = [&](const std::map<RecordId, uint32_t>& versions) -> absl::Status {
    for (const auto& [rid, seen] : versions) {
      const SegmentMeta* meta = catalog.FindById(rid.segment());
      std::optional<uint32_t> now;
      if (meta != nullptr) {
        absl::StatusOr<std::optional<uint32_t>> version =
            RecordVersion(delta, meta->root, rid.number());
        if (!version.ok()) return IoErrorFrom(version.status());
        now = *version;
      }
      if (now != seen) {
        return MakeError(Error::kVersionConflict,
                         absl::StrCat("record ", rid.ToString(), " changed since version ",
                                      seen));
      }
    }
    return absl::OkStatus();
  };
  if (tx.strategy() != TxStrategy::kLastWriterWins) {
    if (absl::Status s = check(tx.write_versions()); !s.ok()) return s;
  }
  if (tx.strategy() == TxStrategy::kVersionOnRead) {
    if (absl::Status s = check(tx.read_versions()); !s.ok()) return s;
  }
  return ValidateIndexKeys(tx.indexes(), tx.strategy(), catalog, delta);
}

absl::Status Engine::Apply(const TxState& tx, PageDelta& delta, Catalog& catalog) {
  for (const auto& [id, name] : tx.dropped()) {
    auto it = catalog.segments.find(name);
    if (it == catalog.segments.end() || it->second.id != id) continue;
    if (absl::Status s = DropSegmentPages(delta, allocator_, it->second.root); !s.ok()) return s;
    catalog.segments.erase(it);
  }
  for (const auto& [name, id] : tx.created()) {
    SegmentMeta meta;
    meta.id = id;
    catalog.segments[name] = meta;
    catalog.next_segment_id = std::max(catalog.next_segment_id, id + 1);
  }
  for (const auto& [id, highest] : tx.highest_inserted()) {
    if (SegmentMeta* meta = catalog.FindById(id); meta != nullptr) {
      meta->next_number = std::max(meta->next_number, highest + 1);
    }
  }
  for (const auto& [id, records] : tx.writes()) {
    SegmentMeta* meta = catalog.FindById(id);
    if (meta == nullptr) continue;  // written, then dropped: Validate rules this out
    for (const auto& [number, write] : records) {
      absl::Status s;
      if (write.inserted) {
        s = InsertRecord(delta, allocator_, meta->root, number, *write.bytes);
      } else if (write.bytes.has_value()) {
        s = UpdateRecord(delta, allocator_, meta->root, number, *write.bytes);
      } else {
        s = DeleteRecord(delta, allocator_, meta->root, number);
      }
      if (!s.ok()) return s;
    }
  }
  if (absl::Status s = ApplyIndexes(tx.indexes(), delta, allocator_, catalog); !s.ok()) return s;
  return WriteCatalog(delta, allocator_, header_.catalog_root, catalog);
}

absl::StatusOr<PageId> Engine::ReserveJournalPage(PageDelta& delta) {
  absl::StatusOr<PageId> id = allocator_.ReserveForJournal(delta);
  if (!id.ok()) return id;
  journal_pages_.insert(*id);
  // The page is free, but the cache may still hold a dirty image of what it was; written back
  // later, that image would overwrite the journal.
  ForgetPage(*id);
  if (absl::Status s = GrowForJournal(*id); !s.ok()) return s;
  return id;
}

absl::Status Engine::GrowForJournal(PageId id) {
  // Every journal append past the end of the file would change its size, and make the sync of
  // each commit write the file system's metadata too. So the file grows ahead of the journal,
  // a run of pages at a time, with sealed free pages (a page inside the file must verify; they
  // are free space, given back by the next checkpoint's truncation if still unused). It stops
  // short of the next group's bitmap page: a group not started has no page there.
  // The file is asked its size (fstat) only when pages_at_least_, a lower bound of it, does not
  // settle whether `id` lies inside. Since Linux 6.13 a file whose times were asked for gets a
  // fine-grained mtime at its next write, which dirties its inode, and on ext4 without a
  // journal (as on the benchmark machine) the sync then writes the inode too, a second I/O.
  // Asked at each journal page, that was a fifth of one thread's syncs, and more with more
  // threads, whose groups write several journal pages (docs/benchmarks.md).
  if (id < pages_at_least_) return absl::OkStatus();
  absl::StatusOr<uint64_t> pages = file_->PageCount();
  if (!pages.ok()) return pages.status();
  pages_at_least_ = *pages;
  if (id < *pages) return absl::OkStatus();
  // A file being created gets its header and first bitmap page (0 to 2) from Create.
  const PageId from = std::max<PageId>(*pages, 3);
  const PageId end = std::min<PageId>(id + kJournalGrowPages, BitmapPageOf(id / kGroupPages + 1));
  std::string run;
  run.reserve((end - from) * kPageSize);
  for (PageId p = from; p < end; ++p) {
    PageBuf page;
    SealPage(p, PageType::kFree, /*lsn=*/0, page);
    run.append(page.data(), kPageSize);
  }
  if (absl::Status s = file_->WriteAt(from * kPageSize, run); !s.ok()) return s;
  pages_at_least_ = end;
  return absl::OkStatus();
}

absl::Status Engine::AppendAndSync(const CommitLog& log, PageDelta& delta) {
  const uint64_t lsn = journal_->next_lsn();
  delta.SealAll(lsn);
  // A page whose whole image this journal holds is sent as its difference from its committed
  // image, which is the journal's last image of it (commit_record.h).
  const std::string payload = EncodeCommitRecord(log, delta.pages(), [&](PageId id) {
    return journaled_.count(id) != 0 ? delta.CommittedImage(id).get() : nullptr;
  });
  absl::StatusOr<uint64_t> appended =
      journal_->Append(payload, [&]() { return ReserveJournalPage(delta); });
  if (!appended.ok()) return Fail(appended.status());
  // The one sync of the commit: when it returns, the commit is durable.
  const auto sync_start = std::chrono::steady_clock::now();
  if (absl::Status s = file_->Sync(); !s.ok()) return Fail(s);
  last_sync_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now() - sync_start)
                          .count(),
                      std::memory_order_relaxed);
  cache_.SetLsnLimit(journal_->next_lsn());
  journal_bytes_ += payload.size();
  for (const auto& [id, page] : delta.pages()) journaled_.insert(id);
  return absl::OkStatus();
}

absl::Status Engine::EnsureJournalRoom(uint64_t pages) {
  PageDelta view(&cache_);
  absl::StatusOr<uint64_t> room = allocator_.JournalRoom(view, pages);
  if (!room.ok()) return IoErrorFrom(room.status());
  if (*room >= pages) return absl::OkStatus();
  // Journal pages must lie in groups whose bitmap page is durable (allocator.h), so new groups
  // are started by a commit of their own, which needs only a page or two of journal.
  PageDelta grow(&cache_);
  if (absl::Status s = allocator_.StartGroupsForJournal(grow, pages); !s.ok()) {
    return IoErrorFrom(s);
  }
  if (absl::Status s = AppendAndSync(CommitLog(), grow); !s.ok()) return s;
  Install(grow, nullptr);
  return absl::OkStatus();
}

uint64_t Engine::Install(const PageDelta& delta, Catalog* catalog) {
  std::unique_lock<std::shared_mutex> state(state_mu_);
  const uint64_t version = version_ + 1;
  if (!snapshots_.empty()) {
    // A snapshot reads the current image of a page unless an older image is kept for it: keep
    // the image this install replaces if the newest snapshot reads it now. A page the delta
    // never read from the committed state (a page it allocated) was free, and no snapshot
    // reads it.
    const uint64_t newest = *snapshots_.rbegin();
    for (const auto& [id, page] : delta.pages()) {
      std::shared_ptr<const PageBuf> replaced = delta.CommittedImage(id);
      if (replaced == nullptr) continue;
      auto kept = old_images_.find(id);
      if (kept == old_images_.end()) {
        old_images_[id].emplace(version, std::move(replaced));
      } else if (kept->second.rbegin()->first <= newest) {
        kept->second.emplace(version, std::move(replaced));
      }
    }
  }
  for (const auto& [id, page] : delta.pages()) {
    cache_.Put(id, std::make_shared<const PageBuf>(page));
  }
  if (catalog != nullptr) catalog_ = std::move(*catalog);
  version_ = version;
  return version;
}

void Engine::KeepFreed(uint64_t version) {
  std::vector<PageId> freed = allocator_.TakeDeferred();
  if (freed.empty()) return;
  bool needed = false;
  {
    // A snapshot taken after the install sees these pages free and never reads them.
    auto lock = SharedLock();
    needed = !snapshots_.empty() && *snapshots_.begin() < version;
  }
  if (needed) {
    // Their images stay where they are, in the cache or the file, for the snapshots to read.
    std::vector<PageId>& kept = kept_[version];
    kept.insert(kept.end(), freed.begin(), freed.end());
    return;
  }
  for (PageId id : freed) {
    allocator_.Unreserve(id);
    ForgetPage(id);
  }
}

void Engine::ReleaseKept() {
  if (kept_.empty()) return;
  uint64_t oldest = UINT64_MAX;
  {
    auto lock = SharedLock();
    if (!snapshots_.empty()) oldest = *snapshots_.begin();
  }
  // The pages freed by the commit of version v are read by the snapshots older than v only.
  for (auto it = kept_.begin(); it != kept_.end() && it->first <= oldest;) {
    for (PageId id : it->second) {
      allocator_.Unreserve(id);
      ForgetPage(id);
    }
    it = kept_.erase(it);
  }
}

void Engine::ForgetPage(PageId id) {
  // The image of a freed page must not linger in the cache, to be written back later over
  // whatever the page holds next; and its next image in the journal must be whole, since the
  // page's next base is not the journal's last image of it any more.
  cache_.Drop(id);
  journaled_.erase(id);
}

void Engine::DiscardFreed() {
  for (PageId id : allocator_.TakeDeferred()) allocator_.Unreserve(id);
}

std::unique_ptr<SnapshotState> Engine::TakeSnapshot() {
  std::unique_lock<std::shared_mutex> state(state_mu_);
  snapshots_.insert(version_);
  return std::make_unique<SnapshotState>(this, version_, catalog_);
}

void Engine::ReleaseSnapshot(uint64_t version) {
  std::unique_lock<std::shared_mutex> state(state_mu_);
  snapshots_.erase(snapshots_.find(version));
  // An image kept for the versions [from, until) is needed while a snapshot is in that range.
  for (auto page = old_images_.begin(); page != old_images_.end();) {
    uint64_t from = 0;
    for (auto it = page->second.begin(); it != page->second.end();) {
      const uint64_t until = it->first;
      auto reader = snapshots_.lower_bound(from);
      from = until;
      if (reader != snapshots_.end() && *reader < until) {
        ++it;
      } else {
        it = page->second.erase(it);
      }
    }
    page = page->second.empty() ? old_images_.erase(page) : std::next(page);
  }
  // The kept pages are given back by the next commit or checkpoint (ReleaseKept), which hold
  // the commit lock the allocator needs.
}

absl::StatusOr<std::shared_ptr<const PageBuf>> Engine::PageAsOf(uint64_t version, PageId id) {
  if (auto page = old_images_.find(id); page != old_images_.end()) {
    if (auto it = page->second.upper_bound(version); it != page->second.end()) {
      return it->second;
    }
  }
  return cache_.Get(id);
}

absl::Status Engine::Commit(const TxState& tx) {
  CommitRequest request;
  request.tx = &tx;
  return Submit(request);
}

absl::StatusOr<uint64_t> Engine::Prepare(std::unique_ptr<TxState> tx) {
  CommitRequest request;
  request.kind = CommitRequest::Kind::kPrepare;
  request.tx = tx.get();
  request.owned = &tx;
  if (absl::Status s = Submit(request); !s.ok()) return s;
  return request.prepare_id;
}

absl::Status Engine::DecidePrepared(uint64_t prepare_id, bool commit) {
  CommitRequest request;
  request.kind = commit ? CommitRequest::Kind::kCommitPrepared
                        : CommitRequest::Kind::kRollbackPrepared;
  request.prepare_id = prepare_id;
  return Submit(request);
}

std::vector<Engine::PreparedInfo> Engine::Prepared() {
  std::lock_guard<TimedMutex> lock(commit_mu_);
  std::vector<PreparedInfo> out;
  for (const auto& [id, prepared] : prepared_) {
    out.push_back(PreparedInfo{id, prepared.tx->transaction_id()});
  }
  return out;
}

std::optional<std::string> Engine::LockedBy(const TxState& tx,
                                            const std::vector<const TxState*>& also) const {
  for (const auto& [id, prepared] : prepared_) {
    if (std::optional<std::string> what = LockConflict(tx, *prepared.tx); what.has_value()) {
      return what;
    }
  }
  for (const TxState* prepared : also) {
    if (std::optional<std::string> what = LockConflict(tx, *prepared); what.has_value()) {
      return what;
    }
  }
  return std::nullopt;
}

absl::Status Engine::Submit(CommitRequest& request) {
  const auto deadline = std::chrono::steady_clock::now() + config_.lock_timeout;
  while (true) {
    absl::Status result = SubmitOnce(request, deadline);
    if (!request.lock_wait) return result;
    // A prepared transaction holds a lock the request needs: wait for a decision (commit or
    // rollback of a prepared transaction), then try again.
    std::unique_lock<std::mutex> queue(queue_mu_);
    if (!decided_.wait_until(queue, deadline,
                             [&] { return decisions_ != request.decisions_seen; })) {
      return MakeError(Error::kLockTimeout, result.message());
    }
    request.taken = false;
    request.done = false;
    request.lead = false;
    request.lock_wait = false;
  }
}

std::condition_variable* Engine::HandOff() {
  if (queue_.empty()) {
    leader_active_ = false;
    return nullptr;
  }
  CommitRequest* next = queue_.front();
  queue_.pop_front();
  next->lead = true;
  return &wake_[next->slot];
}

void Engine::Gather(std::unique_lock<std::mutex>& queue,
                    std::chrono::steady_clock::time_point deadline) {
  // Without it, the threads of a group, woken when it is durable, queue while the next group
  // already syncs, and so take every other sync: two cohorts alternate, each thread commits once
  // in two syncs, and eight threads do the work of four. Waiting at most as long as a sync costs
  // less than the sync they would otherwise wait for.
  if (queue_.size() + 1 >= expected_group_) return;
  const std::chrono::nanoseconds wait =
      std::min<std::chrono::nanoseconds>(config_.group_commit_wait,
                                         std::chrono::nanoseconds(last_sync_ns_.load(
                                             std::memory_order_relaxed)));
  if (wait <= std::chrono::nanoseconds::zero()) return;
  // The leader first polls, yielding its processor, rather than sleep on a condition variable:
  // a leader put to sleep adds to each group the time to wake it, and its processor, once the
  // last thread has queued. On a virtual machine of two processors that wake-up was a tenth of
  // the cycle of a group of eight, and polling raised the median rate of eight threads from
  // 2.97-3.77 to 3.24-4.25 times one thread's (docs/benchmarks.md). Past kGatherPoll (a slow
  // disk's long wait, or threads that do not come back at once) it sleeps: the wake-up matters
  // less, the CPU more.
  constexpr std::chrono::microseconds kGatherPoll(250);
  const size_t until = expected_group_ - 1;
  const auto now = std::chrono::steady_clock::now();
  const auto end = std::min(deadline, now + wait);
  const auto poll_end = std::min(end, now + kGatherPoll);
  gather_until_ = until;
  gathered_flag_.store(false, std::memory_order_relaxed);
  queue.unlock();
  while (!gathered_flag_.load(std::memory_order_acquire) &&
         std::chrono::steady_clock::now() < poll_end) {
    std::this_thread::yield();
  }
  queue.lock();
  if (poll_end != end) {
    gathered_.wait_until(queue, end, [this] { return queue_.size() >= gather_until_; });
  }
  gather_until_ = 0;
}

absl::Status Engine::SubmitOnce(CommitRequest& request,
                                std::chrono::steady_clock::time_point deadline) {
  // Group commit: with no leader at work, the request's thread leads at once; otherwise the
  // request joins the queue and its thread sleeps until its group is done, or until the leader
  // that finishes hands the lead to it (the first one queued). A leader takes the commit lock
  // and every request queued by then and commits them as one group, with one journal record and
  // one sync. While a leader syncs, the next group gathers, and its leader may wait a little for
  // the threads of the last group to queue again (Gather). Each thread is woken only for its
  // own request (the leader wakes its group's owners and the next leader), and after the leader
  // has let go of queue_mu_, so that it does not wake to wait for the mutex. The condition
  // variables are the engine's, not the requests': an owner may return and destroy its request
  // as soon as it sees it done.
  std::unique_lock<std::mutex> queue(queue_mu_);
  if (!leader_active_) {
    leader_active_ = true;
    request.lead = true;
  } else {
    // A group's owners share a condition variable, so that one notify wakes them all: those
    // queued after the same take are taken together. The first one queued, the likely next
    // leader, waits on a slot of its own, so that handing it the lead wakes no one else.
    request.slot = queue_.empty() ? 0 : 1 + takes_ % (wake_.size() - 1);
    queue_.push_back(&request);
    if (gather_until_ != 0 && queue_.size() >= gather_until_) {
      gathered_flag_.store(true, std::memory_order_release);
      gathered_.notify_one();
    }
    std::condition_variable& wake = wake_[request.slot];
    wake.wait_until(queue, deadline, [&] { return request.done || request.lead; });
    if (request.done) return request.result;
    if (!request.lead) {
      if (request.taken) {
        // A leader has it: its outcome is on the way, and cannot be withdrawn any more.
        wake.wait(queue, [&request] { return request.done; });
        return request.result;
      }
      queue_.erase(std::find(queue_.begin(), queue_.end(), &request));
      return MakeError(Error::kLockTimeout, "timed out waiting for the commit lock");
    }
  }
  Gather(queue, deadline);
  queue.unlock();

  std::unique_lock<TimedMutex> lock(commit_mu_, std::defer_lock);
  const bool locked = lock.try_lock_until(deadline);
  queue.lock();
  if (!locked) {
    // Close, a checkpoint or an integrity check held the file past the deadline.
    std::condition_variable* next = HandOff();
    queue.unlock();
    if (next != nullptr) next->notify_all();
    return MakeError(Error::kLockTimeout, "timed out waiting for the commit lock");
  }
  std::vector<CommitRequest*> group = {&request};
  group.insert(group.end(), queue_.begin(), queue_.end());
  queue_.clear();
  ++takes_;
  for (CommitRequest* r : group) r->taken = true;
  queue.unlock();

  const uint64_t decided = CommitGroup(group);
  lock.unlock();

  // Once `done` is set and queue_mu_ released, an owner may return and destroy its request:
  // only the slots are used after that.
  std::vector<size_t> slots;
  slots.reserve(group.size());
  queue.lock();
  for (CommitRequest* r : group) {
    r->done = true;
    if (r != &request) slots.push_back(r->slot);
  }
  if (decided > 0) decisions_ += decided;
  expected_group_ = group.size() + queue_.size();
  std::condition_variable* next = HandOff();
  absl::Status result = request.result;
  queue.unlock();
  std::sort(slots.begin(), slots.end());
  slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
  for (size_t slot : slots) wake_[slot].notify_all();
  if (next != nullptr) next->notify_all();
  if (decided > 0) decided_.notify_all();
  return result;
}

uint64_t Engine::CommitGroup(const std::vector<CommitRequest*>& group) {
  using Kind = CommitRequest::Kind;
  ReleaseKept();
  // Pages freed while building a group that does not commit are free again.
  absl::Cleanup discard = [this] { DiscardFreed(); };
  auto decide_all = [&](const absl::Status& status) -> uint64_t {
    for (CommitRequest* r : group) r->result = status;
    return 0;
  };
  if (absl::Status s = WriteState(); !s.ok()) return decide_all(s);
  auto writes = [](const TxState& tx) {
    return !tx.created().empty() || !tx.dropped().empty() || !tx.writes().empty() ||
           !tx.highest_inserted().empty() || tx.indexes().has_writes();
  };
  // The transaction a request applies, if any.
  auto applied = [&](const CommitRequest& r) -> const TxState* {
    if (r.kind == Kind::kCommitPrepared) {
      auto it = prepared_.find(r.prepare_id);
      return it == prepared_.end() ? nullptr : it->second.tx.get();
    }
    return r.kind == Kind::kCommit || r.kind == Kind::kPrepare ? r.tx : nullptr;
  };
  uint64_t estimate = 0;
  for (CommitRequest* r : group) {
    const TxState* tx = applied(*r);
    // A prepare journals its write set, which takes about as many pages as its changes do.
    if (tx != nullptr && writes(*tx)) estimate += JournalPagesFor(*tx);
    if (r->kind != Kind::kCommit) estimate += 1;
  }
  // Twice the journal's need: the commit's own allocations take free pages too.
  if (estimate > 0) {
    if (absl::Status s = EnsureJournalRoom(2 * estimate); !s.ok()) return decide_all(s);
  }

  // Each request is validated against the committed state with the group's earlier members
  // applied, exactly as if they had committed one after the other, in queue order; one that
  // fails is left out with its error, and one that needs a lock of a prepared transaction (also
  // one prepared earlier in this group) is left out to wait for a decision. The group is built
  // again from the start if a member's changes fail to apply (it is then left out with that
  // error: I/O errors and damage), and at most once more if the journal turns out to lack room
  // for the record: nothing is written until the record is, so the delta is dropped, room is
  // made by a commit of its own, and the group is built again against the new state.
  std::vector<bool> apply_failed(group.size(), false);
  std::optional<PageDelta> delta;
  Catalog catalog;
  std::vector<CommitRequest*> members;
  CommitLog log;
  std::vector<const TxState*> group_prepared;
  std::set<uint64_t> decided;  // in this group
  uint64_t prepare_id = next_prepare_id_;
  auto decide_members = [&](const absl::Status& status) -> uint64_t {
    for (CommitRequest* r : members) r->result = status;
    return 0;
  };
  for (int room_attempt = 0;;) {
    DiscardFreed();
    delta.emplace(&cache_);
    catalog = catalog_;
    members.clear();
    log = CommitLog();
    group_prepared.clear();
    decided.clear();
    prepare_id = next_prepare_id_;
    bool rebuild = false;
    for (size_t i = 0; i < group.size() && !rebuild; ++i) {
      CommitRequest* r = group[i];
      if (apply_failed[i]) continue;
      r->lock_wait = false;
      const bool decision =
          r->kind == Kind::kCommitPrepared || r->kind == Kind::kRollbackPrepared;
      if (decision && (prepared_.count(r->prepare_id) == 0 ||
                       !decided.insert(r->prepare_id).second)) {
        r->result = MakeError(Error::kTransactionFinished, "the transaction was decided");
        continue;
      }
      if (r->kind == Kind::kRollbackPrepared) {
        r->result = absl::OkStatus();
        log.decisions.push_back(Decision{r->prepare_id, /*commit=*/false});
        members.push_back(r);
        continue;
      }
      const TxState* tx = applied(*r);
      if (r->kind != Kind::kCommitPrepared) {
        if (std::optional<std::string> locked = LockedBy(*tx, group_prepared)) {
          r->result = MakeError(Error::kLockTimeout,
                                absl::StrCat("a prepared transaction holds ", *locked));
          r->lock_wait = true;
          r->decisions_seen = decisions_;
          continue;
        }
        // A prepared transaction's checks were done at prepare, and its locks kept them true.
        r->result = Validate(*tx, catalog, *delta);
        if (!r->result.ok()) continue;
      }
      if (r->kind == Kind::kPrepare) {
        r->prepare_id = prepare_id++;
        log.prepares.push_back(PrepareEntry{r->prepare_id, EncodeWriteSet(*tx)});
        group_prepared.push_back(tx);
        members.push_back(r);
        continue;
      }
      // Nothing to make durable for a transaction that only read; what it read is checked.
      // (A prepared one that only read still needs its decision recorded.)
      if (!writes(*tx) && r->kind == Kind::kCommit) continue;
      r->result = absl::OkStatus();
      if (absl::Status s = writes(*tx) ? Apply(*tx, *delta, catalog) : absl::OkStatus();
          !s.ok()) {
        r->result = IoErrorFrom(s);
        apply_failed[i] = true;
        rebuild = true;
        continue;
      }
      if (r->kind == Kind::kCommitPrepared) {
        log.decisions.push_back(Decision{r->prepare_id, /*commit=*/true});
      }
      log.transaction_ids.push_back(tx->transaction_id());
      members.push_back(r);
    }
    if (rebuild) continue;
    if (members.empty()) return 0;
    // A page the group changed and then freed is not journaled. Its committed image stays in
    // the cache until KeepFreed or ReleaseKept lets it go: a snapshot may still read it.
    if (absl::Status s = allocator_.DropFreedPages(*delta); !s.ok()) {
      return decide_members(IoErrorFrom(s));
    }
    // At most each page's whole image with its id and form, after the log.
    const uint64_t payload =
        EncodedLogSize(log) + 4 + delta->pages().size() * (9 + kPageSize);
    const uint64_t need = JournalPagesForRecord(payload);
    absl::StatusOr<uint64_t> room = allocator_.JournalRoom(*delta, need);
    if (!room.ok()) return decide_members(IoErrorFrom(room.status()));
    if (*room >= need) break;
    if (room_attempt++ == 1) {
      return decide_members(MakeError(
          Error::kIo, absl::StrCat("the journal has no room for a commit of ", payload, " bytes")));
    }
    if (absl::Status s = EnsureJournalRoom(2 * need); !s.ok()) return decide_members(s);
  }
  if (absl::Status s = AppendAndSync(log, *delta); !s.ok()) return decide_members(s);
  KeepFreed(Install(*delta, &catalog));
  next_prepare_id_ = prepare_id;
  for (CommitRequest* r : members) {
    if (r->kind == Kind::kPrepare) {
      prepared_[r->prepare_id] = PreparedTx{std::move(*r->owned)};
    } else if (r->kind != Kind::kCommit) {
      prepared_.erase(r->prepare_id);
    }
  }
  decide_members(absl::OkStatus());
  if (journal_bytes_ > config_.checkpoint_journal_bytes) {
    // The group is durable already; a failed checkpoint fails the handle, not the commits.
    Checkpoint().IgnoreError();
  }
  return log.decisions.size();
}

absl::Status Engine::Checkpoint() {
  ReleaseKept();
  // The transactions prepared and not decided are written again at the start of the new
  // journal, in one record, before the header points at it: the old journal, where they were
  // prepared, is given up.
  CommitLog relog;
  for (const auto& [id, prepared] : prepared_) {
    relog.prepares.push_back(PrepareEntry{id, EncodeWriteSet(*prepared.tx)});
  }
  const std::string relog_payload =
      relog.prepares.empty() ? std::string() : EncodeCommitRecord(relog, {});
  if (!relog_payload.empty()) {
    if (absl::Status s = EnsureJournalRoom(2 * JournalPagesForRecord(relog_payload.size()));
        !s.ok()) {
      return s;
    }
  }

  // The journal restarts in the lowest free pages, so that a journal that wandered to the end
  // of the file does not keep the file from shrinking. Its page header carries the next
  // sequence number; the new epoch (the header counter) makes any older frame there invalid.
  std::set<PageId> old_journal;
  old_journal.swap(journal_pages_);
  bool switched = false;
  // Until the header names the new journal, the old one is the journal.
  absl::Cleanup keep_old = [&] {
    if (!switched) journal_pages_.insert(old_journal.begin(), old_journal.end());
  };
  PageDelta reserve_view(&cache_);
  absl::StatusOr<PageId> head = ReserveJournalPage(reserve_view);
  if (!head.ok()) return IoErrorFrom(head.status());
  absl::StatusOr<PageId> next = ReserveJournalPage(reserve_view);
  if (!next.ok()) return IoErrorFrom(next.status());
  absl::StatusOr<JournalPosition> start =
      StartJournal(*file_, *head, *next, journal_->position().seq + 1, header_.counter + 1);
  if (!start.ok()) return Fail(start.status());
  FileHeader header = header_;
  header.counter = header_.counter + 1;
  header.next_lsn = journal_->next_lsn();
  header.journal_head_page = start->page;
  header.journal_head_seq = start->seq;
  header.journal_head_offset = start->offset;
  auto journal = std::make_unique<JournalWriter>(file_.get(), *start, header.next_lsn,
                                                 header.counter);
  if (!relog_payload.empty()) {
    absl::StatusOr<uint64_t> appended =
        journal->Append(relog_payload, [&]() { return ReserveJournalPage(reserve_view); });
    if (!appended.ok()) return Fail(appended.status());
  }

  if (absl::Status s = cache_.FlushDirty(); !s.ok()) return Fail(s);
  if (absl::Status s = file_->Sync(); !s.ok()) return Fail(s);
  if (absl::Status s = WriteFileHeader(*file_, header); !s.ok()) return Fail(s);
  if (absl::Status s = file_->Sync(); !s.ok()) return Fail(s);
  header_ = header;
  journal_ = std::move(journal);
  journaled_.clear();
  switched = true;
  cache_.SetLsnLimit(journal_->next_lsn());
  journal_bytes_ = 0;

  // The old journal is no longer needed: its pages are free space again.
  for (PageId id : old_journal) {
    if (journal_pages_.count(id) == 0) allocator_.Unreserve(id);
  }
  // Give back free pages at the tail. Not synced: a lost truncate only leaves free pages.
  absl::StatusOr<uint64_t> pages = file_->PageCount();
  if (!pages.ok()) return Fail(pages.status());
  PageDelta delta(&cache_);
  absl::StatusOr<uint64_t> used = allocator_.UsedPageCount(delta, *pages);
  if (!used.ok()) return IoErrorFrom(used.status());
  if (*used < *pages) {
    pages_at_least_ = 0;
    if (absl::Status s = file_->Truncate(*used); !s.ok()) return Fail(s);
  }
  return absl::OkStatus();
}

absl::Status Engine::CheckIntegrity() {
  std::lock_guard<TimedMutex> lock(commit_mu_);
  PageDelta view(&cache_);
  // Who claims each page; a page claimed twice is double use.
  std::map<PageId, std::string> owner;
  auto claim = [&](PageId id, const std::string& who) -> absl::Status {
    auto [it, inserted] = owner.emplace(id, who);
    if (!inserted) {
      return MakeError(Error::kDataLoss, absl::StrCat("page ", id, " is used by both ",
                                                      it->second, " and ", who));
    }
    return absl::OkStatus();
  };
  for (PageId id : {PageId{0}, PageId{1}}) {
    if (absl::Status s = claim(id, "the file header"); !s.ok()) return s;
  }
  absl::StatusOr<std::vector<PageId>> catalog_pages = CatalogPages(view, header_.catalog_root);
  if (!catalog_pages.ok()) return IoErrorFrom(catalog_pages.status());
  for (PageId id : *catalog_pages) {
    if (absl::Status s = claim(id, "the catalog"); !s.ok()) return s;
  }
  for (const auto& [name, meta] : catalog_.segments) {
    std::vector<PageId> pages;
    if (absl::Status s = CollectSegmentPages(view, meta.root, &pages); !s.ok()) {
      return IoErrorFrom(s);
    }
    for (PageId id : pages) {
      if (absl::Status s = claim(id, absl::StrCat("segment \"", name, "\"")); !s.ok()) return s;
    }
  }
  for (const auto& [name, meta] : catalog_.indexes) {
    std::vector<PageId> pages;
    absl::StatusOr<IndexTreeStats> stats = CheckIndexTree(view, meta.root, &pages);
    if (!stats.ok()) {
      const absl::Status error = IoErrorFrom(stats.status());
      if (ErrorOf(error) != Error::kDataLoss) return error;
      return MakeError(Error::kDataLoss,
                       absl::StrCat("index \"", name, "\": ", error.message()));
    }
    for (PageId id : pages) {
      if (absl::Status s = claim(id, absl::StrCat("index \"", name, "\"")); !s.ok()) return s;
    }
  }
  absl::StatusOr<uint64_t> file_pages = file_->PageCount();
  if (!file_pages.ok()) return IoErrorFrom(file_pages.status());
  absl::StatusOr<uint64_t> used_pages = allocator_.UsedPageCount(view, *file_pages);
  if (!used_pages.ok()) return IoErrorFrom(used_pages.status());
  for (PageId id = 0; id < *used_pages; ++id) {
    if (IsBitmapPage(id)) {
      if (absl::Status s = claim(id, "the allocation bitmaps"); !s.ok()) return s;
    }
    absl::StatusOr<bool> used = allocator_.IsUsed(view, id);
    if (!used.ok()) return IoErrorFrom(used.status());
    const bool journal = journal_pages_.count(id) != 0;
    const bool claimed = owner.count(id) != 0;
    if (*used != claimed || (journal && *used)) {
      return MakeError(Error::kDataLoss,
                       absl::StrCat("page ", id, ": the bitmap says ", *used ? "used" : "free",
                                    " but it is ", claimed ? "used by " + owner[id] : "unused",
                                    journal ? " (journal)" : ""));
    }
  }
  for (const auto& [id, who] : owner) {
    if (id >= *used_pages) {
      return MakeError(Error::kDataLoss,
                       absl::StrCat("page ", id, " of ", who, " lies past the used pages"));
    }
  }
  return absl::OkStatus();
}


}  // namespace persy::internal
