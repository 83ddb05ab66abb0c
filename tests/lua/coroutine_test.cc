// Hooks run as coroutines that can suspend in C (as body()/httpCall() will)
// and be resumed later with a value.
#include <gtest/gtest.h>

#include <vector>

#include "src/lua/lua_headers.h"
#include "src/lua/lua_vm.h"
#include "tests/lua/lua_test_util.h"

namespace pier::lua {
namespace {

using testing::eval;

// Stands in for body(): suspends the script; the host resumes it with data.
int waitForHost(lua_State* L) { return lua_yield(L, lua_gettop(L)); }

std::unique_ptr<LuaVm> makeVm(std::string_view code) {
  auto vm = LuaVm::create(code, "script", {});
  EXPECT_TRUE(vm.ok()) << vm.error();
  if (!vm.ok()) return nullptr;
  lua_register(vm.value()->state(), "wait_for_host", waitForHost);
  return std::move(vm.value());
}

LuaVm::PushArgs pushString(const char* s) {
  return [s](lua_State* L) {
    lua_pushstring(L, s);
    return 1;
  };
}

TEST(CoroutineTest, HookFinishesWithoutYield) {
  auto vm = makeVm("function envoy_on_request(x) return x * 2 end");
  ASSERT_NE(vm, nullptr);
  auto co = vm->startHook("envoy_on_request", [](lua_State* L) {
    lua_pushinteger(L, 21);
    return 1;
  });
  ASSERT_EQ(co->status(), CoroutineStatus::kFinished) << co->error();
  EXPECT_EQ(lua_tointeger(co->thread(), -1), 42);
}

TEST(CoroutineTest, CFunctionYieldsAndIsResumedWithValue) {
  auto vm = makeVm(R"(
    function envoy_on_request(tag)
      local body = wait_for_host("need body", tag)
      result = tag .. ":" .. body
    end)");
  ASSERT_NE(vm, nullptr);
  auto co = vm->startHook("envoy_on_request", pushString("req"));
  ASSERT_EQ(co->status(), CoroutineStatus::kYielded) << co->error();
  // The yielded values are visible to the host.
  ASSERT_EQ(lua_gettop(co->thread()), 2);
  EXPECT_STREQ(lua_tostring(co->thread(), 1), "need body");
  EXPECT_EQ(eval(vm->state(), "return result"), "nil");

  EXPECT_EQ(vm->resume(*co, pushString("hello")), CoroutineStatus::kFinished) << co->error();
  EXPECT_EQ(eval(vm->state(), "return result"), "req:hello");
}

TEST(CoroutineTest, YieldsSeveralTimes) {
  auto vm = makeVm(R"(
    function envoy_on_request()
      local parts = {}
      for i = 1, 3 do parts[i] = wait_for_host() end
      result = table.concat(parts, ",")
    end)");
  ASSERT_NE(vm, nullptr);
  auto co = vm->startHook("envoy_on_request", nullptr);
  for (const char* chunk : {"a", "b"}) {
    ASSERT_EQ(vm->resume(*co, pushString(chunk)), CoroutineStatus::kYielded) << co->error();
  }
  EXPECT_EQ(vm->resume(*co, pushString("c")), CoroutineStatus::kFinished) << co->error();
  EXPECT_EQ(eval(vm->state(), "return result"), "a,b,c");
}

TEST(CoroutineTest, ErrorBeforeYieldHasFileAndLine) {
  auto vm = makeVm("function envoy_on_request()\n  local t = nil\n  return t.x\nend");
  ASSERT_NE(vm, nullptr);
  auto co = vm->startHook("envoy_on_request", nullptr);
  ASSERT_EQ(co->status(), CoroutineStatus::kError);
  EXPECT_EQ(co->error().rfind("script:3: attempt to index local 't' (a nil value)", 0), 0u) << co->error();
  EXPECT_NE(co->error().find("stack traceback:"), std::string::npos) << co->error();
}

TEST(CoroutineTest, ErrorAfterResumeHasFileAndLineAndTraceback) {
  auto vm = makeVm(R"(local function check(b)
  if b ~= "ok" then error("bad body: " .. b) end
end
function envoy_on_request()
  check(wait_for_host())
end)");
  ASSERT_NE(vm, nullptr);
  auto co = vm->startHook("envoy_on_request", nullptr);
  ASSERT_EQ(co->status(), CoroutineStatus::kYielded);
  ASSERT_EQ(vm->resume(*co, pushString("nope")), CoroutineStatus::kError);
  EXPECT_EQ(co->error().rfind("script:2: bad body: nope\nstack traceback:", 0), 0u) << co->error();
  EXPECT_NE(co->error().find("script:5: in function"), std::string::npos) << co->error();
}

TEST(CoroutineTest, MissingHookIsAnError) {
  auto vm = makeVm("");
  ASSERT_NE(vm, nullptr);
  auto co = vm->startHook("envoy_on_response", nullptr);
  EXPECT_EQ(co->status(), CoroutineStatus::kError);
  EXPECT_EQ(co->error(), "no global function 'envoy_on_response'");
}

TEST(CoroutineTest, ResumingFinishedCoroutineIsAnError) {
  auto vm = makeVm("function envoy_on_request() end");
  ASSERT_NE(vm, nullptr);
  auto co = vm->startHook("envoy_on_request", nullptr);
  ASSERT_EQ(co->status(), CoroutineStatus::kFinished);
  EXPECT_EQ(vm->resume(*co, nullptr), CoroutineStatus::kError);
}

// Each stream has its own coroutine; they interleave freely.
TEST(CoroutineTest, ManyCoroutinesAliveAtOnce) {
  auto vm = makeVm(R"(
    done = 0
    function envoy_on_request(id)
      local got = wait_for_host()
      assert(got == id * 10, "stream " .. id .. " got " .. tostring(got))
      done = done + 1
    end)");
  ASSERT_NE(vm, nullptr);
  constexpr int kCount = 500;
  std::vector<std::unique_ptr<LuaCoroutine>> cos;
  for (int i = 0; i < kCount; ++i) {
    cos.push_back(vm->startHook("envoy_on_request", [i](lua_State* L) {
      lua_pushinteger(L, i);
      return 1;
    }));
    ASSERT_EQ(cos.back()->status(), CoroutineStatus::kYielded);
  }
  EXPECT_EQ(vm->liveCoroutines(), kCount);
  lua_gc(vm->state(), LUA_GCCOLLECT, 0);   // suspended coroutines must survive GC
  for (int i = kCount - 1; i >= 0; --i) {  // resume out of start order
    ASSERT_EQ(vm->resume(*cos[i],
                         [i](lua_State* L) {
                           lua_pushinteger(L, i * 10);
                           return 1;
                         }),
              CoroutineStatus::kFinished)
        << cos[i]->error();
  }
  EXPECT_EQ(eval(vm->state(), "return done"), std::to_string(kCount));
  cos.clear();
  EXPECT_EQ(vm->liveCoroutines(), 0);
}

// Lua-side proof of the registry anchoring: a weak table sees the coroutine
// survive a full GC while its handle lives, and vanish once it is destroyed.
TEST(CoroutineTest, HandleAnchorsThreadUntilDestroyed) {
  auto vm = makeVm(R"(
    seen = setmetatable({}, {__mode = "k"})
    function envoy_on_request()
      seen[coroutine.running()] = true
      wait_for_host()
    end)");
  ASSERT_NE(vm, nullptr);
  const char* kCount =
      "collectgarbage() collectgarbage() local n = 0 for _ in pairs(seen) do n = n + 1 end return n";
  auto co = vm->startHook("envoy_on_request", nullptr);
  ASSERT_EQ(co->status(), CoroutineStatus::kYielded);
  EXPECT_EQ(eval(vm->state(), kCount), "1");
  co.reset();
  EXPECT_EQ(eval(vm->state(), kCount), "0");
  EXPECT_EQ(vm->liveCoroutines(), 0);
}

// Starting and dropping many coroutines must not grow the state: refs are
// returned to the registry free list and the threads are collected.
TEST(CoroutineTest, ReleasedCoroutinesDoNotAccumulate) {
  auto vm = makeVm("function envoy_on_request() wait_for_host() end");
  ASSERT_NE(vm, nullptr);
  auto cycle = [&] {
    for (int i = 0; i < 1000; ++i) vm->startHook("envoy_on_request", nullptr);
    lua_gc(vm->state(), LUA_GCCOLLECT, 0);
    lua_gc(vm->state(), LUA_GCCOLLECT, 0);
  };
  cycle();  // warms up the registry's free list and interned strings
  const size_t baseline = vm->memoryBytes();
  cycle();
  cycle();
  EXPECT_LE(vm->memoryBytes(), baseline + 4096);
}

}  // namespace
}  // namespace pier::lua
