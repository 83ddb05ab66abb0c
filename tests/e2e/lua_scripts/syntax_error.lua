-- Does not compile: line 3 has an assignment without a name (test_lua_behaviour.py).
function envoy_on_request(request_handle)
  local = 1
end
