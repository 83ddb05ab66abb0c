#include "src/config/loader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <string_view>
#include <vector>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "src/config/nesting_scan.h"
#include "src/config/parse.h"

namespace pier::config {
namespace {

// A config file is a few kilobytes; anything this big is a mistake.
constexpr size_t kMaxFileBytes = 16 * 1024 * 1024;

Error syntaxError(const std::string& source, const YAML::Mark& mark, const std::string& what) {
  int line = mark.is_null() ? 1 : mark.line + 1;
  int column = mark.is_null() ? 1 : mark.column + 1;
  Diagnostics diagnostics(source);
  diagnostics.addRaw(line, column, "YAML syntax error: " + what);
  return Error{diagnostics.render()};
}

// Notes where documents start and ignores everything else.
class DocumentStarts : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { marks.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
  }
  void OnMapEnd() override {}

  std::vector<YAML::Mark> marks;
};

// Where a second document (or trailing text yaml-cpp reads as one) starts.
// Not YAML::LoadAll: on some trailing junk ("{a: 1},") it never stops
// producing empty documents. Here at most two are read. Throws like Load.
std::optional<YAML::Mark> secondDocument(const std::string& yaml) {
  std::istringstream in(yaml);
  YAML::Parser parser(in);
  DocumentStarts starts;
  if (!parser.HandleNextDocument(starts) || !parser.HandleNextDocument(starts)) return std::nullopt;
  return starts.marks.size() >= 2 ? starts.marks[1] : YAML::Mark::null_mark();
}

}  // namespace

Result<Config> loadString(const std::string& yaml, const std::string& source) {
  if (auto at = findExcessiveNesting(yaml)) {
    YAML::Mark mark;
    mark.line = at->line - 1;
    mark.column = at->column - 1;
    return syntaxError(
        source, mark, "collections are nested more than " + std::to_string(kMaxYamlNesting) + " levels deep");
  }
  YAML::Node root;
  std::optional<YAML::Mark> second;
  try {
    root = YAML::Load(yaml);
    second = secondDocument(yaml);
  } catch (const YAML::DeepRecursion& e) {
    return syntaxError(source, e.mark, "collections are nested too deeply");
  } catch (const YAML::Exception& e) {
    return syntaxError(source, e.mark, e.msg);
  } catch (const std::exception& e) {
    return syntaxError(source, YAML::Mark::null_mark(), e.what());
  }
  if (second) {
    bool marker = second->pos >= 0 &&
                  std::string_view(yaml).substr(static_cast<size_t>(second->pos)).starts_with("---");
    return syntaxError(source, *second,
                       marker ? "more than one document; a config file holds exactly one"
                              : "unexpected text after the end of the document");
  }

  Config config;
  config.source = source;
  Diagnostics diagnostics(source);
  try {
    parseConfig(root, config, diagnostics);
  } catch (const std::exception& e) {
    // The reader only uses non-throwing yaml-cpp calls; this is a safety net
    // so that a yaml-cpp surprise becomes an error rather than a crash.
    return Error{source + ": internal error while reading the config: " + e.what()};
  }
  if (!diagnostics.empty()) return Error{diagnostics.render()};
  return config;
}

Result<Config> loadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{path + ": cannot read: " + std::strerror(errno)};
  std::string text;
  char buffer[64 * 1024];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      ::close(fd);
      return Error{path + ": cannot read: " + std::strerror(saved)};
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kMaxFileBytes) {
      ::close(fd);
      return Error{path + ": cannot read: larger than " + std::to_string(kMaxFileBytes / (1024 * 1024)) +
                   " MiB"};
    }
  }
  ::close(fd);
  return loadString(text, path);
}

}  // namespace pier::config
