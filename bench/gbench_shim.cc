// The C interface of bench/gbench.h over Google Benchmark: the only C++ in the benches.
#include "gbench.h"

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

namespace {

benchmark::State &S(gb_state *st) { return *reinterpret_cast<benchmark::State *>(st); }
const benchmark::State &S(const gb_state *st) {
    return *reinterpret_cast<const benchmark::State *>(st);
}

} // namespace

extern "C" int gb_register(const char *name, gb_fn fn, void *user, const int64_t *args,
                           const char *const *arg_names, int nargs, const gb_options *opts) {
    if (!name || !fn || nargs < 0 || (nargs > 0 && !args)) return -1;
    benchmark::internal::Benchmark *b = benchmark::RegisterBenchmark(
        name, [fn, user](benchmark::State &st) { fn(reinterpret_cast<gb_state *>(&st), user); });
    if (nargs > 0) {
        b->Args(std::vector<int64_t>(args, args + nargs));
        if (arg_names) b->ArgNames(std::vector<std::string>(arg_names, arg_names + nargs));
    }
    static const benchmark::TimeUnit units[] = {benchmark::kNanosecond, benchmark::kMicrosecond,
                                                benchmark::kMillisecond, benchmark::kSecond};
    const int unit = opts && opts->time_unit >= 0 && opts->time_unit <= 3 ? opts->time_unit
                                                                          : GB_UNIT_US;
    b->Unit(units[unit]);
    if (opts && opts->manual_time) b->UseManualTime();
    if (opts && opts->iterations > 0) b->Iterations(opts->iterations);
    if (opts && opts->repetitions > 0) b->Repetitions(opts->repetitions);
    return 0;
}

extern "C" int gb_keep_running(gb_state *st) { return S(st).KeepRunning() ? 1 : 0; }

extern "C" int64_t gb_arg(const gb_state *st, int i) {
    return i >= 0 ? S(st).range(static_cast<std::size_t>(i)) : 0;
}

extern "C" void gb_set_iteration_time(gb_state *st, double seconds) {
    S(st).SetIterationTime(seconds);
}

extern "C" void gb_pause_timing(gb_state *st) { S(st).PauseTiming(); }
extern "C" void gb_resume_timing(gb_state *st) { S(st).ResumeTiming(); }

extern "C" void gb_counter(gb_state *st, const char *name, double value, int flags) {
    if (!name) return;
    S(st).counters[name] = benchmark::Counter(value, static_cast<benchmark::Counter::Flags>(flags));
}

extern "C" void gb_set_label(gb_state *st, const char *label) {
    if (label) S(st).SetLabel(label);
}

extern "C" void gb_skip(gb_state *st, const char *message) {
    S(st).SkipWithError(message ? message : "skipped");
}

extern "C" void gb_add_context(const char *key, const char *value) {
    if (key && value) benchmark::AddCustomContext(key, value);
}

extern "C" int gb_main(int argc, char **argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
