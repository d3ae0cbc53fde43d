/*
 * The mec-offload scenario: its flags, its network, what it reports each decision step and
 * how it applies the agents' actions.
 *
 * Topology: `cells` base stations (NR gNBs by default, LTE eNBs with --ran=lte) on a line
 * `isd` apart; N devices (UEs), device i in cell i mod cells, uniform in the disc of radius
 * `cellRadius` around it, walking (random walk at `speed`); K edge servers, each a node behind
 * the core (a point-to-point link from the PGW/UPF of `serverLinkMbps` and one-way delay
 * serverDelayMs + k * serverDelayStepMs, so farther servers answer later); with --cloud the
 * last server is a remote cloud (cloudDelayMs away, cloudCapacityGhz, unlimited slots).
 *
 * Per step the agent server gets the raw state (xr_codec_marl/scenarios/mec/raw.py): per
 * device its next task, queues, AoI and channel gain; per server its load and state; the
 * step's event counts. It computes observations, rewards and KPIs itself, once.
 *
 * Actions (--actions): discrete, one index of the target x fraction x power table per
 * device; or hybrid, a target head (local or server k) plus two continuous values, the
 * offloaded fraction and the transmit power (dBm), applied as actions.py's decode_hybrid
 * (the bridge refuses values outside the announced bounds, NaN or missing ones).
 */
#ifndef XRMARL_MEC_SCENARIO_H
#define XRMARL_MEC_SCENARIO_H

#include "mec-device.h"
#include "mec-server.h"
#include "mec-tally.h"
#include "xrmarl-agent-loop.h"
#include "xrmarl-flags.h"
#include "xrmarl-ran.h"

#include "ns3/command-line.h"
#include "ns3/node-container.h"
#include "ns3/propagation-loss-model.h"

#include <string>
#include <vector>

namespace ns3
{

/// Most devices per NR cell: 5G-LENA v4.0 here completes uploads of 50 UEs per gNB and none
/// of 60 (numerology 2; 100 fail at numerology 1 too), so more are refused.
constexpr uint32_t kMaxNrDevicesPerCell = 50;

/// The scenario's own parameters (the flags of the same names).
struct MecOffloadConfig
{
    uint32_t devices{10};
    uint32_t servers{3};
    uint32_t cells{1};
    double isd{500.0};        ///< m between base stations
    double cellRadius{250.0}; ///< m, devices within this of their base station
    double minDistance{10.0}; ///< m
    double speed{1.4};        ///< m/s, walking
    double serverLinkMbps{1000.0};
    double serverDelayMs{2.0};
    double serverDelayStepMs{1.0};
    bool cloud{false};
    double cloudDelayMs{25.0};
    double cloudCapacityGhz{100.0};
    double serverGhzMin{10.0}; ///< heterogeneous: uniform in [min, max]; else the middle
    double serverGhzMax{40.0};
    double serverMemMin{16.0}; ///< GB
    double serverMemMax{64.0};
    uint32_t serverSlots{32};
    std::string queue{"fifo"};
    double highPriority{0.75};
    double mtbf{60.0}; ///< s, failures variant
    double mttr{5.0};  ///< s
    int32_t killServer{-1}; ///< a server to fail for good at killAt (tests, what-ifs)
    double killAt{1.0};     ///< s after step 0
    std::string txPowers{"10,23"};
    std::string fractions{"0.25,0.5,0.75,1"};
    /// discrete: the agents' actions are the table of target x fraction x power level;
    /// hybrid: a target head (local, s0, ...) plus the offloaded fraction alpha in [0, 1] and
    /// the transmit power in [min, max] of txPowers (dBm), continuous (actions.py hybrid_space)
    std::string actions{"discrete"};
    /// standalone hybrid runs: alpha,power for every device, or one pair per device
    std::string fixedContinuous;
    std::vector<double> fixedContinuousValues; ///< parsed: devices x 2, row-major
    MecDeviceConfig device;

    bool Hybrid() const
    {
        return actions == "hybrid";
    }

    void AddTo(CommandLine& cmd);
    /// After cmd.Parse(): parse the lists and check every value (exit EXIT_USAGE naming it).
    void Check(const std::string& program, bool ranIsNr);
};

/// Per-device raw names (raw.py AGENT_FIELDS) and global ones for K servers.
std::vector<std::string> MecAgentFields();
std::vector<std::string> MecGlobalFields(uint32_t servers);

class MecOffloadScenario
{
  public:
    MecOffloadScenario(const MecOffloadConfig& cfg, const XrMarlFlags& flags, const XrMarlRanConfig& ran);
    /// The agents as the Hello announces them.
    std::vector<XrMarlAgent> Agents() const;
    void Build();
    /// Hello parameters, the measure/apply callbacks.
    void Attach(XrMarlAgentLoop& loop);
    void PrintSummary(const XrMarlAgentLoop& loop) const;

  private:
    std::vector<double> Measure(uint64_t step);
    std::vector<double> MeasureGlobal(uint64_t step);
    void Apply(const std::vector<uint32_t>& actions);
    /// Hybrid actions: each device's target head and its (alpha, power dBm), row-major.
    void ApplyHybrid(const std::vector<uint32_t>& heads, const std::vector<double>& values);
    void ScheduleFailure(uint32_t k);
    /// Fail server k now: its queue is lost and the devices drop their tasks there.
    void FailServer(uint32_t k);
    double Gain(uint32_t device) const;

    MecOffloadConfig m_cfg;
    const XrMarlFlags& m_flags;
    XrMarlRanConfig m_ranCfg;
    NodeContainer m_bs;
    NodeContainer m_ues;
    std::vector<Ptr<MecDevice>> m_devices;
    std::vector<Ptr<MecServer>> m_servers;
    std::vector<double> m_lastBusy;
    MecTally m_tally;
    MecShared m_shared;
    Ptr<PropagationLossModel> m_loss;
    Ptr<ExponentialRandomVariable> m_failRng;
    std::vector<XrMarlRan> m_ran; ///< 0 or 1 (XrMarlRan has no default constructor)
    uint64_t m_failures{0};
};

} // namespace ns3

#endif // XRMARL_MEC_SCENARIO_H
