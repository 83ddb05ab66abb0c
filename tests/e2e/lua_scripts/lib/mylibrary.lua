-- The library of Envoy's Lua sandbox example (examples/lua), loaded there with
-- require("lib.mylibrary") relative to the proxy's working directory.
M = {}

function M.foobar()
  return "bar"
end

return M
