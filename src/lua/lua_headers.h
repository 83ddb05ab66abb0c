#pragma once
// LuaJIT's C headers carry no extern "C" guards (Lua 5.1 API), and Debian
// ships no lua.hpp, so C++ code includes them through this file.
extern "C" {
#include <lauxlib.h>
#include <lua.h>
#include <luajit.h>
#include <lualib.h>
}
