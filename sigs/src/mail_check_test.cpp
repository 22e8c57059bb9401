// looks_like_mail: what the CLI and `strop-node sig --message` accept as a mail message.
#include <gtest/gtest.h>

#include "sigs/message.hpp"

namespace strop::sigs {
namespace {

TEST(LooksLikeMail, AHeaderBlockWithAKeyField) {
  EXPECT_TRUE(looks_like_mail("From: a@example.org\nSubject: hi\n\nbody\n"));
  EXPECT_TRUE(looks_like_mail("Received: from x\n\tby y\nX-Other: 1\n\nbody"));
  EXPECT_TRUE(looks_like_mail("message-id: <1@x>\r\n\r\nbody"));         // any case, CRLF
  EXPECT_TRUE(looks_like_mail("Date: Thu, 1 Jan 2026 00:00:00 +0000"));  // no body at all
  // An mbox "From " line first; a broken line inside the block is tolerated.
  EXPECT_TRUE(looks_like_mail("From a@b Thu Jan  1 00:00:00 2026\nX-A: 1\nbroken\nFrom: a\n\n"));
}

TEST(LooksLikeMail, NotMail) {
  EXPECT_FALSE(looks_like_mail(""));
  EXPECT_FALSE(looks_like_mail("just some notes\nnot a message\n"));
  // /etc/passwd: every line is a field by syntax, none is a mail header.
  EXPECT_FALSE(
      looks_like_mail("root:x:0:0:root:/root:/bin/bash\n"
                      "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"));
  // The key field must be in the header block, not the body.
  EXPECT_FALSE(looks_like_mail("X-A: 1\n\nFrom: a@example.org\n"));
  EXPECT_FALSE(looks_like_mail(" Subject: indented\n"));   // a continuation first
  EXPECT_FALSE(looks_like_mail("Sub ject: x\n"));          // a space in the name
  EXPECT_FALSE(looks_like_mail("From someone\nhello\n"));  // an mbox line, then no block
}

}  // namespace
}  // namespace strop::sigs
