-- mt_lib.lua: helpers shared by the miltertest scripts (loaded with dofile(LIB); the tests
-- pass -D LIB=<this file>). Each raises a Lua error naming the caller's line, which makes
-- miltertest exit non-zero.

-- expect(cond, what): fails unless cond holds.
function expect(cond, what)
  if not cond then error("expectation failed: " .. what, 2) end
end

-- step(r, what): fails unless a miltertest call returned nil (success).
function step(r, what)
  if r ~= nil then error(what .. ": " .. tostring(r), 2) end
end
