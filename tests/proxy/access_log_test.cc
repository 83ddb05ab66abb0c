// Access log lines: text templates with %FIELD% placeholders, and JSON lines.
#include "src/proxy/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace pier::proxy {
namespace {

using ::testing::EndsWith;

constexpr std::string_view kStart = "2024-05-06T07:08:09.123Z";

AccessLogEntry fullEntry() {
  AccessLogEntry e;
  e.duration = std::chrono::microseconds(1500);
  e.method = "GET";
  e.path = "/api/items?id=7";
  e.protocol = "HTTP/1.1";
  e.status = 200;
  e.bytes_received = 120;
  e.bytes_sent = 3456;
  e.upstream_host = "127.0.0.1:18081";
  e.request_id = "rid-1";
  e.route = "web/0";
  e.downstream_remote = "127.0.0.1:50000";
  e.host = "shop.example";
  e.listener = "web";
  return e;
}

config::AccessLog textLog(std::string format) {
  config::AccessLog log;
  log.format = config::AccessLog::Format::kText;
  log.text_format = std::move(format);
  return log;
}

TEST(AccessLogTextTest, DefaultFormat) {
  config::AccessLog log;
  EXPECT_EQ(formatAccessLogLine(log, fullEntry(), kStart),
            "2024-05-06T07:08:09.123Z \"GET /api/items?id=7 HTTP/1.1\" 200 120 3456 1 "
            "\"127.0.0.1:18081\" \"rid-1\"\n");
}

TEST(AccessLogTextTest, EveryConfigFieldIsKnownToTheFormatter) {
  // The config validates placeholders against accessLogFields(); each of them
  // must produce the entry's value, never the unknown-field "-".
  for (std::string_view name : config::accessLogFields()) {
    std::string upper(name);
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::string line = formatAccessLogLine(textLog("%" + upper + "%"), fullEntry(), kStart);
    EXPECT_NE(line, "-\n") << name;
  }
}

TEST(AccessLogTextTest, EachFieldHasItsValue) {
  auto line = [](const char* f) { return formatAccessLogLine(textLog(f), fullEntry(), kStart); };
  EXPECT_EQ(line("%START_TIME%"), "2024-05-06T07:08:09.123Z\n");
  EXPECT_EQ(line("%METHOD%"), "GET\n");
  EXPECT_EQ(line("%PATH%"), "/api/items?id=7\n");
  EXPECT_EQ(line("%PROTOCOL%"), "HTTP/1.1\n");
  EXPECT_EQ(line("%STATUS%"), "200\n");
  EXPECT_EQ(line("%BYTES_RECEIVED%"), "120\n");
  EXPECT_EQ(line("%BYTES_SENT%"), "3456\n");
  EXPECT_EQ(line("%DURATION_MS%"), "1\n");
  EXPECT_EQ(line("%UPSTREAM_HOST%"), "127.0.0.1:18081\n");
  EXPECT_EQ(line("%REQUEST_ID%"), "rid-1\n");
  EXPECT_EQ(line("%ROUTE%"), "web/0\n");
  EXPECT_EQ(line("%DOWNSTREAM_REMOTE%"), "127.0.0.1:50000\n");
  EXPECT_EQ(line("%HOST%"), "shop.example\n");
  EXPECT_EQ(line("%LISTENER%"), "web\n");
}

TEST(AccessLogTextTest, PlaceholderNamesIgnoreCase) {
  EXPECT_EQ(formatAccessLogLine(textLog("%status% %Method%"), fullEntry(), kStart), "200 GET\n");
}

TEST(AccessLogTextTest, LiteralTextIsKeptAroundPlaceholders) {
  EXPECT_EQ(
      formatAccessLogLine(textLog("[%STATUS%] took %DURATION_MS%ms via %LISTENER%!"), fullEntry(), kStart),
      "[200] took 1ms via web!\n");
}

TEST(AccessLogTextTest, TemplateWithoutPlaceholdersIsCopied) {
  EXPECT_EQ(formatAccessLogLine(textLog("just text"), fullEntry(), kStart), "just text\n");
}

TEST(AccessLogTextTest, AnUnpairedPercentIsLiteral) {
  EXPECT_EQ(formatAccessLogLine(textLog("%STATUS% 100%"), fullEntry(), kStart), "200 100%\n");
}

TEST(AccessLogTextTest, UnknownPlaceholderIsADash) {
  EXPECT_EQ(formatAccessLogLine(textLog("<%NOPE%>"), fullEntry(), kStart), "<->\n");
}

TEST(AccessLogTextTest, MissingRequestValuesAreDashes) {
  AccessLogEntry e;  // e.g. a request rejected before its head was parsed
  EXPECT_EQ(formatAccessLogLine(textLog("%METHOD% %PATH% %REQUEST_ID% %HOST% %STATUS%"), e, kStart),
            "- - - - 0\n");
}

TEST(AccessLogTextTest, DurationIsWholeMillisecondsRoundedDown) {
  AccessLogEntry e;
  e.duration = std::chrono::nanoseconds(1'999'999);
  EXPECT_EQ(formatAccessLogLine(textLog("%DURATION_MS%"), e, kStart), "1\n");
  e.duration = std::chrono::seconds(2);
  EXPECT_EQ(formatAccessLogLine(textLog("%DURATION_MS%"), e, kStart), "2000\n");
  e.duration = std::chrono::microseconds(999);
  EXPECT_EQ(formatAccessLogLine(textLog("%DURATION_MS%"), e, kStart), "0\n");
}

TEST(AccessLogTextTest, LargeByteCountsAreNotTruncated) {
  AccessLogEntry e;
  e.bytes_sent = 12'345'678'901'234ULL;
  EXPECT_EQ(formatAccessLogLine(textLog("%BYTES_SENT%"), e, kStart), "12345678901234\n");
}

config::AccessLog jsonLog(std::vector<std::string> fields) {
  config::AccessLog log;
  log.format = config::AccessLog::Format::kJson;
  log.json_fields = std::move(fields);
  return log;
}

TEST(AccessLogJsonTest, DefaultFieldsAreOneJsonObjectPerLine) {
  config::AccessLog log;
  log.format = config::AccessLog::Format::kJson;
  std::string line = formatAccessLogLine(log, fullEntry(), kStart);
  ASSERT_THAT(line, EndsWith("\n"));
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  auto j = nlohmann::json::parse(line);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j.size(), log.json_fields.size());
  EXPECT_EQ(j["start_time"], "2024-05-06T07:08:09.123Z");
  EXPECT_EQ(j["method"], "GET");
  EXPECT_EQ(j["path"], "/api/items?id=7");
  EXPECT_EQ(j["protocol"], "HTTP/1.1");
  EXPECT_EQ(j["upstream_host"], "127.0.0.1:18081");
  EXPECT_EQ(j["request_id"], "rid-1");
  EXPECT_EQ(j["route"], "web/0");
  EXPECT_EQ(j["downstream_remote"], "127.0.0.1:50000");
}

TEST(AccessLogJsonTest, NumericFieldsAreNumbers) {
  auto j = nlohmann::json::parse(formatAccessLogLine(
      jsonLog({"status", "bytes_received", "bytes_sent", "duration_ms"}), fullEntry(), kStart));
  ASSERT_TRUE(j["status"].is_number_integer());
  EXPECT_EQ(j["status"], 200);
  ASSERT_TRUE(j["bytes_received"].is_number_integer());
  EXPECT_EQ(j["bytes_received"], 120);
  EXPECT_EQ(j["bytes_sent"], 3456);
  ASSERT_TRUE(j["duration_ms"].is_number_integer());
  EXPECT_EQ(j["duration_ms"], 1);
}

TEST(AccessLogJsonTest, OnlyTheListedFieldsAppear) {
  auto j = nlohmann::json::parse(formatAccessLogLine(jsonLog({"host", "listener"}), fullEntry(), kStart));
  EXPECT_EQ(j, (nlohmann::json{{"host", "shop.example"}, {"listener", "web"}}));
}

TEST(AccessLogJsonTest, QuotesAndControlCharactersAreEscaped) {
  AccessLogEntry e = fullEntry();
  e.path = "/a\"b\\c";
  e.host = "evil\nhost";
  std::string line = formatAccessLogLine(jsonLog({"path", "host"}), e, kStart);
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "a raw newline would split the record";
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["path"], "/a\"b\\c");
  EXPECT_EQ(j["host"], "evil\nhost");
}

TEST(AccessLogJsonTest, InvalidUtf8DoesNotBreakTheLine) {
  AccessLogEntry e = fullEntry();
  e.path = "/\xff\xfe";
  std::string line;
  ASSERT_NO_THROW(line = formatAccessLogLine(jsonLog({"path"}), e, kStart));
  auto j = nlohmann::json::parse(line, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << line;
  EXPECT_EQ(j["path"], "/\xEF\xBF\xBD\xEF\xBF\xBD");  // U+FFFD for each bad byte
}

TEST(AccessLogJsonTest, MissingValuesAreDashes) {
  AccessLogEntry e;
  auto j = nlohmann::json::parse(
      formatAccessLogLine(jsonLog({"method", "path", "request_id", "status"}), e, kStart));
  EXPECT_EQ(j["method"], "-");
  EXPECT_EQ(j["path"], "-");
  EXPECT_EQ(j["request_id"], "-");
  EXPECT_EQ(j["status"], 0);
}

TEST(AccessLogWriteTest, WritesOneWholeLineWithAnUtcTimestamp) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
  writeAccessLogLine(fds[1], textLog("%START_TIME% %STATUS%"), fullEntry());
  char buf[256];
  ssize_t n = read(fds[0], buf, sizeof buf);
  close(fds[0]);
  close(fds[1]);
  ASSERT_GT(n, 0);
  std::string line(buf, static_cast<size_t>(n));
  EXPECT_TRUE(std::regex_match(line, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z 200\n)"))) << line;
}

TEST(AccessLogWriteTest, JsonLineIsWritten) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
  writeAccessLogLine(fds[1], jsonLog({"status", "start_time"}), fullEntry());
  char buf[256];
  ssize_t n = read(fds[0], buf, sizeof buf);
  close(fds[0]);
  close(fds[1]);
  ASSERT_GT(n, 0);
  auto j = nlohmann::json::parse(std::string(buf, static_cast<size_t>(n)));
  EXPECT_EQ(j["status"], 200);
  EXPECT_TRUE(std::regex_match(j["start_time"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
}

}  // namespace
}  // namespace pier::proxy
