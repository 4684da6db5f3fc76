// Compiled by cxx.sh with g++ running on the reference allocator and on the library under test:
// the object files must be identical and the two programs must print the same lines. Heavy on
// templates and the standard library so the compiler itself allocates a lot.
#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <unordered_map>
#include <variant>
#include <vector>

namespace sample {

template <typename T, size_t R, size_t C>
struct Matrix {
  std::array<T, R * C> v{};
  T &at(size_t r, size_t c) { return v[r * C + c]; }
  const T &at(size_t r, size_t c) const { return v[r * C + c]; }
  template <size_t K>
  Matrix<T, R, K> operator*(const Matrix<T, C, K> &o) const {
    Matrix<T, R, K> m;
    for (size_t i = 0; i < R; i++)
      for (size_t j = 0; j < K; j++) {
        T s{};
        for (size_t k = 0; k < C; k++) s += at(i, k) * o.at(k, j);
        m.at(i, j) = s;
      }
    return m;
  }
};

// A tiny expression language: numbers, variables, + - * /, let-bindings, parsed into a tree.
struct Expr;
using ExprPtr = std::shared_ptr<Expr>;
struct Num { double v; };
struct Var { std::string name; };
struct Bin { char op; ExprPtr l, r; };
struct Let { std::string name; ExprPtr value, body; };
struct Expr { std::variant<Num, Var, Bin, Let> node; };

template <class... Ts> struct overloaded : Ts... { using Ts::operator()...; };
template <class... Ts> overloaded(Ts...) -> overloaded<Ts...>;

class Parser {
 public:
  explicit Parser(std::string s) : s_(std::move(s)) {}
  ExprPtr parse() { return expr(); }

 private:
  std::string s_;
  size_t i_ = 0;
  void ws() { while (i_ < s_.size() && s_[i_] == ' ') i_++; }
  bool eat(char c) { ws(); if (i_ < s_.size() && s_[i_] == c) { i_++; return true; } return false; }
  std::string ident() {
    ws();
    size_t b = i_;
    while (i_ < s_.size() && std::isalpha((unsigned char)s_[i_])) i_++;
    return s_.substr(b, i_ - b);
  }
  ExprPtr atom() {
    ws();
    if (eat('(')) { ExprPtr e = expr(); eat(')'); return e; }
    if (std::isdigit((unsigned char)s_[i_])) {
      size_t b = i_;
      while (i_ < s_.size() && (std::isdigit((unsigned char)s_[i_]) || s_[i_] == '.')) i_++;
      return std::make_shared<Expr>(Expr{Num{std::stod(s_.substr(b, i_ - b))}});
    }
    std::string id = ident();
    if (id == "let") {
      std::string name = ident();
      eat('=');
      ExprPtr v = expr();
      ident();  // "in"
      ExprPtr body = expr();
      return std::make_shared<Expr>(Expr{Let{name, v, body}});
    }
    return std::make_shared<Expr>(Expr{Var{id}});
  }
  ExprPtr term() {
    ExprPtr l = atom();
    for (;;) {
      if (eat('*')) l = std::make_shared<Expr>(Expr{Bin{'*', l, atom()}});
      else if (eat('/')) l = std::make_shared<Expr>(Expr{Bin{'/', l, atom()}});
      else return l;
    }
  }
  ExprPtr expr() {
    ExprPtr l = term();
    for (;;) {
      if (eat('+')) l = std::make_shared<Expr>(Expr{Bin{'+', l, term()}});
      else if (eat('-')) l = std::make_shared<Expr>(Expr{Bin{'-', l, term()}});
      else return l;
    }
  }
};

double eval(const ExprPtr &e, std::map<std::string, double> env) {
  return std::visit(overloaded{
      [](const Num &n) { return n.v; },
      [&](const Var &v) { auto it = env.find(v.name); return it == env.end() ? 0.0 : it->second; },
      [&](const Bin &b) {
        double l = eval(b.l, env), r = eval(b.r, env);
        switch (b.op) {
          case '+': return l + r;
          case '-': return l - r;
          case '*': return l * r;
          default: return r == 0 ? 0.0 : l / r;
        }
      },
      [&](const Let &l) { env[l.name] = eval(l.value, env); return eval(l.body, env); }},
      e->node);
}

template <typename Container, typename Key>
std::map<Key, size_t> histogram(const Container &c, std::function<Key(const typename Container::value_type &)> key) {
  std::map<Key, size_t> h;
  for (const auto &x : c) h[key(x)]++;
  return h;
}

uint64_t lcg(uint64_t &s) { return s = s * 6364136223846793005ull + 1442695040888963407ull; }

}  // namespace sample

int main() {
  using namespace sample;
  uint64_t seed = 42;
  // Words: build, count, sort.
  std::vector<std::string> words;
  for (int i = 0; i < 200000; i++) {
    std::string w;
    size_t len = 1 + (lcg(seed) >> 33) % 12;
    for (size_t k = 0; k < len; k++) w += (char)('a' + (lcg(seed) >> 33) % 6);
    words.push_back(std::move(w));
  }
  std::unordered_map<std::string, int> counts;
  for (const auto &w : words) counts[w]++;
  std::vector<std::pair<std::string, int>> top(counts.begin(), counts.end());
  std::sort(top.begin(), top.end(), [](auto &a, auto &b) { return std::tie(b.second, a.first) < std::tie(a.second, b.first); });
  std::cout << "distinct " << counts.size() << "\n";
  for (int i = 0; i < 5; i++) std::cout << top[i].first << " " << top[i].second << "\n";
  auto byLen = histogram<std::vector<std::string>, size_t>(words, [](const std::string &s) { return s.size(); });
  for (auto &[len, n] : byLen) std::cout << "len " << len << " " << n << "\n";

  // Expressions.
  const char *progs[] = {"1 + 2 * 3", "let x = 5 in x * x - 1", "let a = 2 in let b = a * 10 in (b + a) / 4",
                         "((1 + 2) * (3 + 4)) / 7 - 0.5"};
  for (const char *p : progs) std::cout << p << " = " << eval(Parser(p).parse(), {}) << "\n";
  std::ostringstream big;
  big << "0";
  for (int i = 1; i < 3000; i++) big << (i % 3 ? " + " : " - ") << i;
  std::cout << "long sum = " << eval(Parser(big.str()).parse(), {}) << "\n";

  // Matrices.
  Matrix<long, 4, 4> m;
  for (size_t i = 0; i < 4; i++)
    for (size_t j = 0; j < 4; j++) m.at(i, j) = (long)(i * 4 + j) % 7 - 3;
  auto p = m;
  for (int k = 0; k < 10; k++) p = p * m;
  std::cout << "matrix " << p.at(0, 0) << " " << p.at(3, 3) << "\n";

  // Sets, optionals, numeric.
  std::set<int> primes;
  for (int n = 2; n < 50000; n++)
    if (std::none_of(primes.begin(), primes.upper_bound((int)std::sqrt(n)), [n](int q) { return n % q == 0; })) primes.insert(n);
  std::cout << "primes " << primes.size() << " last " << *primes.rbegin() << "\n";
  std::vector<long> v(100000);
  std::iota(v.begin(), v.end(), 1);
  std::cout << "sum " << std::accumulate(v.begin(), v.end(), 0L) << "\n";
  std::optional<std::string> o = top.empty() ? std::nullopt : std::optional<std::string>(top.back().first);
  std::cout << "last " << o.value_or("none") << "\n";
  return 0;
}
