// The journal reader of `provhil report --rebuild`: the input is a journal.jsonl; the rebuild writes
// junit.xml and results.json beside it, or throws ReportError, and nothing else.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "report/writer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // One scratch folder for the whole process, removed at exit.
  struct Scratch {
    std::filesystem::path path;
    Scratch() {
      char pattern[] = "/tmp/provhil-fuzz-journal-XXXXXX";
      if (::mkdtemp(pattern) == nullptr) std::abort();
      path = pattern;
    }
    ~Scratch() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static const Scratch scratch;
  const std::filesystem::path& dir = scratch.path;
  {
    std::FILE* file = std::fopen((dir / "journal.jsonl").c_str(), "wb");
    if (file == nullptr) std::abort();
    if (size > 0 && std::fwrite(data, 1, size, file) != size) std::abort();
    std::fclose(file);
  }
  provhil::report::ReportOptions options;
  options.output_dir = dir;
  options.attachment_base = dir;
  try {
    std::size_t skipped = 0;
    (void)provhil::report::rebuild_from_journal(options, &skipped);
  } catch (const provhil::report::ReportError&) {
  }
  return 0;
}
