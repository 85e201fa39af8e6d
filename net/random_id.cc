#include "net/random_id.h"

#include <openssl/rand.h>

namespace tg {

std::string random_id(std::string_view prefix) {
  unsigned char bytes[16];
  RAND_bytes(bytes, sizeof(bytes));
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string id(prefix);
  for (unsigned char b : bytes) {
    id += kDigits[b >> 4];
    id += kDigits[b & 15];
  }
  return id;
}

}  // namespace tg
