"""Compiles .proto files with Debian's protoc and grpc_cpp_plugin.

Bazel 4's proto rules would download protobuf's sources; a genrule calling the
system compiler keeps the build offline.
"""

def bowden_cc_proto(name, src, grpc = False, deps = []):
    """Declares a cc_library `name` built from one .proto file.

    Args:
      name: the cc_library's name.
      src: the .proto file in this package.
      grpc: whether to also generate gRPC service stubs.
      deps: other bowden_cc_proto libraries that `src` imports.
    """
    base = src[:-len(".proto")]
    outs = [base + ".pb.h", base + ".pb.cc"]
    cmd = "/usr/bin/protoc -I. --cpp_out=$(GENDIR) "
    if grpc:
        outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
        cmd += "--grpc_out=$(GENDIR) --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin "
    native.genrule(
        name = name + "_gen",
        srcs = [src] + [d + "_srcs" for d in deps],
        outs = outs,
        cmd = cmd + "$(location " + src + ")",
    )
    native.filegroup(
        name = name + "_srcs",
        srcs = [src],
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        deps = deps + ["//third_party:protobuf"] + (["//third_party:grpc"] if grpc else []),
    )
