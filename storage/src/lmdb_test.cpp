#include "lmdb.hpp"

#include <gtest/gtest.h>

#include <string>

#include "test_util.hpp"

namespace strop::storage::lmdb {
namespace {

using strop::storage::testing::TempDir;

struct Fixture {
  TempDir dir;
  Env env;
  Dbi dbi;
  Fixture(std::size_t map = 1 << 20, unsigned dbflags = 0) {
    EXPECT_EQ(Env::open(dir.path(), 0, 4, 16, map, &env), 0);
    Txn txn;
    EXPECT_EQ(Txn::begin(env, 0, &txn), 0);
    EXPECT_EQ(txn.open_dbi("t", MDB_CREATE | dbflags, &dbi), 0);
    EXPECT_EQ(txn.commit(), 0);
  }
};

TEST(Lmdb, PutGetCommitAndAbort) {
  Fixture f;
  {
    Txn txn;
    ASSERT_EQ(Txn::begin(f.env, 0, &txn), 0);
    ASSERT_EQ(txn.put(f.dbi, "a", "1"), 0);
    ASSERT_EQ(txn.commit(), 0);
    EXPECT_FALSE(txn);  // commit moved the handle out
  }
  {
    Txn txn;
    ASSERT_EQ(Txn::begin(f.env, 0, &txn), 0);
    ASSERT_EQ(txn.put(f.dbi, "b", "2"), 0);
    // destructor aborts
  }
  Txn r;
  ASSERT_EQ(Txn::begin(f.env, MDB_RDONLY, &r), 0);
  std::string_view v;
  ASSERT_EQ(r.get(f.dbi, "a", &v), 0);
  EXPECT_EQ(v, "1");
  EXPECT_EQ(r.get(f.dbi, "b", &v), MDB_NOTFOUND);
}

TEST(Lmdb, NoOverwriteReportsKeyExist) {
  Fixture f;
  Txn txn;
  ASSERT_EQ(Txn::begin(f.env, 0, &txn), 0);
  ASSERT_EQ(txn.put(f.dbi, "k", "1", MDB_NOOVERWRITE), 0);
  EXPECT_EQ(txn.put(f.dbi, "k", "2", MDB_NOOVERWRITE), MDB_KEYEXIST);
  EXPECT_EQ(txn.del(f.dbi, "missing"), MDB_NOTFOUND);
}

TEST(Lmdb, CursorIteratesInByteOrderAndSeeks) {
  Fixture f;
  Txn txn;
  ASSERT_EQ(Txn::begin(f.env, 0, &txn), 0);
  for (const char* k : {"b", "a", "d", "c"}) ASSERT_EQ(txn.put(f.dbi, k, k), 0);
  std::string seen;
  {
    Cursor cur;
    ASSERT_EQ(Cursor::open(txn, f.dbi, &cur), 0);
    std::string_view k, v;
    for (int rc = cur.get(&k, &v, MDB_FIRST); rc == 0; rc = cur.get(&k, &v, MDB_NEXT)) seen += k;
    ASSERT_EQ(cur.seek("bb", &k, &v), 0);
    EXPECT_EQ(k, "c");
  }
  EXPECT_EQ(seen, "abcd");
  EXPECT_EQ(txn.commit(), 0);
}

TEST(Lmdb, CommitWithOpenCursorIsABug) {
  Fixture f;
  Txn txn;
  ASSERT_EQ(Txn::begin(f.env, 0, &txn), 0);
  Cursor cur;
  ASSERT_EQ(Cursor::open(txn, f.dbi, &cur), 0);
  EXPECT_THROW((void)txn.commit(), std::logic_error);
  cur.close();
  EXPECT_EQ(txn.commit(), 0);
}

TEST(Lmdb, DupSortDeletesOneDuplicate) {
  Fixture f(1 << 20, MDB_DUPSORT | MDB_DUPFIXED);
  Txn txn;
  ASSERT_EQ(Txn::begin(f.env, 0, &txn), 0);
  ASSERT_EQ(txn.put(f.dbi, "k", "1111"), 0);
  ASSERT_EQ(txn.put(f.dbi, "k", "2222"), 0);
  ASSERT_EQ(txn.del(f.dbi, "k", "1111"), 0);
  std::string_view v;
  ASSERT_EQ(txn.get(f.dbi, "k", &v), 0);
  EXPECT_EQ(v, "2222");
}

TEST(Lmdb, MapFullThenGrow) {
  Fixture f(1 << 20);
  std::string big(2000, 'x');
  int rc = 0;
  int i = 0;
  {
    Txn txn;
    ASSERT_EQ(Txn::begin(f.env, 0, &txn), 0);
    for (; i < 10000 && rc == 0; ++i) rc = txn.put(f.dbi, std::to_string(i), big);
    EXPECT_EQ(rc, MDB_MAP_FULL);
  }
  ASSERT_EQ(f.env.set_map_size(std::size_t{64} << 20), 0);
  EXPECT_EQ(f.env.map_size(), std::size_t{64} << 20);
  Txn txn;
  ASSERT_EQ(Txn::begin(f.env, 0, &txn), 0);
  for (int j = 0; j < i; ++j) ASSERT_EQ(txn.put(f.dbi, std::to_string(j), big), 0);
  EXPECT_EQ(txn.commit(), 0);
  EXPECT_GT(f.env.used_bytes(), std::size_t{1} << 20);
}

TEST(Lmdb, ReadTxnResetRenewSeesNewData) {
  Fixture f;
  Txn r;
  ASSERT_EQ(Txn::begin(f.env, MDB_RDONLY, &r), 0);
  std::string_view v;
  EXPECT_EQ(r.get(f.dbi, "x", &v), MDB_NOTFOUND);
  r.reset();
  {
    Txn w;
    ASSERT_EQ(Txn::begin(f.env, 0, &w), 0);
    ASSERT_EQ(w.put(f.dbi, "x", "y"), 0);
    ASSERT_EQ(w.commit(), 0);
  }
  ASSERT_EQ(r.renew(), 0);
  ASSERT_EQ(r.get(f.dbi, "x", &v), 0);
  EXPECT_EQ(v, "y");
}

TEST(Lmdb, ErrorsNameTheCause) {
  auto e = to_error(MDB_INVALID, "open");
  EXPECT_EQ(e.code, Errc::kIo);
  EXPECT_NE(e.message.find("incompatible"), std::string::npos);
}

TEST(Lmdb, CopyCompact) {
  Fixture f;
  {
    Txn w;
    ASSERT_EQ(Txn::begin(f.env, 0, &w), 0);
    ASSERT_EQ(w.put(f.dbi, "k", "v"), 0);
    ASSERT_EQ(w.commit(), 0);
  }
  TempDir dest;
  ASSERT_EQ(f.env.copy_compact(dest.path()), 0);
  Env e2;
  ASSERT_EQ(Env::open(dest.path(), 0, 4, 16, 1 << 20, &e2), 0);
  Txn r;
  ASSERT_EQ(Txn::begin(e2, MDB_RDONLY, &r), 0);
  Dbi d;
  ASSERT_EQ(r.open_dbi("t", 0, &d), 0);
  std::string_view v;
  ASSERT_EQ(r.get(d, "k", &v), 0);
  EXPECT_EQ(v, "v");
}

}  // namespace
}  // namespace strop::storage::lmdb
