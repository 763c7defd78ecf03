#include "vfs/sim_damage.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace persy::vfs {
namespace {

bool IsProbability(double p) { return p >= 0.0 && p <= 1.0; }

// Writes one sector snapshot to the durable image, or, with probability damage.misdirect, to
// another sector of it.
void PutSector(uint64_t index, const std::string& bytes, const SimDamage& damage, Random& rng,
               std::string& durable) {
  const size_t ss = damage.sector_size;
  if (damage.misdirect > 0 && rng.Bernoulli(damage.misdirect)) {
    const uint64_t sectors = std::max<uint64_t>(1, (durable.size() + ss - 1) / ss);
    index = rng.Uniform(sectors);
  }
  const uint64_t end = (index + 1) * ss;
  if (durable.size() < end) durable.resize(end, '\0');
  durable.replace(index * ss, ss, bytes);
}

}  // namespace

SimDamage SimDamage::LoseUnsynced() {
  SimDamage d;
  d.keep = 0;
  d.drop = 1;
  d.reorder = false;
  d.lose_size_change = 1;
  return d;
}

SimDamage SimDamage::KeepUnsynced() {
  SimDamage d;
  d.keep = 1;
  d.drop = 0;
  d.reorder = false;
  d.lose_size_change = 0;
  d.lose_unsynced_dir_op = 0;
  return d;
}

absl::Status SimDamage::Validate() const {
  for (double p : {keep, drop, torn_garbage, lose_size_change, lose_unsynced_dir_op, misdirect,
                   bit_rot}) {
    if (!IsProbability(p)) {
      return absl::InvalidArgumentError(absl::StrCat("SimDamage: probability ", p,
                                                     " is outside [0, 1]"));
    }
  }
  if (keep + drop > 1.0) {
    return absl::InvalidArgumentError("SimDamage: keep + drop exceeds 1");
  }
  if (sector_size == 0 || (sector_size & (sector_size - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("SimDamage: sector size ", sector_size, " is not a power of two"));
  }
  return absl::OkStatus();
}

void ApplyAll(const std::vector<PendingOp>& pending, uint64_t size, const SimDamage& damage,
              Random& rng, std::string& durable) {
  for (const PendingOp& op : pending) {
    for (const auto& [index, bytes] : op.sectors) PutSector(index, bytes, damage, rng, durable);
  }
  durable.resize(size, '\0');
}

void ApplyDamaged(const std::vector<PendingOp>& pending, uint64_t current_size,
                  const SimDamage& damage, Random& rng, std::string& durable) {
  if (pending.empty()) return;
  const uint64_t durable_size = durable.size();

  std::vector<size_t> order(pending.size());
  std::iota(order.begin(), order.end(), 0);
  if (damage.reorder) {
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.Uniform(i)]);
  }

  std::string garbage(damage.sector_size, '\0');
  std::vector<uint64_t> sizes = {durable_size};  // sizes the file may be left with
  for (size_t i : order) {
    const double fate = rng.Double();
    if (fate < damage.drop) continue;
    sizes.push_back(pending[i].size_after);
    const bool torn = fate >= damage.keep + damage.drop;
    for (const auto& [index, bytes] : pending[i].sectors) {
      if (!torn) {
        PutSector(index, bytes, damage, rng, durable);
      } else if (rng.Bernoulli(damage.torn_garbage)) {
        rng.Fill(garbage.data(), garbage.size());
        PutSector(index, garbage, damage, rng, durable);
      } else if (rng.Bernoulli(0.5)) {
        PutSector(index, bytes, damage, rng, durable);
      }
    }
  }

  uint64_t size = current_size;
  if (rng.Bernoulli(damage.lose_size_change)) size = sizes[rng.Uniform(sizes.size())];
  durable.resize(size, '\0');
}

void FlipRandomBit(Random& rng, std::string& durable) {
  if (durable.empty()) return;
  const uint64_t bit = rng.Uniform(durable.size() * 8);
  durable[bit / 8] = static_cast<char>(durable[bit / 8] ^ (1 << (bit % 8)));
}

}  // namespace persy::vfs
