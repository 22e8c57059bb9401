-- send.lua: one message file through strop-milter, driven by miltertest (the MTA side).
-- Run by package_test.sh with -D SOCK=unix:PATH -D MSG=FILE -D EXPECT=spam|ham.
-- spam: accepted and tagged (X-Spam-Flag added, STROP_NODE in X-Spam-Status: the milter
-- asked the node); ham: accepted without X-Spam-Flag.

local function expect(cond, what)
  if not cond then error("expectation failed: " .. what, 2) end
end

local function step(r, what)
  if r ~= nil then error(what .. ": " .. tostring(r), 2) end
end

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
local conn = mt.connect(SOCK, 40, 0.25)
expect(conn ~= nil, "connect to " .. SOCK)
step(mt.conninfo(conn, "client.example", "192.0.2.10"), "conninfo")
expect(mt.getreply(conn) == SMFIR_CONTINUE, "connect continues")
step(mt.helo(conn, "client.example"), "helo")
step(mt.macro(conn, SMFIC_MAIL, "i", "PKGTEST01"), "macro i")
step(mt.mailfrom(conn, "<sender@example.org>"), "mailfrom")
expect(mt.getreply(conn) == SMFIR_CONTINUE, "MAIL continues")
step(mt.rcptto(conn, "<user@test.local>"), "rcptto")
if not mt.test_option(conn, SMFIP_NR_RCPT) then
  expect(mt.getreply(conn) == SMFIR_CONTINUE, "RCPT continues")
end
if not mt.test_option(conn, SMFIP_NODATA) then step(mt.data(conn), "data") end
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
