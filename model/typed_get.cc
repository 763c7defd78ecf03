// The typed Get<K, V> for run-time K and V (typed_reads.h).

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
absl::StatusOr<std::vector<IndexValue>> TypedGetOn(Db& db, const std::string& index,
                                                   const IndexValue& key, IndexType value_type) {
  return std::visit(
      [&](const auto& k, const auto& v) -> absl::StatusOr<std::vector<IndexValue>> {
        using K = std::decay_t<decltype(k)>;
        using V = std::decay_t<decltype(v)>;
        absl::StatusOr<std::vector<V>> got = db.template Get<K, V>(index, k);
        if (!got.ok()) return got.status();
        std::vector<IndexValue> out;
        out.reserve(got->size());
        for (V& value : *got) out.emplace_back(std::in_place_type<V>, std::move(value));
        return out;
      },
      key, IndexValueFor(value_type, 0));
}

}  // namespace

absl::StatusOr<std::vector<IndexValue>> TypedGet(Transaction& tx, const std::string& index,
                                                 const IndexValue& key, IndexType value_type) {
  return TypedGetOn(tx, index, key, value_type);
}

absl::StatusOr<std::vector<IndexValue>> TypedGet(ReadView& view, const std::string& index,
                                                 const IndexValue& key, IndexType value_type) {
  return TypedGetOn(view, index, key, value_type);
}

}  // namespace persy::model
