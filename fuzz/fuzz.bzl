"""fuzz_target: a libFuzzer binary and a cc_test replaying its corpus, from one source."""

def fuzz_target(name, deps, random_inputs = 2000):
    src = name + "_fuzz.cc"
    native.cc_binary(
        name = name + "_fuzz",
        srcs = [src],
        deps = deps,
        linkopts = ["-fsanitize=fuzzer"],
        # The model and executor are test-only libraries.
        testonly = True,
        # Only clang links -fsanitize=fuzzer: build it with --config=fuzz.
        tags = ["manual"],
    )
    native.cc_test(
        name = name + "_fuzz_test",
        srcs = [src],
        deps = deps + [":replay_main"],
        args = ["$(location corpus/%s)" % name],
        data = ["corpus/" + name],
        # Under TSan (//:tsan) a fifth of the random inputs: these tests run one thread.
        env = select({
            "//:tsan": {"FUZZ_RANDOM_INPUTS": str(max(1, random_inputs // 5))},
            "//conditions:default": {"FUZZ_RANDOM_INPUTS": str(random_inputs)},
        }),
    )
