// PageStoreTest: the fixture of the tests of the page-level structures (segment pages, address
// table, data pages, overflow chains, record store, index tree). A formatted file in a
// MapPageSource, its Allocator, and one pending transaction, a PageDelta opened by the first
// Tx() after a Commit or Abort. Commit seals it into the source, as the engine's commit does;
// Abort drops it. A test's own state (the structure's root, its model) follows the transaction
// through the On* hooks:
//
//   class DataPageTest : public PageStoreTest {
//     void OnBegin() override { saved_tail_ = tail_; }
//     void OnAbort() override { tail_ = saved_tail_; }
//     ...
//   };
//
// Thread-safety: only accessed by one thread at a time.

#ifndef ENGINE_INTERNAL_PAGE_STORE_TEST_FIXTURE_H_
#define ENGINE_INTERNAL_PAGE_STORE_TEST_FIXTURE_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>

#include "engine/internal/allocator.h"
#include "engine/internal/map_page_source.h"
#include "engine/internal/page_delta.h"
#include "tools/status_test_util.h"

namespace persy::internal {

class PageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PageDelta d(&source_);
    ASSERT_OK(Allocator::Format(d));
    source_.Commit(d, ++lsn_);
  }

  // The pending transaction, opened (and OnBegin called) if there is none.
  PageDelta& Tx() {
    if (tx_ == nullptr) {
      tx_ = std::make_unique<PageDelta>(&source_);
      OnBegin();
    }
    return *tx_;
  }
  // Commits the pending transaction, if any (OnCommitting runs just before, and a fatal
  // failure in it leaves the transaction pending); OnCommit runs either way.
  void Commit() {
    if (tx_ != nullptr) {
      OnCommitting(*tx_);
      if (HasFatalFailure()) return;
      source_.Commit(*tx_, ++lsn_);
    }
    tx_.reset();
    OnCommit();
  }
  // Discards the pending transaction: the committed pages stay as they were, and OnAbort puts
  // the test's state back. Without a pending transaction, nothing happens.
  void Abort() {
    if (tx_ == nullptr) return;
    tx_.reset();
    OnAbort();
  }

  virtual void OnBegin() {}
  virtual void OnCommitting(PageDelta& /*tx*/) {}
  virtual void OnCommit() {}
  virtual void OnAbort() {}

  MapPageSource source_;
  Allocator alloc_;
  std::unique_ptr<PageDelta> tx_;
  uint64_t lsn_ = 0;  // the last commit's
};

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_PAGE_STORE_TEST_FIXTURE_H_
