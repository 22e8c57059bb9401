-- callbacks.lua: per-callback behaviour of strop-milter, driven by miltertest (the MTA side).
-- Run by tests/milter/miltertest.sh with -D SOCK=unix:/path against a running strop-milter
-- whose config has: bypass.networks = ["10.0.0.0/8"], bypass.recipients = ["abuse@*"],
-- policy.subject_tag = "[SPAM]", a rules file with MT_MARKER (score 6), clamd disabled.

local GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

dofile(LIB)  -- expect(), step(), connect_client(), envelope()

-- One transaction up to (not including) end of message.
local function message(conn, from, rcpt, headers, chunks)
  envelope(conn, from, rcpt)
  for _, h in ipairs(headers) do step(mt.header(conn, h[1], h[2]), "header " .. h[1]) end
  step(mt.eoh(conn), "eoh")
  for _, c in ipairs(chunks) do step(mt.bodystring(conn, c), "body") end
end

local function run()
  mt.set_timeout(30)
  -- The milter registers every callback (no SMFIP_NO* steps): the delayed-ACK fix.
  local conn = connect_client(SOCK, "192.0.2.10")
  expect(mt.getreply(conn) == SMFIR_CONTINUE, "connect continues")
  expect(not mt.test_option(conn, SMFIP_NODATA), "xxfi_data registered")
  expect(not mt.test_option(conn, SMFIP_NOHDRS), "xxfi_header registered")
  expect(not mt.test_option(conn, SMFIP_NOUNKNOWN), "xxfi_unknown registered")
  -- On a unix socket, no replies are expected for headers and body chunks.
  if EXPECT_NR == "1" then
    expect(mt.test_option(conn, SMFIP_NR_HDR), "no-reply headers negotiated")
    expect(mt.test_option(conn, SMFIP_NR_BODY), "no-reply body negotiated")
  end
  expect(mt.test_action(conn, SMFIF_ADDHDRS), "may add headers")
  expect(mt.test_action(conn, SMFIF_CHGHDRS), "may change headers")
  expect(mt.test_action(conn, SMFIF_QUARANTINE), "may quarantine")
  step(mt.helo(conn, "client.example"), "helo")
  step(mt.macro(conn, SMFIC_MAIL, "i", "4A1B2C3D4E"), "macro i")

  -- 1. clean message: accepted, headers added, forged X-Spam-* removed
  message(conn, "<alice@example.org>", "<u@test.local>",
          {{"From", "alice@example.org"}, {"Subject", "hello"}, {"X-Spam-Flag", "YES"},
           {"X-Spam-Status", "No, forged"}}, {"Hello Bob,\r\n", "see you at lunch.\r\n"})
  step(mt.eom(conn), "eom")
  expect(mt.getreply(conn) == SMFIR_ACCEPT, "clean accepted")
  expect(mt.eom_check(conn, MT_HDRADD, "X-Scanned-By"), "X-Scanned-By added")
  expect(string.match(mt.getheader(conn, "X-Scanned-By", 0) or "", "^strop%-milter ") ~= nil,
         "X-Scanned-By names strop-milter")
  expect(mt.eom_check(conn, MT_HDRADD, "X-Spam-Score", "0 ()"), "X-Spam-Score 0")
  expect(mt.eom_check(conn, MT_HDRADD, "X-Spam-Status"), "X-Spam-Status added")
  expect(mt.eom_check(conn, MT_HDRDELETE, "X-Spam-Flag"), "forged X-Spam-Flag removed")
  expect(mt.eom_check(conn, MT_HDRDELETE, "X-Spam-Status"), "forged X-Spam-Status removed")
  expect(not mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag"), "no X-Spam-Flag on clean mail")

  -- 2. GTUBE split over two body chunks, same connection: rejected with the full reply
  message(conn, "<bob@example.org>", "<u@test.local>", {{"Subject", "test"}},
          {"first line\r\n" .. string.sub(GTUBE, 1, 30), string.sub(GTUBE, 31) .. "\r\n"})
  step(mt.eom(conn), "eom")
  expect(mt.getreply(conn) == SMFIR_REPLYCODE, "GTUBE rejected")
  expect(mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1", "Message rejected as spam (score 1000)"),
         "550 5.7.1 reply")

  -- 3. a rules-file hit: tagged, Subject tagged
  message(conn, "<carol@example.org>", "<u@test.local>", {{"Subject", "offer"}},
          {"this has the mt-marker-phrase in it\r\n"})
  step(mt.eom(conn), "eom")
  expect(mt.getreply(conn) == SMFIR_ACCEPT, "tagged message accepted")
  expect(mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag", "YES"), "X-Spam-Flag YES")
  expect(mt.eom_check(conn, MT_HDRADD, "X-Spam-Score", "6 (******) MT_MARKER"), "score header")
  expect(mt.eom_check(conn, MT_HDRCHANGE, "Subject", "[SPAM] offer"), "subject tag")

  -- 4. an aborted transaction leaves nothing behind for the next one
  envelope(conn, "<dave@example.org>", "<u@test.local>")
  step(mt.header(conn, "Subject", "aborted"), "header")
  step(mt.eoh(conn), "eoh")
  step(mt.bodystring(conn, GTUBE), "body")
  step(mt.abort(conn), "abort")
  message(conn, "<erin@example.org>", "<u@test.local>", {{"Subject", "after abort"}},
          {"plain text\r\n"})
  step(mt.eom(conn), "eom")
  expect(mt.getreply(conn) == SMFIR_ACCEPT, "message after abort is clean")
  expect(mt.eom_check(conn, MT_HDRADD, "X-Spam-Score", "0 ()"), "no GTUBE left from the aborted one")
  step(mt.disconnect(conn), "disconnect")

  -- 5. trusted network: accepted at connect
  local trusted = connect_client(SOCK, "10.1.2.3")
  expect(mt.getreply(trusted) == SMFIR_ACCEPT, "trusted client accepted at connect")
  step(mt.disconnect(trusted), "disconnect")

  -- 6. authenticated sender: accepted at MAIL FROM
  local auth = connect_client(SOCK, "192.0.2.11")
  -- HELO first: miltertest would insert one before MAIL, and libmilter clears the MAIL
  -- macros when it sees HELO.
  step(mt.helo(auth, "client.example"), "helo")
  step(mt.macro(auth, SMFIC_MAIL, "{auth_authen}", "alice"), "auth macro")
  step(mt.mailfrom(auth, "<alice@example.org>"), "mailfrom")
  expect(mt.getreply(auth) == SMFIR_ACCEPT, "authenticated sender accepted at MAIL")
  step(mt.disconnect(auth), "disconnect")

  -- 7. all recipients bypassed: accepted at end of headers
  local rc = connect_client(SOCK, "192.0.2.12")
  step(mt.helo(rc, "client.example"), "helo")
  envelope(rc, "<x@example.org>", "<abuse@test.local>")
  step(mt.header(rc, "Subject", GTUBE), "header")
  step(mt.eoh(rc), "eoh")
  expect(mt.getreply(rc) == SMFIR_ACCEPT, "abuse@ recipient accepted at EOH")
  step(mt.disconnect(rc), "disconnect")
end

local ok, err = pcall(run)
if not ok then
  mt.echo("FAIL: " .. tostring(err))
  error(err, 0)
end
mt.echo("PASS callbacks.lua")
