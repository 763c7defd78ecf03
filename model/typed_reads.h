// The engine's typed index reads, Get<K, V> and Range<K, V> (engine/persy.h), called with K and
// V known only at run time: the executor's keys and values are IndexValues, and these pick the
// template instance for their types and turn its answer back into IndexValues.
//
// Every pair of the 15 key types and 15 value types has an instance, in a transaction and in a
// read view (Persy or Snapshot): 900 in all, most of the executor's compile time (typed_range.cc
// 38 s, typed_get.cc 15 s plain; about three times that under ASan with UBSan), so they sit in
// two files of their own, apart from the executor's logic.
// Stateless: safe for concurrent use by multiple threads, as far as the engine object is.

#ifndef MODEL_TYPED_READS_H_
#define MODEL_TYPED_READS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/index.h"
#include "engine/persy.h"
#include "model/index_model.h"

namespace persy::model {

// Get<K, V>(index, key) with K the type of `key` and V `value_type`.
absl::StatusOr<std::vector<IndexValue>> TypedGet(Transaction& tx, const std::string& index,
                                                 const IndexValue& key, IndexType value_type);
absl::StatusOr<std::vector<IndexValue>> TypedGet(ReadView& view, const std::string& index,
                                                 const IndexValue& key, IndexType value_type);

// Range<K, V>(index, from, to, direction) with K `types.key` and V `types.value`, appending the
// entries visited to `*got` and stopping after `limit` of them (0: all). The bounds' keys are
// of type K, or the bounds are open.
absl::Status TypedRange(Transaction& tx, const std::string& index, const IndexBound& from,
                        const IndexBound& to, Direction direction, size_t limit, RangeTypes types,
                        std::vector<IndexEntry>* got);
absl::Status TypedRange(ReadView& view, const std::string& index, const IndexBound& from,
                        const IndexBound& to, Direction direction, size_t limit, RangeTypes types,
                        std::vector<IndexEntry>* got);

}  // namespace persy::model

#endif  // MODEL_TYPED_READS_H_
