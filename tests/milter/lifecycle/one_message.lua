-- one_message.lua: one message through strop-milter, driven by miltertest (the MTA side), for
-- tests/milter/lifecycle.sh. -D SOCK=unix:/path; -D EXPECT= one of
--   accept   accepted, not tagged (no X-Spam-Flag added)
--   tag      accepted and tagged (X-Spam-Flag: YES added): the marker rule scores >= 5
--   ok       accepted (tagged or not): never a 451
--   skipped  accepted with X-Strop-Skipped (a stage failed open)
-- The body carries the phrase "lifecycle-marker-phrase" the test's rules file scores.

dofile(LIB)  -- expect(), step()

mt.set_timeout(60)
local conn = mt.connect(SOCK, 40, 0.05)
expect(conn ~= nil, "connect to " .. SOCK)
step(mt.conninfo(conn, "client.example", "192.0.2.10"), "conninfo")
expect(mt.getreply(conn) == SMFIR_CONTINUE, "connect continues")
step(mt.helo(conn, "client.example"), "helo")
step(mt.macro(conn, SMFIC_MAIL, "i", "LIFE1"), "macro i")
step(mt.mailfrom(conn, "<alice@example.org>"), "mailfrom")
expect(mt.getreply(conn) == SMFIR_CONTINUE, "MAIL continues")
step(mt.rcptto(conn, "<u@test.local>"), "rcptto")
if not mt.test_option(conn, SMFIP_NR_RCPT) then
  expect(mt.getreply(conn) == SMFIR_CONTINUE, "RCPT continues")
end
if not mt.test_option(conn, SMFIP_NODATA) then step(mt.data(conn), "data") end
step(mt.header(conn, "From", "alice@example.org"), "header From")
step(mt.header(conn, "Subject", "lifecycle"), "header Subject")
step(mt.eoh(conn), "eoh")
step(mt.bodystring(conn, "Hello,\r\nlifecycle-marker-phrase\r\nbye\r\n"), "body")
step(mt.eom(conn), "eom")
local reply = mt.getreply(conn)
expect(reply ~= SMFIR_TEMPFAIL, "not tempfailed")
expect(reply ~= SMFIR_REPLYCODE or not mt.eom_check(conn, MT_SMTPREPLY, "451"), "no 451")
expect(reply == SMFIR_ACCEPT, "accepted (reply " .. tostring(reply) .. ")")
local flagged = mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag")
if EXPECT == "accept" then expect(not flagged, "not tagged") end
if EXPECT == "tag" then expect(flagged, "tagged") end
if EXPECT == "skipped" then
  expect(mt.eom_check(conn, MT_HDRADD, "X-Strop-Skipped"), "X-Strop-Skipped added")
end
mt.disconnect(conn)
print("PASS")
