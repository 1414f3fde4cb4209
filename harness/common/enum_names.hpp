#pragma once
// One name table per enum, written once as an exhaustive switch:
//
//   constexpr std::string_view name(Colour c) {
//     switch (c) {  // no default: with -Wall -Werror a new enumerator without a name fails the build
//       case Colour::red: return "red";
//       case Colour::green: return "green";
//     }
//     return {};
//   }
//   using ColourNames = EnumNames<name>;  // ColourNames::parse("red"), ::values, ::list()
//
// Parsing and listing derive from that switch, so there is nothing else to keep in step. The
// enumerators must be numbered below `limit` (the default numbering from 0 is); nothing depends on
// their order beyond listing them in it.
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace provhil {

namespace detail {
template <class E>
E enum_argument(std::string_view (*)(E));
}  // namespace detail

template <auto Name, int limit = 64>
struct EnumNames {
  using Enum = decltype(detail::enum_argument(Name));
  static_assert(std::is_enum_v<Enum>, "EnumNames takes a function std::string_view name(Enum)");

 private:
  // constexpr, not consteval: clang 14 (the `fuzz` preset) refuses a consteval call in a static
  // member's initializer of a class template; `values` is constexpr, so these still run at compile time.
  static constexpr std::size_t count() {
    std::size_t n = 0;
    for (int i = 0; i < limit; ++i)
      if (!Name(static_cast<Enum>(i)).empty()) ++n;
    return n;
  }
  static constexpr auto collect() {
    std::array<Enum, count()> out{};
    std::size_t n = 0;
    for (int i = 0; i < limit; ++i)
      if (!Name(static_cast<Enum>(i)).empty()) out[n++] = static_cast<Enum>(i);
    return out;
  }
  static constexpr bool distinct() {
    auto all = collect();
    for (std::size_t i = 0; i < all.size(); ++i)
      for (std::size_t j = i + 1; j < all.size(); ++j)
        if (Name(all[i]) == Name(all[j])) return false;
    return true;
  }

 public:
  // Every named enumerator, in numeric order.
  static constexpr auto values = collect();
  static_assert(!values.empty(), "an enum with no names");
  static_assert(distinct(), "two enumerators share a name");

  static constexpr std::string_view name(Enum value) { return Name(value); }
  static constexpr std::optional<Enum> parse(std::string_view text) {
    for (auto value : values)
      if (Name(value) == text) return value;
    return std::nullopt;
  }
  static std::vector<std::string> names() {
    std::vector<std::string> out;
    for (auto value : values)
      out.emplace_back(Name(value));
    return out;
  }
  // "a, b, c": for "expected one of" messages and the docs' tables.
  static std::string list(std::string_view separator = ", ") {
    std::string out;
    for (auto value : values) {
      if (!out.empty()) out += separator;
      out += Name(value);
    }
    return out;
  }
};

}  // namespace provhil
