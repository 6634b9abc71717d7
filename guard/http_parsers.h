#ifndef BOWDEN_GUARD_HTTP_PARSERS_H_
#define BOWDEN_GUARD_HTTP_PARSERS_H_

// Boost.Beast's HTTP/1.1 parser, with callbacks that keep what the guard
// needs: the request line and fields in order, the decoded body (only when
// asked), and the response status. Beast does the parsing; nothing here reads
// HTTP syntax by hand.

#include <boost/beast/http/basic_parser.hpp>

#include <string>
#include <utility>
#include <vector>

namespace bowden::guard {

namespace http = boost::beast::http;
using boost::beast::error_code;

// Parses one request. Thread-compatible.
class RequestParser final : public http::basic_parser<true> {
 public:
  std::string method;
  std::string target;
  int version = 11;
  std::vector<std::pair<std::string, std::string>> fields;  // as received
  bool keep_body = false;  // collect the decoded body into `body`
  std::string body;

 private:
  void on_request_impl(http::verb, boost::beast::string_view method_str,
                       boost::beast::string_view target_str, int v,
                       error_code&) override {
    method = std::string(method_str);
    target = std::string(target_str);
    version = v;
  }
  void on_response_impl(int, boost::beast::string_view, int, error_code&) override {}
  void on_field_impl(http::field, boost::beast::string_view name,
                     boost::beast::string_view value, error_code&) override {
    fields.emplace_back(std::string(name), std::string(value));
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(boost::beast::string_view data, error_code&) override {
    if (keep_body) body.append(data.data(), data.size());
    return data.size();
  }
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view data,
                                 error_code& ec) override {
    return on_body_impl(data, ec);
  }
  void on_finish_impl(error_code&) override {}
};

// Parses one response. By default it discards what it reads: the guard
// forwards the raw bytes and only needs to know where each response ends.
// With `keep`, for a response the guard rewrites, it also keeps the status
// line, the header fields (not trailers) and the decoded (de-chunked) body;
// body_limit() bounds the body. Thread-compatible.
class ResponseParser final : public http::basic_parser<false> {
 public:
  int status = 0;
  bool keep = false;
  int version = 11;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> fields;  // as received
  std::string body;

 private:
  void on_request_impl(http::verb, boost::beast::string_view, boost::beast::string_view,
                       int, error_code&) override {}
  void on_response_impl(int code, boost::beast::string_view reason_text, int v,
                        error_code&) override {
    status = code;
    version = v;
    if (keep) reason = std::string(reason_text);
  }
  void on_field_impl(http::field, boost::beast::string_view name,
                     boost::beast::string_view value, error_code&) override {
    if (keep && !header_seen_) fields.emplace_back(std::string(name), std::string(value));
  }
  void on_header_impl(error_code&) override { header_seen_ = true; }
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(boost::beast::string_view data, error_code&) override {
    if (keep) body.append(data.data(), data.size());
    return data.size();
  }
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view data,
                                 error_code& ec) override {
    return on_body_impl(data, ec);
  }
  void on_finish_impl(error_code&) override {}

  bool header_seen_ = false;  // fields after the head are trailers
};

}  // namespace bowden::guard

#endif  // BOWDEN_GUARD_HTTP_PARSERS_H_
