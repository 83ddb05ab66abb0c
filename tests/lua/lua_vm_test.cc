// Loading scripts: error message formats, hook detection, memory reporting.
#include "src/lua/lua_vm.h"

#include <gtest/gtest.h>

#include <iostream>
#include <vector>

#include "tests/lua/lua_test_util.h"

namespace pier::lua {
namespace {

bool startsWith(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

TEST(LuaVmTest, SyntaxErrorNamesChunkAndLine) {
  auto vm = LuaVm::create("local x = 1\nlocal y = = 2\n", "my_script", {});
  ASSERT_FALSE(vm.ok());
  EXPECT_EQ(vm.error(), "my_script:2: unexpected symbol near '='");
}

TEST(LuaVmTest, CheckSyntaxReportsSameFormat) {
  Status s = LuaVm::checkSyntax("function f()\n  return 1\n", "cfg.lua");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error(), "cfg.lua:3: 'end' expected (to close 'function' at line 1) near '<eof>'");
}

TEST(LuaVmTest, CheckSyntaxDoesNotRun) { EXPECT_TRUE(LuaVm::checkSyntax("error('must not run')", "x").ok()); }

TEST(LuaVmTest, TopLevelRuntimeErrorHasLocationAndTraceback) {
  auto vm = LuaVm::create("local function f()\n  error('bad config')\nend\nf()\n", "top", {});
  ASSERT_FALSE(vm.ok());
  EXPECT_TRUE(startsWith(vm.error(), "top:2: bad config\nstack traceback:")) << vm.error();
  EXPECT_NE(vm.error().find("top:4: in main chunk"), std::string::npos) << vm.error();
}

TEST(LuaVmTest, NonStringErrorObjectDescribed) {
  auto vm = LuaVm::create("error({})", "obj", {});
  ASSERT_FALSE(vm.ok());
  EXPECT_TRUE(startsWith(vm.error(), "(error object is a table value)")) << vm.error();
}

TEST(LuaVmTest, TopLevelRunsOnce) {
  auto vm = LuaVm::create("counter = (counter or 0) + 1", "once", {});
  ASSERT_TRUE(vm.ok()) << vm.error();
  EXPECT_EQ(testing::eval(vm.value()->state(), "return counter"), "1");
}

TEST(LuaVmTest, DetectsBothHooks) {
  auto vm = LuaVm::create("function envoy_on_request(h) end\nfunction envoy_on_response(h) end", "s", {});
  ASSERT_TRUE(vm.ok()) << vm.error();
  EXPECT_TRUE(vm.value()->hasOnRequest());
  EXPECT_TRUE(vm.value()->hasOnResponse());
}

TEST(LuaVmTest, HooksAreOptional) {
  auto vm = LuaVm::create("function envoy_on_response(h) end", "s", {});
  ASSERT_TRUE(vm.ok()) << vm.error();
  EXPECT_FALSE(vm.value()->hasOnRequest());
  EXPECT_TRUE(vm.value()->hasOnResponse());
}

// A global of the right name that is not a function is not a hook.
TEST(LuaVmTest, NonFunctionGlobalIsNotAHook) {
  auto vm = LuaVm::create("envoy_on_request = 42", "s", {});
  ASSERT_TRUE(vm.ok()) << vm.error();
  EXPECT_FALSE(vm.value()->hasOnRequest());
}

TEST(LuaVmTest, MemoryGrowsWithData) {
  auto vm = LuaVm::create("", "mem", {});
  ASSERT_TRUE(vm.ok());
  const size_t before = vm.value()->memoryBytes();
  EXPECT_GT(before, 0u);
  testing::eval(vm.value()->state(), "big = {} for i = 1, 100000 do big[i] = i end");
  EXPECT_GT(vm.value()->memoryBytes(), before + 100000 * 8);
}

// One state per worker per script, times many routes: small states must be
// cheap and independent.
TEST(LuaVmTest, ThousandSmallVms) {
  std::vector<std::unique_ptr<LuaVm>> vms;
  size_t total = 0;
  for (int i = 0; i < 1000; ++i) {
    auto vm = LuaVm::create("function envoy_on_request(h) h:logInfo('hi') end", "small", {});
    ASSERT_TRUE(vm.ok()) << vm.error();
    total += vm.value()->memoryBytes();
    vms.push_back(std::move(vm.value()));
  }
  for (auto& vm : vms) EXPECT_TRUE(vm->hasOnRequest());
  std::cout << "1000 VMs: " << total << " bytes Lua GC total, " << total / 1000 << " bytes each\n";
  RecordProperty("lua_gc_bytes_per_vm", static_cast<int>(total / 1000));
  EXPECT_LT(total / 1000, 256u * 1024);
}

}  // namespace
}  // namespace pier::lua
