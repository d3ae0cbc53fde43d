/*
 * The XR codec-adaptation scenario on top of ns3_scenarios/common: its own flags, its users
 * (traffic, KPI meters), mobility, KPIs per window, codec-rate actions, Hello parameters and
 * summary line. xr-codec.cc's main() only wires these to the common flags, RAN and agent loop.
 */
#ifndef XR_SCENARIO_H
#define XR_SCENARIO_H

#include "annulus-walk.h"
#include "xr-dynamics.h"
#include "xr-users.h"
#include "xrmarl-agent-loop.h"
#include "xrmarl-flags.h"
#include "xrmarl-ran.h"
#include "xrmarl-rlc-buffer.h"

#include "ns3/command-line.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ns3
{

/// KPI names of one XR agent, in the order of the Step's kpis (XR_KPI_NAMES on the Python side).
const std::vector<std::string>& XrKpiNames();

/// xr-codec's own parameters (the member names are the flags' names).
struct XrCodecConfig
{
    double ringRadius{400.0};
    double minDistance{35.0};
    uint32_t nRates{10};
    /// "discrete": each agent picks one of nRates codec rates; "continuous" (issue 15): any
    /// codec rate in its [min, max] Mbps, one bounded continuous action dimension
    std::string actions{"discrete"};
    std::string users; ///< --users ("": AR,VR,CG)
    double arMin{0.5};
    double arMax{10.0};
    double vrMin{10.0};
    double vrMax{30.0};
    double cgMin{10.0};
    double cgMax{30.0};
    double audioMbps{0.756};
    double audioPeriodMs{4.0};
    uint32_t poseBytes{100};
    double posePeriodMs{4.0};
    double fps{60.0};
    double sizeStdFrac{0.105};
    double sizeMinFrac{0.5};
    double sizeMaxFrac{1.5};
    double jitterStdMs{2.0};
    double jitterBoundMs{4.0};
    double pacingMs{0.0};
    uint32_t mtu{1500};
    double lossDeadlineMs{100.0};
    double ueSpeed{3.0};
    double turnInterval{1.0};
    double ueHeight{1.5};
    uint32_t bearerQci{80};
    XrDynamicsConfig dynamics; ///< issue 14: load, cross mobility, blockage (all off)

    void AddTo(CommandLine& cmd);
    /// After cmd.Parse() and the RAN's Check(): validate and parse --users (exit
    /// EXIT_USAGE with a one-line message when something is wrong).
    std::vector<XrUser> Check(const std::string& program, const XrMarlRanConfig& ran) const;
};

/// The network, users and per-window KPIs of one xr-codec run.
class XrCodecScenario
{
  public:
    XrCodecScenario(const XrCodecConfig& cfg,
                    const XrMarlFlags& flags,
                    const XrMarlRanConfig& ranCfg,
                    std::vector<XrUser> users);

    /// One agent per user: id, kind, obs size N + 2, the nRates codec rates (or, with
    /// --actions=continuous, the codec rate in [min, max] Mbps as a continuous dimension).
    std::vector<XrMarlAgent> Agents() const;
    /// Nodes, mobility, RAN, XR server, bearers, traffic, monitors and RLC traces.
    void Build();
    /// Hello parameters and state size, and the Measure/Apply callbacks.
    void Attach(XrMarlAgentLoop& loop);
    /// The final {"summary": ...} line on stdout.
    void PrintSummary(const XrMarlAgentLoop& loop) const;

  private:
    std::vector<double> Measure(uint64_t step);
    void Apply(const std::vector<uint32_t>& actions);
    /// --actions=continuous: the codec rates (Mbps), one value per agent.
    void ApplyContinuous(const std::vector<double>& continuous);
    bool Continuous() const
    {
        return m_cfg.actions == "continuous";
    }
    void InstallTraffic(uint32_t i, Ptr<Node> server);

    XrCodecConfig m_cfg;
    const XrMarlFlags& m_flags;
    XrMarlRanConfig m_ranCfg;
    std::vector<XrUser> m_users;
    std::optional<XrMarlRan> m_ran;
    std::unique_ptr<XrMarlRlcBufferTraces> m_traces;
    std::vector<Ptr<AnnulusWalk>> m_walks;
    std::unique_ptr<XrDynamics> m_dynamics;
    NodeContainer m_ueNodes;
};

} // namespace ns3

#endif // XR_SCENARIO_H
