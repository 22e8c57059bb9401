-- one_message.lua: one message through strop-milter, driven by miltertest (the MTA side), for
-- tests/milter/lifecycle.sh. -D SOCK=unix:/path; -D EXPECT= one of
--   accept   accepted, not tagged (no X-Spam-Flag added)
--   tag      accepted and tagged (X-Spam-Flag: YES added): the marker rule scores >= 5
--   ok       accepted (tagged or not): never a 451
--   skipped  accepted with X-Strop-Skipped (a stage failed open)
-- The body carries the phrase "lifecycle-marker-phrase" the test's rules file scores.

dofile(LIB)  -- expect(), step(), transaction()

mt.set_timeout(60)
local conn = transaction(SOCK, "LIFE1", "<alice@example.org>", "<u@test.local>")
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
