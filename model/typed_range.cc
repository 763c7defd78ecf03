// The typed Range<K, V> for run-time K and V (typed_reads.h).

#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "model/ops.h"
#include "model/typed_reads.h"

namespace persy::model {
namespace {

// `Db` is Transaction or ReadView.
template <typename Db>
absl::Status TypedRangeOn(Db& db, const std::string& index, const IndexBound& from,
                          const IndexBound& to, Direction direction, size_t limit,
                          RangeTypes types, std::vector<IndexEntry>* got) {
  return std::visit(
      [&](const auto& k, const auto& v) -> absl::Status {
        using K = std::decay_t<decltype(k)>;
        using V = std::decay_t<decltype(v)>;
        return db.template Range<K, V>(
            index, from, to, direction, [&](const K& key, const std::vector<V>& values) {
              IndexEntry entry{IndexValue(std::in_place_type<K>, key), {}};
              for (const V& value : values) entry.values.emplace_back(std::in_place_type<V>, value);
              got->push_back(std::move(entry));
              return limit == 0 || got->size() < limit;
            });
      },
      IndexValueFor(types.key, 0), IndexValueFor(types.value, 0));
}

}  // namespace

absl::Status TypedRange(Transaction& tx, const std::string& index, const IndexBound& from,
                        const IndexBound& to, Direction direction, size_t limit, RangeTypes types,
                        std::vector<IndexEntry>* got) {
  return TypedRangeOn(tx, index, from, to, direction, limit, types, got);
}

absl::Status TypedRange(ReadView& view, const std::string& index, const IndexBound& from,
                        const IndexBound& to, Direction direction, size_t limit, RangeTypes types,
                        std::vector<IndexEntry>* got) {
  return TypedRangeOn(view, index, from, to, direction, limit, types, got);
}

}  // namespace persy::model
