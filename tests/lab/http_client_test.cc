// The lab's HTTP client: URLs with literal addresses only, and responses
// complete exactly when their body is in.
#include "src/lab/http_client.h"

#include <gtest/gtest.h>

namespace pier::lab {
namespace {

using State = ParsedResponse::State;

TEST(LabUrlTest, ParsesIpv4WithDefaultPortAndPath) {
  auto u = parseUrl("http://10.77.0.100");
  ASSERT_TRUE(u) << u.error();
  EXPECT_EQ(u->host, "10.77.0.100");
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->path, "/");
  EXPECT_FALSE(u->ipv6);
}

TEST(LabUrlTest, ParsesBracketedIpv6WithPortAndPath) {
  auto u = parseUrl("http://[fd77::100]:8080/x?y=1");
  ASSERT_TRUE(u) << u.error();
  EXPECT_EQ(u->host, "fd77::100");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->path, "/x?y=1");
  EXPECT_TRUE(u->ipv6);
}

TEST(LabUrlTest, RejectsNamesSchemesAndBadPorts) {
  for (const char* bad :
       {"https://10.0.0.1/", "http://example.com/", "http://[fd77::1/", "http://10.0.0.1:0/",
        "http://10.0.0.1:70000/", "http://10.0.0.1:8x/", "10.0.0.1"}) {
    EXPECT_FALSE(parseUrl(bad)) << bad;
  }
}

TEST(LabUrlTest, RequestAsksTheServerToClose) {
  auto u = parseUrl("http://[fd77::100]/");
  auto req = requestFor(*u);
  EXPECT_EQ(req.substr(0, 16), "GET / HTTP/1.1\r\n");
  EXPECT_NE(req.find("Host: [fd77::100]\r\n"), std::string::npos);
  EXPECT_NE(req.find("Connection: close\r\n\r\n"), std::string::npos);
}

TEST(LabResponseTest, CompleteWhenContentLengthBytesArrived) {
  auto r = parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\npod node1-pod1\n", false);
  EXPECT_EQ(r.state, State::kComplete);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "pod node1-pod1\n");
}

TEST(LabResponseTest, IncompleteUntilTheBodyIsIn) {
  EXPECT_EQ(parseResponse("HTTP/1.1 200 OK\r\ncontent-length: 15\r\n\r\npod", false).state,
            State::kIncomplete);
  EXPECT_EQ(parseResponse("HTTP/1.1 200 OK\r\nContent-Len", false).state, State::kIncomplete);
}

TEST(LabResponseTest, ShortBodyAtEofIsBad) {
  EXPECT_EQ(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\npod", true).state, State::kBad);
  EXPECT_EQ(parseResponse("HTTP/1.1 200 OK\r\n", true).state, State::kBad);
}

TEST(LabResponseTest, WithoutLengthTheBodyEndsAtEof) {
  EXPECT_EQ(parseResponse("HTTP/1.1 503 x\r\n\r\nbusy", false).state, State::kIncomplete);
  auto r = parseResponse("HTTP/1.1 503 x\r\n\r\nbusy", true);
  EXPECT_EQ(r.state, State::kComplete);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "busy");
}

TEST(LabResponseTest, GarbageIsBad) {
  EXPECT_EQ(parseResponse("SSH-2.0-OpenSSH\r\n\r\n", false).state, State::kBad);
  EXPECT_EQ(parseResponse("HTTP/1.1 2x0 OK\r\n\r\n", false).state, State::kBad);
  EXPECT_EQ(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: nine\r\n\r\n", false).state, State::kBad);
}

}  // namespace
}  // namespace pier::lab
