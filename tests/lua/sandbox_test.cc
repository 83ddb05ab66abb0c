// What sandbox mode withholds and what it keeps (LuaVm::Options::sandbox).
#include <gtest/gtest.h>

#include "src/lua/lua_vm.h"
#include "tests/lua/lua_test_util.h"

namespace pier::lua {
namespace {

using testing::eval;

std::unique_ptr<LuaVm> makeVm(bool sandbox) {
  auto vm = LuaVm::create("", "sandbox", LuaVm::Options{.sandbox = sandbox});
  EXPECT_TRUE(vm.ok()) << vm.error();
  return vm.ok() ? std::move(vm.value()) : nullptr;
}

constexpr const char* kWithheld[] = {
    "io",
    "package",
    "require",
    "module",
    "loadfile",
    "dofile",
    "os.execute",
    "os.exit",
    "os.remove",
    "os.rename",
    "os.tmpname",
    "os.getenv",
    "os.setlocale",
    "debug.getregistry",
    "debug.sethook",
    "debug.getmetatable",
    "ffi",
};

constexpr const char* kKept[] = {
    "os.time",      "os.clock",   "os.date",      "os.difftime", "debug.traceback", "string.format",
    "table.insert", "math.floor", "bit.band",     "jit.status",  "coroutine.yield", "pcall",
    "load",         "loadstring", "setmetatable", "tostring",
};

TEST(SandboxTest, WithholdsUnsafeGlobals) {
  auto vm = makeVm(true);
  ASSERT_NE(vm, nullptr);
  for (const char* name : kWithheld) {
    EXPECT_EQ(eval(vm->state(), std::string("return ") + name), "nil") << name;
  }
}

TEST(SandboxTest, KeepsSafeGlobals) {
  auto vm = makeVm(true);
  ASSERT_NE(vm, nullptr);
  for (const char* name : kKept) {
    EXPECT_EQ(eval(vm->state(), std::string("return type(") + name + ")"), "function") << name;
  }
}

// Envoy runs scripts with every library open; without the sandbox so do we.
TEST(SandboxTest, OffKeepsEverything) {
  auto vm = makeVm(false);
  ASSERT_NE(vm, nullptr);
  for (const char* name :
       {"io.open", "os.execute", "os.getenv", "require", "loadfile", "debug.getregistry"}) {
    EXPECT_EQ(eval(vm->state(), std::string("return type(") + name + ")"), "function") << name;
  }
}

// LuaJIT does not verify bytecode, so crafted bytecode could corrupt memory.
TEST(SandboxTest, LoadRefusesBytecode) {
  auto vm = makeVm(true);
  ASSERT_NE(vm, nullptr);
  EXPECT_EQ(eval(vm->state(), "return select(2, loadstring(string.dump(function() end)))"),
            "attempt to load chunk with wrong mode");
  EXPECT_EQ(eval(vm->state(), "return select(2, load(string.dump(function() end), 'x', 'b'))"),
            "attempt to load chunk with wrong mode");
}

TEST(SandboxTest, LoadStillCompilesSourceWithEnv) {
  auto vm = makeVm(true);
  ASSERT_NE(vm, nullptr);
  EXPECT_EQ(eval(vm->state(), "return loadstring('return 1 + 1')()"), "2");
  EXPECT_EQ(eval(vm->state(), "return load('return y', 'c', 't', {y = 'env'})()"), "env");
}

TEST(SandboxTest, TopLevelCannotReachIo) {
  auto vm = LuaVm::create("io.open('/etc/passwd')", "escape", LuaVm::Options{.sandbox = true});
  ASSERT_FALSE(vm.ok());
  EXPECT_EQ(vm.error().rfind("escape:1: attempt to index global 'io' (a nil value)", 0), 0u) << vm.error();
}

}  // namespace
}  // namespace pier::lua
