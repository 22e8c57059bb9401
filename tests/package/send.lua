-- send.lua: one message file through strop-milter, driven by miltertest (the MTA side).
-- Run by package_test.sh with -D SOCK=unix:PATH -D LIB=tests/milter/mt_lib.lua -D MSG=FILE
-- -D EXPECT=spam|ham.
-- spam: accepted and tagged (X-Spam-Flag added, STROP_NODE in X-Spam-Status: the milter
-- asked the node); ham: accepted without X-Spam-Flag.

dofile(LIB)  -- tests/milter/mt_lib.lua: expect(), step(), transaction()

local f = assert(io.open(MSG, "rb"))
local text = f:read("a"):gsub("\r\n", "\n")
f:close()
local head, body = text:match("^(.-)\n\n(.*)$")
expect(head ~= nil, MSG .. " has a header block")
local headers = {}
for line in (head .. "\n"):gmatch("(.-)\n") do
  if line:match("^[ \t]") and #headers > 0 then
    headers[#headers][2] = headers[#headers][2] .. "\n" .. line
  elseif not line:match("^From ") then
    local name, value = line:match("^([^:]+):[ \t]?(.*)$")
    if name then headers[#headers + 1] = {name, value} end
  end
end

mt.set_timeout(30)
local conn = transaction(SOCK, "PKGTEST01", "<sender@example.org>", "<user@test.local>")
for _, h in ipairs(headers) do step(mt.header(conn, h[1], h[2]), "header " .. h[1]) end
step(mt.eoh(conn), "eoh")
local crlf = body:gsub("\n", "\r\n")
for i = 1, #crlf, 60000 do step(mt.bodystring(conn, crlf:sub(i, i + 59999)), "body") end
step(mt.eom(conn), "eom")
expect(mt.getreply(conn) == SMFIR_ACCEPT, "message accepted")
expect(mt.eom_check(conn, MT_HDRADD, "X-Scanned-By"), "X-Scanned-By added")
local status = mt.getheader(conn, "X-Spam-Status", 0) or ""
if EXPECT == "spam" then
  expect(mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag"), "X-Spam-Flag added (" .. status .. ")")
  expect(status:match("STROP_NODE") ~= nil, "STROP_NODE in X-Spam-Status: " .. status)
else
  expect(not mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag"), "no X-Spam-Flag (" .. status .. ")")
end
mt.disconnect(conn)
print("send.lua: " .. EXPECT .. " ok: X-Spam-Status: " .. status)
