-- Loaded through a Lua filter's source_codes (filename:) and chosen by a route's `name:`
-- (test_lua_behaviour.py). Marks the request so the test sees which script ran.
function envoy_on_request(request_handle)
  request_handle:headers():add("x-script", "named.lua")
end
