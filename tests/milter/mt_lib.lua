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

-- connect_client(sock, ip): connects to the milter at sock as client ip (client.example) and
-- sends the connection information. The caller reads the milter's reply to it.
function connect_client(sock, ip)
  local conn = mt.connect(sock, 40, 0.05)
  expect(conn ~= nil, "connect to " .. sock)
  step(mt.conninfo(conn, "client.example", ip), "conninfo")
  return conn
end

-- envelope(conn, from, rcpt): sends MAIL FROM, RCPT TO and DATA, expecting "continue" at
-- each step the milter answers. Leaves the connection ready for headers.
function envelope(conn, from, rcpt)
  step(mt.mailfrom(conn, from), "mailfrom")
  expect(mt.getreply(conn) == SMFIR_CONTINUE, "MAIL continues")
  step(mt.rcptto(conn, rcpt), "rcptto")
  if not mt.test_option(conn, SMFIP_NR_RCPT) then
    expect(mt.getreply(conn) == SMFIR_CONTINUE, "RCPT continues")
  end
  if not mt.test_option(conn, SMFIP_NODATA) then step(mt.data(conn), "data") end
end

-- transaction(sock, queue_id, from, rcpt): connects to the milter at sock (client
-- 192.0.2.10, client.example), says HELO, sets the queue id macro and sends the envelope
-- (above), expecting "continue" at each step the milter answers. Returns the connection,
-- ready for headers.
function transaction(sock, queue_id, from, rcpt)
  local conn = connect_client(sock, "192.0.2.10")
  expect(mt.getreply(conn) == SMFIR_CONTINUE, "connect continues")
  step(mt.helo(conn, "client.example"), "helo")
  step(mt.macro(conn, SMFIC_MAIL, "i", queue_id), "macro i")
  envelope(conn, from, rcpt)
  return conn
end
