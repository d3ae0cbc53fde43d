/*
 * The command line every xr-codec-marl scenario shares, and the one place ns-3's random
 * number generator is seeded.
 *
 * XrMarlFlags holds the flags that are about the run and the agent server rather than about
 * a scenario (seed, run, endpoint, timeoutMs, identity, fixedAction, printKpis, stepInterval,
 * episodeLimit, warmup, and the `window` alias of stepInterval). Their names, defaults and
 * meanings are part of the contract with xr_codec_marl (its launchers pass them), so every
 * scenario registers them through AddTo() and checks them through Check().
 */
#ifndef XRMARL_FLAGS_H
#define XRMARL_FLAGS_H

#include "xrmarl-wire.h"

#include "ns3/command-line.h"
#include "ns3/nstime.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace ns3
{

/// Flags every scenario has (see the file comment); defaults as xr-codec always had them.
struct XrMarlFlags
{
    XrMarlFlags();

    uint64_t seed{1};  ///< echoed in the Hello; ns-3 RngRun = seed * 100000 + run
    uint32_t run{1};   ///< 1..99999, several simulators with one seed
    std::string endpoint{xrmarl::kDefaultEndpoint};
    uint32_t timeoutMs{10000}; ///< every receive from the server (wall clock)
    std::string identity;      ///< ZeroMQ routing id ("": sim-<pid>-<random>)
    std::string fixedAction;   ///< "": agent server; else max, min, K or a,b,c (standalone)
    bool printKpis{false};     ///< one JSON line per window on stdout
    double stepInterval{0.5};  ///< window t_w (s)
    uint32_t episodeLimit{40}; ///< windows per episode
    double warmup{0.5};        ///< simulated time before step 0 (s)
    double windowAlias{-1};    ///< --window: alias of stepInterval (-1: not given)

    /// Register the flags on `cmd` (help texts as xr-codec --PrintHelp always showed them).
    void AddTo(CommandLine& cmd);
    /// After cmd.Parse(): apply the alias and validate; a bad value ends the process with
    /// XrMarlUsageError(program, ...).
    void Check(const std::string& program);

    /// True without an agent server (--fixedAction given).
    bool Standalone() const
    {
        return !fixedAction.empty();
    }

    Time WarmUp() const
    {
        return Seconds(warmup);
    }

    Time Window() const
    {
        return Seconds(stepInterval);
    }

    /// Wall-clock seconds since these flags were constructed (the start of main()).
    double WallSeconds() const;

    std::chrono::steady_clock::time_point wallStart; ///< set by the constructor
};

/// Print "<program>: error: <message> (see --help)" on stderr and exit with EXIT_USAGE.
[[noreturn]] void XrMarlUsageError(const std::string& program, const std::string& message);

/**
 * Parse a --fixedAction value for agents with nActions[i] actions each: "max" (each agent's
 * last action), "min" (0), "K" (every agent) or "a,b,c" (one per agent, non-negative
 * integers). Ranges are not checked here (the bridge client refuses out-of-range actions).
 * Returns false when the text is none of these.
 */
bool XrMarlParseFixedAction(const std::string& text,
                            const std::vector<uint32_t>& nActions,
                            std::vector<uint32_t>& out);

/**
 * Seed ns-3 for (seed, run): one fixed ns-3 seed, RngRun = seed * 100000 + run. Independent
 * replications come from run substreams, not seeds: MRG32k3a's first draws under small,
 * nearby seeds are strongly correlated. Call once, after the command line is valid and
 * before anything random is created.
 */
void XrMarlSeedRng(uint64_t seed, uint32_t run);

} // namespace ns3

#endif // XRMARL_FLAGS_H
