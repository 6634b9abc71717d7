#ifndef BOWDEN_TESTS_TINY_JPEG_H_
#define BOWDEN_TESTS_TINY_JPEG_H_

#include <string>

namespace bowden::tests {

// A valid baseline JPEG (JFIF) of one 8x8 block of mid-grey, built here
// byte by byte: one quantisation table, one-symbol Huffman tables, and an
// entropy-coded block whose DC difference and AC coefficients are all zero.
// Small enough to stream as MJPEG frames, real enough for a browser to
// decode (an <img>'s naturalWidth becomes 8).
std::string TinyJpeg();

}  // namespace bowden::tests

#endif  // BOWDEN_TESTS_TINY_JPEG_H_
