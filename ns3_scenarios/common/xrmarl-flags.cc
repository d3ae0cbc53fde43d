/*
 * The shared command line and RNG seeding (see xrmarl-flags.h).
 */
#include "xrmarl-flags.h"

#include "ns3/log.h"
#include "ns3/rng-seed-manager.h"

#include <cstdlib>
#include <iostream>
#include <sstream>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("XrMarlFlags");

XrMarlFlags::XrMarlFlags()
    : wallStart(std::chrono::steady_clock::now())
{
}

void
XrMarlFlags::AddTo(CommandLine& cmd)
{
    cmd.AddValue("seed", "Seed S (echoed in the handshake); ns-3 RngRun = S * 100000 + run", seed);
    cmd.AddValue("run", "Run R, 1..99999 (several simulators with one seed)", run);
    cmd.AddValue("endpoint", "Agent server endpoint: tcp://HOST:PORT or ipc://PATH", endpoint);
    cmd.AddValue("timeoutMs", "Timeout of every receive from the server (wall ms)", timeoutMs);
    cmd.AddValue("identity", "ZeroMQ routing id (default sim-<pid>-<random>)", identity);
    cmd.AddValue("fixedAction",
                 "Run without a server with this joint action: max, min, K or a,b,c",
                 fixedAction);
    cmd.AddValue("printKpis", "Print one JSON line of KPIs per window on stdout", printKpis);
    cmd.AddValue("stepInterval", "Observation window t_w (s)", stepInterval);
    cmd.AddValue("episodeLimit", "Windows per episode", episodeLimit);
    cmd.AddValue("warmup", "Simulated time before step 0 and the first frame (s)", warmup);
    cmd.AddValue("window", "Alias of stepInterval (s)", windowAlias);
}

void
XrMarlFlags::Check(const std::string& program)
{
    if (windowAlias > 0)
    {
        stepInterval = windowAlias;
    }
    else if (windowAlias != -1)
    {
        XrMarlUsageError(program, "window must be > 0");
    }
    if (!(stepInterval > 0) || episodeLimit == 0 || !(warmup >= 0.1))
    {
        XrMarlUsageError(program, "stepInterval and episodeLimit must be > 0, warmup >= 0.1 s");
    }
    if (timeoutMs == 0)
    {
        XrMarlUsageError(program, "timeoutMs must be > 0");
    }
    if (!Standalone())
    {
        const std::string bad = xrmarl::CheckEndpoint(endpoint);
        if (!bad.empty())
        {
            XrMarlUsageError(program, bad);
        }
    }
    if (seed >= 0xffffffffULL)
    {
        XrMarlUsageError(program, "seed must be < 4294967295");
    }
    if (run == 0 || run >= 100000)
    {
        XrMarlUsageError(program, "run must be in 1..99999");
    }
}

double
XrMarlFlags::WallSeconds() const
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count();
}

void
XrMarlUsageError(const std::string& program, const std::string& message)
{
    std::cerr << program << ": error: " << message << " (see --help)" << std::endl;
    std::exit(xrmarl::EXIT_USAGE);
}

bool
XrMarlParseFixedAction(const std::string& text,
                       const std::vector<uint32_t>& nActions,
                       std::vector<uint32_t>& out)
{
    out.clear();
    const size_t nAgents = nActions.size();
    if (text == "max" || text == "min")
    {
        for (uint32_t n : nActions)
        {
            out.push_back(text == "max" && n > 0 ? n - 1 : 0);
        }
        return true;
    }
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ','))
    {
        char* end = nullptr;
        const long v = std::strtol(item.c_str(), &end, 10);
        if (item.empty() || *end != '\0' || v < 0)
        {
            return false;
        }
        out.push_back(static_cast<uint32_t>(v));
    }
    if (out.size() == 1)
    {
        out.assign(nAgents, out[0]);
    }
    return out.size() == nAgents;
}

void
XrMarlSeedRng(uint64_t seed, uint32_t run)
{
    NS_LOG_FUNCTION(seed << run);
    RngSeedManager::SetSeed(12345);
    RngSeedManager::SetRun(seed * 100000ULL + run);
}

} // namespace ns3
