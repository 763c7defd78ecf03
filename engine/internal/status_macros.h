// Early-return helpers for absl::Status and absl::StatusOr (Debian's Abseil has none; STYLE.md).
//
//   PERSY_RETURN_IF_ERROR(WriteThing());
//   PERSY_ASSIGN_OR_RETURN(const PageBuf* page, delta.Read(id));

#ifndef ENGINE_INTERNAL_STATUS_MACROS_H_
#define ENGINE_INTERNAL_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"

#define PERSY_RETURN_IF_ERROR(expr)                                                  \
  do {                                                                               \
    if (absl::Status persy_status_ = (expr); !persy_status_.ok()) return persy_status_; \
  } while (0)

#define PERSY_CONCAT_INNER_(a, b) a##b
#define PERSY_CONCAT_(a, b) PERSY_CONCAT_INNER_(a, b)
#define PERSY_ASSIGN_OR_RETURN(lhs, expr) \
  PERSY_ASSIGN_OR_RETURN_IMPL_(PERSY_CONCAT_(persy_statusor_, __LINE__), lhs, expr)
#define PERSY_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(*tmp)

#endif  // ENGINE_INTERNAL_STATUS_MACROS_H_
