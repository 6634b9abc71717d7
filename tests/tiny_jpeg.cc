#include "tests/tiny_jpeg.h"

namespace bowden::tests {
namespace {

// A marker segment: FF, marker, 16-bit length (counting itself), payload.
std::string Segment(unsigned char marker, const std::string& payload) {
  const size_t length = payload.size() + 2;
  std::string out = {'\xFF', static_cast<char>(marker),
                     static_cast<char>(length >> 8),
                     static_cast<char>(length & 0xFF)};
  return out + payload;
}

// A Huffman table with a single code of length 1 ("0") for `symbol`.
std::string OneSymbolHuffmanTable(unsigned char table_class_and_id,
                                  unsigned char symbol) {
  std::string payload(1, static_cast<char>(table_class_and_id));
  payload += '\x01';                 // one code of length 1
  payload += std::string(15, '\0');  // none of lengths 2..16
  payload += static_cast<char>(symbol);
  return payload;
}

}  // namespace

std::string TinyJpeg() {
  std::string jpeg = "\xFF\xD8";  // SOI
  // APP0 JFIF 1.1, no density units, aspect 1:1, no thumbnail.
  jpeg += Segment(
      0xE0, std::string("JFIF\0\x01\x01\x00\x00\x01\x00\x01\x00\x00", 14));
  // DQT: table 0, 8-bit precision, every step 1.
  jpeg += Segment(0xDB, std::string(1, '\0') + std::string(64, '\x01'));
  // SOF0: 8-bit samples, 8x8, one component (id 1, 1x1 sampling, table 0).
  jpeg += Segment(0xC0, std::string("\x08\x00\x08\x00\x08\x01\x01\x11\x00", 9));
  // DHT: DC table 0 codes only category 0; AC table 0 codes only EOB (0x00).
  jpeg += Segment(0xC4, OneSymbolHuffmanTable(0x00, 0x00));
  jpeg += Segment(0xC4, OneSymbolHuffmanTable(0x10, 0x00));
  // SOS: one component (id 1, DC/AC tables 0), spectral 0..63, no
  // approximation.
  jpeg += Segment(0xDA, std::string("\x01\x01\x00\x00\x3F\x00", 6));
  // Entropy-coded data: "0" (DC difference 0) "0" (EOB), padded with 1 bits.
  jpeg += '\x3F';
  jpeg += "\xFF\xD9";  // EOI
  return jpeg;
}

}  // namespace bowden::tests
