// base64Escape, importPublicKey and verifySignature of the stream handle,
// with OpenSSL. Envoy's messages are kept so scripts that log them read the same.
#include <algorithm>
#include <string>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "src/lua/lua_bindings.h"

namespace pier::lua {
namespace {

constexpr const char* kPublicKey = "public key";

// Owns its key; a key that failed to parse is kept as null. Envoy returns a
// wrapper either way: its get() gives the key, or nil when the DER did not
// parse, and scripts pass what get() returned to verifySignature (Envoy's docs
// pass the wrapper itself; both work here, as get() returns the wrapper).
struct PublicKey {
  EVP_PKEY* key;
};

bool isPublicKey(lua_State* L, int index) {
  if (lua_touserdata(L, index) == nullptr || !lua_getmetatable(L, index)) return false;
  scriptOf(L).pushMetatable(L, ObjectKind::kPublicKey);
  const bool is_key = lua_rawequal(L, -1, -2) != 0;
  lua_pop(L, 2);
  return is_key;
}

int publicKeyGet(lua_State* L) {
  if (!isPublicKey(L, 1)) {
    return luaL_error(L, "expected a public key object as self (call methods with ':')");
  }
  const auto* k = static_cast<PublicKey*>(lua_touserdata(L, 1));
  if (k->key == nullptr) {
    lua_pushnil(L);
  } else {
    lua_pushvalue(L, 1);
  }
  return 1;
}

int publicKeyGc(lua_State* L) {
  auto* k = static_cast<PublicKey*>(lua_touserdata(L, 1));
  if (k != nullptr && k->key != nullptr) {
    EVP_PKEY_free(k->key);
    k->key = nullptr;
  }
  return 0;
}

void checkHandle(lua_State* L) { sideOf(L, selfObject(L, TypeName{ObjectKind::kHandle, "stream handle"})); }

// The string at `index`, cut to the length the script passed alongside it.
std::string_view lengthLimited(lua_State* L, int index, int length_index) {
  std::string_view s = checkView(L, index);
  const lua_Integer n = luaL_checkinteger(L, length_index);
  if (n < 0) luaL_error(L, "length must not be negative");
  return s.substr(0, std::min(s.size(), static_cast<size_t>(n)));
}

const EVP_MD* digestByName(std::string name) {
  for (char& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (name == "sha1") return EVP_sha1();
  if (name == "sha224") return EVP_sha224();
  if (name == "sha256") return EVP_sha256();
  if (name == "sha384") return EVP_sha384();
  if (name == "sha512") return EVP_sha512();
  return nullptr;
}

int pushVerifyResult(lua_State* L, bool ok, const char* error) {
  lua_pushboolean(L, ok ? 1 : 0);
  if (ok) {
    lua_pushnil(L);
  } else {
    lua_pushstring(L, error);
  }
  return 2;
}

}  // namespace

int handleBase64Escape(lua_State* L) {
  checkHandle(L);
  std::string_view in = checkView(L, 2);
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t n = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                       static_cast<uint8_t>(in[i + 2]);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  if (i < in.size()) {
    uint32_t n = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<uint8_t>(in[i + 1]) << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  lua_pushlstring(L, out.data(), out.size());
  return 1;
}

int handleImportPublicKey(lua_State* L) {
  checkHandle(L);
  std::string_view der = lengthLimited(L, 2, 3);
  auto* k = static_cast<PublicKey*>(lua_newuserdata(L, sizeof(PublicKey)));
  k->key = nullptr;
  scriptOf(L).pushMetatable(L, ObjectKind::kPublicKey);
  lua_setmetatable(L, -2);
  // SubjectPublicKeyInfo (what Envoy's EVP_parse_public_key reads).
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  k->key = d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
  ERR_clear_error();  // a bad key is reported by verifySignature; the queue is per thread
  return 1;
}

int handleVerifySignature(lua_State* L) {
  checkHandle(L);
  std::string hash(checkView(L, 2));
  if (!isPublicKey(L, 3)) {
    return luaL_error(L, "verifySignature(): argument 2 must be a key from importPublicKey() (or its get())");
  }
  const auto* key = static_cast<PublicKey*>(lua_touserdata(L, 3));
  std::string_view signature = lengthLimited(L, 4, 5);
  std::string_view data = lengthLimited(L, 6, 7);

  const EVP_MD* md = digestByName(hash);
  if (md == nullptr) {
    const std::string error = hash + " is not supported.";
    return pushVerifyResult(L, false, error.c_str());
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr || key->key == nullptr ||
      EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, key->key) != 1) {
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return pushVerifyResult(L, false, "Failed to initialize digest verify.");
  }
  const int rc =
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                       reinterpret_cast<const unsigned char*>(data.data()), data.size());
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  if (rc == 1) return pushVerifyResult(L, true, nullptr);
  const std::string error = "Failed to verify digest. Error code: " + std::to_string(rc);
  return pushVerifyResult(L, false, error.c_str());
}

void registerCryptoType(LuaScript& script) {
  static const luaL_Reg kMethods[] = {
      {"__gc", publicKeyGc},
      {"get", publicKeyGet},
      {nullptr, nullptr},
  };
  script.defineType(ObjectKind::kPublicKey, kPublicKey, kMethods);
}

}  // namespace pier::lua
