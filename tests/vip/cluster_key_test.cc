// Cluster key files: hex (as `openssl rand -hex` and `xxd -p` write it) or
// raw bytes, the 16-byte minimum, and error messages that say what to do.
#include "src/vip/cluster_key.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/vip/vip_test_support.h"

namespace pier::vip::testing {
namespace {

using ::testing::HasSubstr;

const std::string kHex32 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

Bytes counting(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i);
  return b;
}

Bytes keyBytes(const Result<ClusterKey>& k) { return Bytes(k->bytes().begin(), k->bytes().end()); }

TEST(ClusterKeyTest, DecodesHexWithTrailingNewline) {
  auto k = ClusterKey::parse(kHex32 + "\n", "k");
  ASSERT_TRUE(k.ok()) << k.error();
  EXPECT_EQ(keyBytes(k), counting(32));
}

TEST(ClusterKeyTest, DecodesUpperCaseHexWrappedOverLines) {
  std::string upper = kHex32;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto k = ClusterKey::parse(upper.substr(0, 60) + "\n" + upper.substr(60) + "\r\n", "k");
  ASSERT_TRUE(k.ok()) << k.error();
  EXPECT_EQ(keyBytes(k), counting(32));
}

TEST(ClusterKeyTest, UsesOtherContentAsRawBytes) {
  const std::string raw = "correct horse battery staple\n";
  auto k = ClusterKey::parse(raw, "k");
  ASSERT_TRUE(k.ok()) << k.error();
  EXPECT_EQ(keyBytes(k), Bytes(raw.begin(), raw.end()));
}

TEST(ClusterKeyTest, KeepsBinaryContentUnmodified) {
  std::string raw(20, '\0');
  raw[19] = '\n';
  auto k = ClusterKey::parse(raw, "k");
  ASSERT_TRUE(k.ok()) << k.error();
  EXPECT_EQ(keyBytes(k), Bytes(raw.begin(), raw.end()));
}

TEST(ClusterKeyTest, RejectsShortHexKey) {
  auto k = ClusterKey::parse(kHex32.substr(0, 30) + "\n", "/etc/pier/key");
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(k.error(), HasSubstr("/etc/pier/key"));
  EXPECT_THAT(k.error(), HasSubstr("15 bytes"));
  EXPECT_THAT(k.error(), HasSubstr("at least 16"));
  EXPECT_THAT(k.error(), HasSubstr("openssl rand -hex 32"));
}

TEST(ClusterKeyTest, RejectsShortRawKey) {
  auto k = ClusterKey::parse("secret!", "k");
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(k.error(), HasSubstr("7 bytes"));
}

TEST(ClusterKeyTest, RejectsOddNumberOfHexDigits) {
  auto k = ClusterKey::parse(kHex32.substr(1), "k");
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(k.error(), HasSubstr("odd number of hex digits"));
}

TEST(ClusterKeyTest, RejectsEmptyAndWhitespaceOnlyFiles) {
  EXPECT_THAT(ClusterKey::parse("", "k").error(), HasSubstr("empty"));
  // Whitespace alone is not hex; as raw bytes it is too short.
  EXPECT_FALSE(ClusterKey::parse(" \n", "k").ok());
}

TEST(ClusterKeyTest, RejectsHugeFiles) {
  auto k = ClusterKey::parse(std::string(ClusterKey::kMaxFileBytes + 1, 'x'), "k");
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(k.error(), HasSubstr("more than a key file may hold"));
}

TEST(ClusterKeyTest, FromBytesNeedsSixteen) {
  EXPECT_FALSE(ClusterKey::fromBytes(counting(15)).ok());
  EXPECT_TRUE(ClusterKey::fromBytes(counting(16)).ok());
}

class ClusterKeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "pier_cluster_key_XXXXXX";
    const int fd = ::mkstemp(path_.data());
    ASSERT_GE(fd, 0);
    ::close(fd);
  }
  void TearDown() override { ::unlink(path_.c_str()); }

  void write(const std::string& content) {
    const int fd = ::open(path_.c_str(), O_WRONLY | O_TRUNC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    ::close(fd);
  }

  std::string path_;
};

TEST_F(ClusterKeyFileTest, LoadsHexFile) {
  write(kHex32 + "\n");
  auto k = ClusterKey::load(path_);
  ASSERT_TRUE(k.ok()) << k.error();
  EXPECT_EQ(keyBytes(k), counting(32));
}

TEST_F(ClusterKeyFileTest, NamesTheFileInErrors) {
  write("short\n");
  auto k = ClusterKey::load(path_);
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(k.error(), HasSubstr(path_));
}

TEST_F(ClusterKeyFileTest, ReportsMissingFile) {
  auto k = ClusterKey::load(path_ + ".missing");
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(k.error(), HasSubstr(path_ + ".missing"));
  EXPECT_THAT(k.error(), HasSubstr("No such file"));
}

TEST_F(ClusterKeyFileTest, RejectsOversizedFile) {
  write(std::string(ClusterKey::kMaxFileBytes + 100, 'x'));
  auto k = ClusterKey::load(path_);
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(k.error(), HasSubstr("more than a key file may hold"));
}

}  // namespace
}  // namespace pier::vip::testing
