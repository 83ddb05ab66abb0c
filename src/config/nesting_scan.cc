#include "src/config/nesting_scan.h"

#include <vector>

namespace pier::config {
namespace {

bool isBlank(char c) { return c == ' ' || c == '\t'; }

class NestingScanner {
 public:
  explicit NestingScanner(int limit) : limit_(limit) {}

  std::optional<TextPosition> run(std::string_view text) {
    size_t begin = 0;
    while (begin <= text.size() && !found_) {
      size_t end = text.find('\n', begin);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = text.substr(begin, end - begin);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      ++line_number_;
      scanLine(line);
      begin = end + 1;
    }
    return found_;
  }

 private:
  enum class Quote { kNone, kSingle, kDouble };

  void scanLine(std::string_view line) {
    size_t indentation = 0;
    while (indentation < line.size() && line[indentation] == ' ') ++indentation;
    bool blank = indentation == line.size() || line[indentation] == '#';
    if (in_block_scalar_) {
      if (blank || static_cast<int>(indentation) > block_parent_indent_) return;
      in_block_scalar_ = false;
    }
    size_t i = 0;
    bool token_start = true;
    if (quote_ != Quote::kNone) {
      i = skipQuoted(line, 0);
      token_start = false;
    } else if (flow_ == 0) {
      if (blank) return;
      line_indent_ = static_cast<int>(indentation);
      if (indentation == 0 && (line.starts_with("---") || line.starts_with("...")) &&
          (line.size() == 3 || isBlank(line[3]))) {
        indents_.clear();  // a new document starts from the top
        i = 3;
      } else {
        while (!indents_.empty() && indents_.back() >= line_indent_) indents_.pop_back();
        if (!push(line_indent_, indentation)) return;
        i = indentation;
        // "- - - x" and "? " open one level each within the line.
        while (i < line.size() && (line[i] == '-' || line[i] == '?') &&
               (i + 1 == line.size() || isBlank(line[i + 1]))) {
          ++i;
          while (i < line.size() && isBlank(line[i])) ++i;
          if (!push(static_cast<int>(i), i)) return;
        }
      }
    }
    scanTokens(line, i, token_start);
  }

  void scanTokens(std::string_view line, size_t i, bool token_start) {
    while (i < line.size() && !found_) {
      char c = line[i];
      if (isBlank(c)) {
        ++i;
        continue;
      }
      if (c == '#' && (i == 0 || isBlank(line[i - 1]))) return;  // comment
      if (token_start && (c == '"' || c == '\'')) {
        quote_ = c == '"' ? Quote::kDouble : Quote::kSingle;
        i = skipQuoted(line, i + 1);
        token_start = false;
        continue;
      }
      if (token_start && (c == '&' || c == '!')) {  // anchor or tag before a value
        while (i < line.size() && !isBlank(line[i])) ++i;
        continue;
      }
      if (c == '[' || c == '{') {
        if (flow_ > 0 || token_start) {
          ++flow_;
          if (!check(i)) return;
          token_start = true;
        } else {
          token_start = false;
        }
        ++i;
        continue;
      }
      if (flow_ > 0) {
        if (c == ']' || c == '}') {
          --flow_;
          token_start = false;
        } else {
          token_start = c == ',' || c == ':';
        }
        ++i;
        continue;
      }
      if (token_start && (c == '|' || c == '>')) {
        in_block_scalar_ = true;
        block_parent_indent_ = line_indent_;
        return;
      }
      token_start = c == ':' && (i + 1 == line.size() || isBlank(line[i + 1]));
      ++i;
    }
  }

  // Skips a quoted scalar's text up to and including its closing quote; the
  // quote may stay open to the next line.
  size_t skipQuoted(std::string_view line, size_t i) {
    while (i < line.size()) {
      char c = line[i];
      if (quote_ == Quote::kDouble) {
        if (c == '\\') {
          i += 2;
          continue;
        }
        if (c == '"') {
          quote_ = Quote::kNone;
          return i + 1;
        }
      } else if (c == '\'') {
        if (i + 1 < line.size() && line[i + 1] == '\'') {
          i += 2;
          continue;
        }
        quote_ = Quote::kNone;
        return i + 1;
      }
      ++i;
    }
    return line.size();
  }

  bool push(int indent, size_t column) {
    indents_.push_back(indent);
    return check(column);
  }

  bool check(size_t column) {
    if (static_cast<int>(indents_.size()) + flow_ > limit_) {
      found_ = TextPosition{line_number_, static_cast<int>(column) + 1};
      return false;
    }
    return true;
  }

  const int limit_;
  std::vector<int> indents_;  // columns of the open block collections
  int flow_ = 0;              // open [ and { brackets
  Quote quote_ = Quote::kNone;
  bool in_block_scalar_ = false;
  int block_parent_indent_ = 0;
  int line_indent_ = 0;
  int line_number_ = 0;
  std::optional<TextPosition> found_;
};

}  // namespace

std::optional<TextPosition> findExcessiveNesting(std::string_view yaml, int limit) {
  return NestingScanner(limit).run(yaml);
}

}  // namespace pier::config
