"""fuzz_target: a libFuzzer binary and a cc_test replaying its corpus, from one source."""

def fuzz_target(name, deps):
    src = name + "_fuzz.cc"
    native.cc_binary(
        name = name + "_fuzz",
        srcs = [src],
        deps = deps,
        linkopts = ["-fsanitize=fuzzer"],
        # Only clang links -fsanitize=fuzzer: build it with --config=fuzz.
        tags = ["manual"],
    )
    native.cc_test(
        name = name + "_fuzz_test",
        srcs = [src],
        deps = deps + [":replay_main"],
        args = ["$(location corpus/%s)" % name],
        data = ["corpus/" + name],
    )
