#include "src/lab/neigh.h"

#include <cctype>
#include <vector>

namespace pier::lab {

std::optional<NeighEntry> parseNeigh(std::string_view ip_output) {
  auto nl = ip_output.find('\n');
  std::string_view line = ip_output.substr(0, nl);
  std::vector<std::string_view> words;
  while (!line.empty()) {
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    auto sp = line.find(' ');
    std::string_view w = line.substr(0, sp);
    if (!w.empty()) words.push_back(w);
    line = sp == std::string_view::npos ? std::string_view{} : line.substr(sp);
  }
  if (words.size() < 2) return std::nullopt;
  NeighEntry e;
  for (size_t i = 1; i < words.size(); ++i) {
    if (words[i] == "lladdr" && i + 1 < words.size()) {
      for (char c : words[i + 1]) e.mac += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      ++i;
    }
  }
  // The state is the last word that is all upper case ("router" and
  // "proxy" flags are lower case).
  for (auto it = words.rbegin(); it != words.rend(); ++it) {
    bool upper = !it->empty();
    for (char c : *it) upper = upper && std::isupper(static_cast<unsigned char>(c));
    if (upper) {
      e.state = std::string(*it);
      break;
    }
  }
  return e;
}

}  // namespace pier::lab
