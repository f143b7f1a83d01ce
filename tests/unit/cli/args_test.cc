// side's command-line parsing: every bad argument is an error naming it, before any work; good ones parse.
#include "cli/args.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace side::cli {
namespace {

Result<CommandArgs> parse(std::vector<std::string> args) {
  return parse_command_line(args);
}

// The error of a command line that must be refused.
std::string refusal(std::vector<std::string> args) {
  auto r = parse(args);
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  return r.error().message;
}

TEST(CliArgs, NumbersAreStrictWithRanges) {
  EXPECT_EQ(refusal({"run", "e1000", "--arena-mb", "0"}), "run: --arena-mb takes an integer in 4..2048, not '0'");
  for (const char* bad :
       {"-1", "99999999999999999999", "", " 8", "8 ", "8x", "0x10", "+8", "1e3", "18446744073709551616"}) {
    EXPECT_FALSE(parse({"run", "e1000", "--arena-mb", bad}).ok()) << bad;
    EXPECT_FALSE(parse({"inject", "e1000", "--faults", bad}).ok()) << bad;
  }
  EXPECT_EQ(refusal({"inject", "e1000", "--faults", "-1"}),
            "inject: --faults takes an integer in 1..1000000, not '-1'");
  for (const char* bad : {"nan", "inf", "-1", "0", "1e400", "2s", ""}) {
    EXPECT_FALSE(parse({"run", "e1000", "--duration", bad}).ok()) << bad;
    EXPECT_FALSE(parse({"inject", "e1000", "--window", bad}).ok()) << bad;
  }
  auto ok = parse({"run", "e1000", "--arena-mb", "128", "--duration", "0.5", "--packets", "10"});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  const auto& run = std::get<RunArgs>(*ok);
  EXPECT_EQ(run.arena_mb, 128u);
  EXPECT_EQ(run.duration, 0.5);
  EXPECT_EQ(run.packets, 10u);
}

TEST(CliArgs, ConformanceTcpSecondsIsAWholeNumberOrTheRunnersDefault) {
  EXPECT_EQ(refusal({"conformance", "--tcp-seconds", "0"}),
            "conformance: --tcp-seconds takes an integer in 1..3600, not '0'");
  EXPECT_FALSE(parse({"conformance", "--tcp-seconds", "1.5"}).ok());
  EXPECT_FALSE(std::get<ConformanceArgs>(*parse({"conformance"})).tcp_seconds);
  EXPECT_EQ(std::get<ConformanceArgs>(*parse({"conformance", "--tcp-seconds", "1"})).tcp_seconds, 1u);
}

TEST(CliArgs, EachAddressReachesItsOwnField) {
  auto ok = parse({"run", "e1000", "--host-addr", "10.9.9.1/24", "--peer-addr", "10.9.9.2/24", "--ifname", "t0"});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  const auto& run = std::get<RunArgs>(*ok);
  EXPECT_EQ(run.host_addr, "10.9.9.1/24");
  EXPECT_EQ(run.peer_addr, "10.9.9.2/24");
  EXPECT_EQ(run.ifname, "t0");
}

TEST(CliArgs, StatusTakesOnlyJson) {
  auto plain = parse({"status"});
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_FALSE(std::get<StatusArgs>(*plain).json);
  auto json = parse({"status", "--json"});
  ASSERT_TRUE(json.ok()) << json.error().message;
  EXPECT_TRUE(std::get<StatusArgs>(*json).json);
  EXPECT_EQ(std::get<HelpArgs>(*parse({"status", "--help"})).command, "status");
  EXPECT_EQ(refusal({"status", "--bogus"}), "status: unknown argument '--bogus' (side status --help lists them)");
  EXPECT_EQ(refusal({"status", "e1000"}), "status: unknown argument 'e1000' (side status --help lists them)");
}

TEST(CliArgs, OptionsNeedTheirValues) {
  EXPECT_EQ(refusal({"inject", "e1000", "--faults"}), "inject: --faults needs a value");
  EXPECT_EQ(refusal({"run", "e1000", "--exec"}), "run: --exec needs a value");
  EXPECT_EQ(refusal({"bench", "--out"}), "bench: --out needs a value");
  EXPECT_EQ(refusal({"__domain", "--channel"}), "__domain: --channel needs a value");
}

TEST(CliArgs, UnknownCommandsAndOptionsAreRefused) {
  EXPECT_EQ(refusal({}), "no command given (side --help lists them)");
  EXPECT_EQ(refusal({"frob"}), "unknown command 'frob' (side --help lists them)");
  EXPECT_EQ(refusal({""}), "unknown command '' (side --help lists them)");
  EXPECT_EQ(refusal({"run", "e1000", "--bogus"}), "run: unknown option '--bogus' (side run --help lists them)");
  EXPECT_FALSE(parse({"inject", "e1000", "--bogus"}).ok());
  EXPECT_FALSE(parse({"bench", "extra"}).ok());
  EXPECT_FALSE(parse({"modinfo", "--missing", "e1000"}).ok());
  EXPECT_FALSE(parse({"symbols", "e1000", "e1000"}).ok());
  EXPECT_FALSE(parse({"__domain", "--frob", "1"}).ok());
}

TEST(CliArgs, EveryCommandNeedsItsModule) {
  EXPECT_EQ(refusal({"run"}), "run: needs a MODULE (side run --help)");
  EXPECT_EQ(refusal({"run", ""}), "run: MODULE is empty");
  EXPECT_FALSE(parse({"inject"}).ok());
  EXPECT_FALSE(parse({"modinfo"}).ok());
  EXPECT_FALSE(parse({"symbols", "--missing"}).ok());
  // Whether side has a device for the driver is decided from its PCI id table when the command runs
  // (supervisor/device_choice_test.cc), not from its name here.
  EXPECT_TRUE(parse({"inject", "ne2k-pci"}).ok());
}

TEST(CliArgs, StringValuesAreChecked) {
  EXPECT_FALSE(parse({"run", "e1000", "--isolation", "none"}).ok());
  EXPECT_FALSE(parse({"run", "e1000", "--ifname", "a/b"}).ok());
  EXPECT_FALSE(parse({"run", "e1000", "--ifname", "sixteen-chars-xx"}).ok());
  EXPECT_FALSE(parse({"run", "e1000", "--wire", "tap:"}).ok());
  EXPECT_FALSE(parse({"run", "e1000", "--wire", "udp:1"}).ok());
  EXPECT_FALSE(parse({"run", "e1000", "--host-addr", "10.0.0.1"}).ok());
  EXPECT_FALSE(parse({"run", "e1000", "--peer-addr", "10.0.0.300/24"}).ok());
  EXPECT_FALSE(parse({"run", "e1000", "--peer-addr", "10.0.0.3/33"}).ok());
  EXPECT_FALSE(parse({"run", "e1000", "--disable", "everything"}).ok());
  EXPECT_FALSE(parse({"run", "e1000", "=1"}).ok());
  EXPECT_FALSE(parse({"run", "e1000", "--isolation", "inproc", "--instances", "2"}).ok());
  EXPECT_EQ(refusal({"run", "virtio_blk", "--isolation", "inproc", "--crash-every", "1"}),
            "run: --crash-every needs --isolation process");
  EXPECT_FALSE(parse({"inject", "e1000", "--types", "crash,frob"}).ok());
  EXPECT_FALSE(parse({"inject", "e1000", "--types", ","}).ok());
  EXPECT_FALSE(parse({"bench", "--sizes", "63"}).ok());
  EXPECT_FALSE(parse({"bench", "--sections", "speed"}).ok());
  auto ok = parse({"run", "e1000", "debug=16", "copybreak=0", "--wire", "tap:t0@ns", "--host-addr", "10.1.0.1/24"});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(std::get<RunArgs>(*ok).params, "debug=16 copybreak=0");
  EXPECT_EQ(std::get<RunArgs>(*ok).wire_tap, "t0@ns");
}

// side bench --class block: request sizes (bytes, K, M; multiples of 512 up to 1 MiB) and depths (1..32); what
// only the other class measures is refused, whatever the order of the options.
TEST(CliArgs, BlockBenchTakesRequestSizesAndDepths) {
  auto ok = parse({"bench", "--sizes", "512,4K,64KiB,1M", "--class", "block", "--depths", "1,32", "--quick"});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  const auto& b = std::get<BenchArgs>(*ok);
  EXPECT_EQ(b.bench_class, "block");
  EXPECT_EQ(b.request_sizes, (std::vector<uint32_t>{512, 4096, 65536, 1u << 20}));
  EXPECT_EQ(b.depths, (std::vector<uint32_t>{1, 32}));
  EXPECT_TRUE(b.frame_sizes.empty());
  auto net = parse({"bench", "--sizes", "64,1518"});
  ASSERT_TRUE(net.ok());
  EXPECT_EQ(std::get<BenchArgs>(*net).bench_class, "net");
  EXPECT_EQ(std::get<BenchArgs>(*net).frame_sizes, (std::vector<size_t>{60, 1514}));
  EXPECT_EQ(refusal({"bench", "--class", "disk"}), "bench: --class is net or block, not 'disk'");
  EXPECT_EQ(refusal({"bench", "--class"}), "bench: --class needs a value");
  EXPECT_EQ(refusal({"bench", "--class", "block", "--sizes", "1000"}),
            "bench: a request size is a multiple of 512 bytes from 512 to 1M, not '1000'");
  for (const char* bad : {"0", "2M", "256", "1025K", "-512", "4k", "K", "4KB", ""}) {
    EXPECT_FALSE(parse({"bench", "--class", "block", "--sizes", bad}).ok()) << bad;
  }
  EXPECT_EQ(refusal({"bench", "--class", "block", "--depths", "33"}),
            "bench: --depths takes an integer in 1..32, not '33'");
  EXPECT_FALSE(parse({"bench", "--class", "block", "--depths", "0"}).ok());
  EXPECT_EQ(refusal({"bench", "--depths", "4"}), "bench: --depths needs --class block");
  EXPECT_FALSE(parse({"bench", "--sections", "tcp", "--class", "block"}).ok());
  EXPECT_FALSE(parse({"bench", "--class", "block", "--recoveries", "3"}).ok());
  EXPECT_FALSE(parse({"bench", "--class", "block", "--exchanges", "3"}).ok());
  EXPECT_FALSE(parse({"bench", "--class", "net", "--sizes", "4K"}).ok());
}

TEST(CliArgs, HelpIsACommandOfItsOwn) {
  EXPECT_TRUE(std::holds_alternative<HelpArgs>(*parse({"--help"})));
  EXPECT_EQ(std::get<HelpArgs>(*parse({"run", "--help"})).command, "run");
  EXPECT_EQ(std::get<HelpArgs>(*parse({"inject", "e1000", "-h"})).command, "inject");
}

TEST(CliArgs, DomainArgumentsAreValidated) {
  std::vector<std::string> good = {"__domain", "--channel", "3", "--arena",   "4", "--arena-bytes",
                                   "67108864", "--kapi",    "5", "--symvers", "6", "--module",
                                   "e1000:7"};
  ASSERT_TRUE(parse(good).ok()) << parse(good).error().message;
  auto with = [&](size_t index, const std::string& value) {
    auto a = good;
    a[index] = value;
    return parse(a);
  };
  EXPECT_FALSE(with(2, "-1").ok());
  EXPECT_FALSE(with(2, "2").ok());  // stdin, stdout and stderr are never the channel
  EXPECT_FALSE(with(6, "0").ok());
  EXPECT_FALSE(with(6, "99999999999999999999").ok());
  EXPECT_FALSE(with(12, "e1000").ok());
  EXPECT_FALSE(with(12, "e1000:x").ok());
  EXPECT_FALSE(with(12, ":7").ok());
}

TEST(CliArgs, AModuleMustBeAKernelModuleFile) {
  auto missing = check_module("side-no-such-module", "/nonexistent");
  EXPECT_FALSE(missing.ok());
  auto passwd = check_module("/etc/passwd", "/nonexistent");
  ASSERT_FALSE(passwd.ok());
  EXPECT_EQ(passwd.error().message, "/etc/passwd is not a kernel module (an x86-64 relocatable ELF file)");
  EXPECT_FALSE(check_module("/proc/self/exe", "/nonexistent").ok());  // ELF, but not a relocatable object
}

}  // namespace
}  // namespace side::cli
