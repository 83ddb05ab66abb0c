// Path and query of a request-target (RFC 9112 3.2).
#include "src/http/chars.h"
#include "src/http/codec.h"

namespace pier::http {
namespace {

struct TargetParts {
  std::string_view path;
  std::string_view query;
};

// Length of "scheme://" at the start of `t`, or 0 when `t` is not absolute-form.
size_t schemeAndSlashesLength(std::string_view t) {
  if (t.empty() || !chars::isAlpha(static_cast<unsigned char>(t[0]))) return 0;
  size_t i = 1;
  while (i < t.size() && chars::has(t[i], chars::kSchemeRest)) ++i;
  return t.substr(i, 3) == "://" ? i + 3 : 0;
}

TargetParts split(std::string_view t) {
  if (t == "*") return {t, {}};
  std::string_view rest = t;
  if (t.empty() || t[0] != '/') {
    const size_t skip = schemeAndSlashesLength(t);
    if (skip == 0) return {};  // authority-form (CONNECT): no path
    rest = t.substr(skip);
    const size_t path_start = rest.find_first_of("/?#");
    rest = path_start == std::string_view::npos ? std::string_view{} : rest.substr(path_start);
  }
  rest = rest.substr(0, rest.find('#'));  // clients must not send a fragment; never route on one
  const size_t q = rest.find('?');
  std::string_view path = rest.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? std::string_view{} : rest.substr(q + 1);
  if (path.empty()) path = "/";
  return {path, query};
}

}  // namespace

std::string_view RequestHead::path() const { return split(target).path; }
std::string_view RequestHead::query() const { return split(target).query; }

}  // namespace pier::http
