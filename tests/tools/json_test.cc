// The tools' JSON reader: what it accepts, what it refuses and says why, and exact write-back.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "json.h"

namespace {

struct Doc {
  ta_json_t *v = nullptr;
  int err = 0;
  char why[160] = "";
  explicit Doc(const std::string &s) { err = ta_json_parse(s.data(), s.size(), &v, why, sizeof(why)); }
  ~Doc() { ta_json_free(v); }
};

std::string written(const ta_json_t *v) {
  char *buf = nullptr;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  EXPECT_EQ(ta_json_write(f, v), 0);
  fclose(f);
  std::string s(buf, len);
  free(buf);
  return s;
}

TEST(Json, ReadsTheSnapshotShape) {
  Doc d(R"({"version": 1, "pid": 42, "time_ns": 18446744073709551615,
            "heap": {"active": 8388608, "dirty": 0},
            "nodes": [{"node": 0, "kind": "dram", "cpus": "0-1", "tier": 0},
                      {"node": 1, "kind": "cxl", "cpus": "", "tier": 1}],
            "classes": [{"size": 16, "utilization": 0.25}], "flag": true, "none": null})");
  ASSERT_EQ(d.err, 0) << d.why;
  EXPECT_EQ(ta_json_u64(d.v, "version", 0), 1u);
  EXPECT_EQ(ta_json_u64(d.v, "time_ns", 0), UINT64_MAX);  // exact, past 2^53
  const ta_json_t *heap = ta_json_get(d.v, "heap");
  EXPECT_EQ(ta_json_num(heap, "active", -1), 8388608.0);
  const ta_json_t *nodes = ta_json_get(d.v, "nodes");
  ASSERT_NE(nodes, nullptr);
  EXPECT_EQ(nodes->type, TA_JSON_ARRAY);
  EXPECT_EQ(nodes->count, 2u);
  EXPECT_STREQ(ta_json_str(nodes->child->next, "kind", "?"), "cxl");
  EXPECT_STREQ(ta_json_str(nodes->child->next, "cpus", "?"), "");
  EXPECT_EQ(ta_json_num(ta_json_get(d.v, "classes")->child, "utilization", 0), 0.25);
  EXPECT_EQ(ta_json_num(d.v, "flag", 0), 1.0);
  EXPECT_EQ(ta_json_get(d.v, "none")->type, TA_JSON_NULL);
  EXPECT_EQ(ta_json_get(d.v, "missing"), nullptr);
  EXPECT_EQ(ta_json_num(d.v, "missing", 7), 7.0);
  EXPECT_EQ(ta_json_u64(d.v, "kind", 9), 9u);  // missing and wrong types give the default
  EXPECT_EQ(ta_json_str(heap, "active", nullptr), nullptr);
}

TEST(Json, U64RefusesWhatIsNotAnExactUnsignedInteger) {
  Doc d(R"({"neg": -1, "frac": 1.5, "exp": 1e3, "big": 18446744073709551616})");
  ASSERT_EQ(d.err, 0) << d.why;
  EXPECT_EQ(ta_json_u64(d.v, "neg", 5), 5u);
  EXPECT_EQ(ta_json_u64(d.v, "frac", 5), 5u);
  EXPECT_EQ(ta_json_u64(d.v, "exp", 5), 5u);
  EXPECT_EQ(ta_json_u64(d.v, "big", 5), 5u);
  EXPECT_EQ(ta_json_num(d.v, "exp", 0), 1000.0);
}

TEST(Json, DecodesEscapes) {
  Doc d(R"(["a\"b\\c\/d\n\t", "\u00e9\u20ac", "\ud83d\ude00", "nul\u0000in"])");
  ASSERT_EQ(d.err, 0) << d.why;
  const ta_json_t *s = d.v->child;
  EXPECT_STREQ(s->text, "a\"b\\c/d\n\t");
  EXPECT_STREQ(s->next->text, "\xc3\xa9\xe2\x82\xac");
  EXPECT_STREQ(s->next->next->text, "\xf0\x9f\x98\x80");
  EXPECT_EQ(s->next->next->next->len, 6u);
}

TEST(Json, WritesBackCompactAndExact) {
  Doc d("{ \"a\" : [1, -2.5e3, 18446744073709551615, true, false, null],\n \"s\": \"x\\ny\\u0001\" ,\"o\":{}}");
  ASSERT_EQ(d.err, 0) << d.why;
  std::string out = written(d.v);
  EXPECT_EQ(out, R"({"a":[1,-2.5e3,18446744073709551615,true,false,null],"s":"x\ny\u0001","o":{}})");
  Doc again(out);  // and what it writes reads back the same
  ASSERT_EQ(again.err, 0) << again.why;
  EXPECT_EQ(written(again.v), out);
}

TEST(Json, RefusesMalformedTextAndSaysWhere) {
  const char *bad[] = {
      "",                        // nothing
      "{\"version\": 1,",        // truncated: a snapshot cut in the middle
      "{\"a\": 1,}",             // trailing comma
      "[1 2]",                   // missing comma
      "{a: 1}",                  // unquoted name
      "{\"a\" 1}",               // missing colon
      "\"abc",                   // unterminated string
      "\"a\x01\"",               // raw control character
      "\"\\x\"",                 // unknown escape
      "\"\\u12\"",               // short \u
      "\"\\ud800\"",             // lone high surrogate
      "\"\\udc00x\"",            // lone low surrogate
      "01",                      // leading zero
      "1.",                      // fraction without digits
      "-",                       // sign alone
      "1e",                      // exponent without digits
      "NaN",                     // not JSON
      "tru",                     // cut literal
      "{} {}",                   // two values
      "// c\n{}",                // comments are not JSON
  };
  for (const char *text : bad) {
    Doc d(text);
    EXPECT_EQ(d.err, EINVAL) << "accepted: " << text;
    EXPECT_EQ(d.v, nullptr);
    EXPECT_NE(std::string(d.why).find("at byte"), std::string::npos) << d.why;
  }
  Doc cut("{\"version\": 1, \"heap\": {\"active\": 12");
  EXPECT_NE(std::string(cut.why).find("unexpected end"), std::string::npos) << cut.why;
}

TEST(Json, BoundsNesting) {
  std::string ok(TA_JSON_MAX_DEPTH, '['), deep(TA_JSON_MAX_DEPTH + 1, '[');
  ok += std::string(TA_JSON_MAX_DEPTH, ']');
  deep += std::string(TA_JSON_MAX_DEPTH + 1, ']');
  Doc a(ok), b(deep);
  EXPECT_EQ(a.err, 0) << a.why;
  EXPECT_EQ(b.err, EINVAL);
  EXPECT_NE(std::string(b.why).find("nested deeper"), std::string::npos) << b.why;
  std::string huge(1 << 20, '[');  // a hostile file must not exhaust the stack
  Doc c(huge);
  EXPECT_EQ(c.err, EINVAL);
}

TEST(Json, EveryPrefixOfAValidDocumentIsRefusedCleanly) {
  // A reader racing a writer that did not rename atomically would see a prefix: none may crash,
  // leak or be accepted (except where the prefix is itself a complete value).
  const std::string text = R"({"version":1,"nodes":[{"node":0,"kind":"dram","x":-1.5e-3}],"s":"\u00e9"})";
  for (size_t n = 0; n < text.size(); n++) {
    Doc d(text.substr(0, n));
    EXPECT_EQ(d.err, EINVAL) << n;
  }
  Doc whole(text);
  EXPECT_EQ(whole.err, 0) << whole.why;
}

}  // namespace
