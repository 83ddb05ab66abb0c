#pragma once
// The lab's PID files, and the checks that make `pier lab down` signal only
// processes the lab started: a PID is trusted only while /proc/PID/cmdline
// still names a file in the lab's run directory (a recycled PID does not).
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/common/result.h"

namespace pier::lab {

// "1234\n" -> 1234; nullopt for anything else.
std::optional<pid_t> parsePidFile(std::string_view text);

// Whether a NUL-separated /proc/PID/cmdline names the lab's run directory
// (an argument starting with "<run dir>/").
bool cmdlineIsLab(std::string_view cmdline, std::string_view run_dir);

// The process exists and is not a zombie.
bool isRunning(pid_t pid);

// The process is running and its command line is the lab's. (While a process
// execs, its command line may read empty for a moment: use isRunning to tell
// whether a process the lab just started is still there.)
bool isLabProcess(pid_t pid, std::string_view run_dir);

Status writePidFile(const std::string& path, pid_t pid);
std::optional<pid_t> readPidFile(const std::string& path);

// Every "*.pid" file directly in `dir` (full paths, sorted).
std::vector<std::string> pidFilesIn(const std::string& dir);

// Reads a whole small file; nullopt if it can't be read.
std::optional<std::string> readFile(const std::string& path);
// The last `n` lines of a log (all of it if shorter).
std::string lastLines(std::string_view text, size_t n);
// Writes atomically (temp file + rename) with the given mode.
Status writeFile(const std::string& path, std::string_view content, unsigned mode = 0644);

}  // namespace pier::lab
