-- Fails at run time on line 4, after one edit (test_lua_behaviour.py checks both).
function envoy_on_request(request_handle)
  request_handle:headers():add("x-before-error", "yes")
  error("lua-e2e-boom")
  request_handle:headers():add("x-after-error", "yes")
end
