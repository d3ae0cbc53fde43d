/*
 * XrMarlAgentLoop: the agent side of a scenario's main(), on top of XrMarlBridgeClient.
 *
 * A scenario declares its agents (id, kind, observation size, action values) and KPI names,
 * adds its own Hello parameters, and gives two callbacks: Measure (the KPIs of the window
 * that ends now, n_agents x n_kpis row-major) and Apply (the joint action for the next
 * window). Run() does the handshake (or standalone with --fixedAction), sends one Step
 * every --stepInterval from the end of the warm-up to --episodeLimit, and runs the
 * simulator. Along the way it keeps what every scenario reports: the per-window KPI lines
 * (--printKpis), the mean KPIs, the exit code and the summary fields common to all
 * scenarios (WriteRunFields, WriteStatus, WriteMeanKpis), so that the scenario's summary
 * line only adds its own fields.
 *
 * Step 0 is sent before anything was measured: Measure is called (so that the scenario can
 * start its windows) but the Step carries zeros, as the analytic backend at reset.
 *
 * Agents with a hybrid action space (heads and/or bounded continuous dimensions, see
 * bridge.proto's AgentInfo) announce it in the Hello; the scenario then sets the hybrid apply
 * callback, which also gets the continuous values (validated against the Hello by the bridge),
 * and a standalone run takes its fixed continuous values from SetFixedContinuous.
 */
#ifndef XRMARL_AGENT_LOOP_H
#define XRMARL_AGENT_LOOP_H

#include "xrmarl-bridge-client.h"
#include "xrmarl-flags.h"
#include "xrmarl-json.h"

#include "ns3/nstime.h"
#include "ns3/ptr.h"

#include <functional>
#include <string>
#include <vector>

namespace ns3
{

/// One categorical head of a hybrid action space (bridge.proto's ActionHead).
struct XrMarlActionHead
{
    std::string name;
    uint32_t n{1};
    std::vector<std::string> labels; ///< empty or n
};

/// One bounded continuous action dimension (bridge.proto's ContinuousDim).
struct XrMarlContinuousDim
{
    std::string name;
    double low{0};
    double high{0};
    std::string unit;
};

/// One agent as the Hello announces it.
struct XrMarlAgent
{
    std::string id;                   ///< unique agent id (e.g. "AR", "VR1")
    std::string kind;                 ///< agent kind (e.g. "xr", "cg")
    uint32_t obsSize{0};              ///< observation size (0 when the server computes it)
    std::vector<double> actionValues; ///< what each discrete action means; n_actions = size
    uint32_t nActions{0};             ///< actions without values (0: actionValues.size())
    std::vector<std::string> actionLabels; ///< short names of the actions (empty or n)
    /// A hybrid action space (either non-empty): its heads and continuous dimensions; then
    /// actionValues, nActions and actionLabels are unused.
    std::vector<XrMarlActionHead> heads;
    std::vector<XrMarlContinuousDim> continuous;

    bool IsHybrid() const
    {
        return !heads.empty() || !continuous.empty();
    }

    /// The number of discrete actions (hybrid: the joint index size, the heads' product).
    uint32_t NumActions() const
    {
        if (IsHybrid())
        {
            uint32_t joint = 1;
            for (const auto& h : heads)
            {
                joint *= h.n;
            }
            return joint;
        }
        return nActions > 0 ? nActions : static_cast<uint32_t>(actionValues.size());
    }
};

class XrMarlAgentLoop
{
  public:
    /// The values of the window that ends now, n_agents * n_kpis, row-major by agent.
    using MeasureCallback = std::function<std::vector<double>(uint64_t step)>;
    /// The scenario-wide values of the window that ends now, one per global KPI name.
    using GlobalMeasureCallback = std::function<std::vector<double>(uint64_t step)>;
    /// The joint action (one index per agent) to apply from now on.
    using ApplyCallback = std::function<void(const std::vector<uint32_t>& actions)>;
    /// ... with the continuous values: n_agents * D row-major by agent (D: the most
    /// continuous dimensions of any agent; the columns beyond an agent's own are 0).
    using HybridApplyCallback = std::function<void(const std::vector<uint32_t>& actions,
                                                   const std::vector<double>& continuous)>;

    /**
     * `scenario` names the scenario in the Hello and the summary, and prefixes error
     * messages (it is also the binary's name). Installs the SIGINT/SIGTERM handlers.
     */
    XrMarlAgentLoop(const XrMarlFlags& flags,
                    const std::string& scenario,
                    const std::vector<std::string>& kpiNames);

    void AddAgent(const XrMarlAgent& agent);
    /// Parse --fixedAction for the agents added so far (exit EXIT_USAGE when malformed).
    void CheckFixedAction();

    /// The Hello being built (scenario, seed, run, agents and KPI names are filled in).
    xrmarl::v1::Hello& Hello()
    {
        return m_hello;
    }

    /// Shorthand for Hello().mutable_parameters()[key] = value.
    void SetParameter(const std::string& key, const std::string& value);

    void SetMeasureCallback(MeasureCallback cb);
    /// Global KPIs (Hello.global_kpi_names) and the callback that measures them each window.
    void SetGlobalKpis(const std::vector<std::string>& names, GlobalMeasureCallback cb);
    /**
     * Send what the callbacks return at step 0 too (default: zeros). For scenarios whose
     * per-agent values are state the agents decide on (their server builds observations
     * from them), not only measurements of a window; step 0 is still left out of the means.
     */
    void SetReportAtStart(bool report);
    void SetApplyCallback(ApplyCallback cb);
    /// For hybrid agents: the apply callback that also gets the continuous values (it wins
    /// over SetApplyCallback's).
    void SetHybridApplyCallback(HybridApplyCallback cb);
    /// Standalone runs (--fixedAction) of hybrid agents: the continuous values applied at every
    /// step, n_agents * D row-major (checked against the Hello's bounds at Run: a bad one is a
    /// usage error).
    void SetFixedContinuous(const std::vector<double>& values);

    /**
     * Handshake, then schedule step 0 at `t0` and run the simulator until the terminal step
     * (hard stop a millisecond after it). Returns false when the handshake failed (nothing
     * was simulated; the scenario should print no summary and return Finish()).
     */
    bool Run(Time t0);

    /// 0 after a complete episode, else the xrmarl::ExitCode of what went wrong.
    int ExitCode() const;
    /// What went wrong ("" when ExitCode() is 0).
    std::string ErrorMessage() const;
    /// Index of the last step sent (= windows measured).
    uint64_t Windows() const
    {
        return m_lastStep;
    }

    /// Mean of KPI k of agent i over the measured windows (0 if none).
    double MeanKpi(uint32_t agent, uint32_t k) const;

    const std::vector<XrMarlAgent>& Agents() const
    {
        return m_agents;
    }

    /// Summary fields: seed, run, windows, sim_s, wall_s, sim_s_per_wall_s, standalone.
    void WriteRunFields(XrMarlJsonWriter& js) const;
    /// Summary fields: status ("ok" / "error") and, on error, error.
    void WriteStatus(XrMarlJsonWriter& js) const;
    /// This agent's mean KPIs as fields (KPI names in order).
    void WriteMeanKpis(XrMarlJsonWriter& js, uint32_t agent) const;

    /// Print the error on stderr (if any), dispose of the bridge, destroy the simulator;
    /// returns ExitCode(), for main() to return.
    int Finish();

  private:
    XrMarlStepReport Observe(uint64_t step);
    void Act(uint64_t step, const std::vector<uint32_t>& actions,
             const std::vector<double>& continuous);

    const XrMarlFlags& m_flags;
    std::string m_scenario;
    std::vector<std::string> m_kpiNames;
    std::vector<std::string> m_globalNames;
    std::vector<XrMarlAgent> m_agents;
    xrmarl::v1::Hello m_hello;
    std::vector<uint32_t> m_fixed;
    MeasureCallback m_measure;
    GlobalMeasureCallback m_globalMeasure;
    bool m_reportAtStart{false};
    ApplyCallback m_apply;
    HybridApplyCallback m_applyHybrid;
    std::vector<double> m_fixedContinuous;
    Ptr<XrMarlBridgeClient> m_bridge;
    bool m_ran{false};                ///< the simulation ran (handshake succeeded)
    uint64_t m_lastStep{0};
    std::vector<uint32_t> m_actions;  ///< in force in the current window
    std::vector<double> m_continuous; ///< their continuous values (hybrid agents)
    std::vector<double> m_sums;       ///< per agent and KPI, over windows 1..
};

/**
 * The rest of every scenario's main() once the flags are checked and the RNG seeded: announce
 * the scenario's agents, check --fixedAction, build, attach, run, print the summary line (a
 * simulated episode only) and finish. `S` has Agents(), Build(), Attach(loop) and
 * PrintSummary(loop). Returns main()'s exit code.
 */
template <class S>
int
XrMarlRunScenario(XrMarlAgentLoop& loop, S& scenario, Time warmUp)
{
    for (const XrMarlAgent& agent : scenario.Agents())
    {
        loop.AddAgent(agent);
    }
    loop.CheckFixedAction();
    scenario.Build();
    scenario.Attach(loop);
    if (loop.Run(warmUp))
    {
        scenario.PrintSummary(loop);
    }
    return loop.Finish();
}

} // namespace ns3

#endif // XRMARL_AGENT_LOOP_H
