/*
 * XrMarlBridgeClient: the ns-3 side of the xr-codec-marl agent bridge, reusable by any
 * scenario.
 *
 * Every StepInterval of simulated time (Simulator::Schedule) it asks the scenario for the
 * last window's report (observe callback), sends it as one Step to the agent server and
 * hands the validated joint action back to the scenario (action callback). Step 0 is sent at
 * Start() time, before any window was measured; step EpisodeLimit is the terminal one
 * (truncated, reason "episode_limit"), after which it says Goodbye and stops the simulator.
 *
 * Any failure (server silent past TimeoutMs, Error or Close from the server, a reply that is
 * not an Action, an Action of the wrong length or out of range, a signal) sends an Error or
 * Goodbye when possible, records the reason and stops the simulator: the scenario's main()
 * then returns ExitCode() (non-zero) after printing Failure(). It never hangs.
 *
 * Without a server (FixedActions set), the same schedule runs with a constant joint action,
 * for benchmarks and quick sanity runs.
 */
#ifndef XRMARL_BRIDGE_CLIENT_H
#define XRMARL_BRIDGE_CLIENT_H

#include "xrmarl-wire.h"

#include "ns3/event-id.h"
#include "ns3/nstime.h"
#include "ns3/object.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ns3
{

/**
 * What the scenario reports about one window (sizes as announced in the handshake;
 * obs/state/rewards may be left empty when the server derives them from the KPIs).
 */
struct XrMarlStepReport
{
    std::vector<float> obs;
    std::vector<float> state;
    std::vector<bool> availActions; ///< empty = all available
    std::vector<float> rewards;
    std::vector<float> kpis; ///< n_agents * n_kpis, row-major by agent
    bool terminated{false};
    /// global KPIs, one per Hello.global_kpi_names (empty: not measured this window)
    std::vector<float> globalKpis;
    /// optional per-agent rewards: n_agents * n_reward_components, row-major (empty: none)
    std::vector<float> agentRewards;
};

class XrMarlBridgeClient : public Object
{
  public:
    static TypeId GetTypeId();
    XrMarlBridgeClient();
    ~XrMarlBridgeClient() override;

    /// Observe callback: called at every step with the index of the step (0 = start-up).
    using ObserveCallback = std::function<XrMarlStepReport(uint64_t stepIndex)>;
    /// Action callback: the joint action (one index per agent) to apply from now on.
    using ActionCallback = std::function<void(uint64_t stepIndex, const std::vector<uint32_t>&)>;
    /// Hybrid action callback: also the continuous values, n_agents * ContinuousDims()
    /// row-major by agent (the columns beyond an agent's own dimensions are 0).
    using HybridActionCallback = std::function<void(
        uint64_t stepIndex, const std::vector<uint32_t>&, const std::vector<double>&)>;

    /// The handshake: the scenario describes its agents (and their action spaces: see
    /// xrmarl::AddActionHead / AddContinuousDim), KPIs, global KPI names, sizes, seed,
    /// parameters. StepInterval and EpisodeLimit attributes override the Hello's fields.
    void SetHello(const xrmarl::v1::Hello& hello);
    void SetObserveCallback(ObserveCallback cb);
    /// One of the two action callbacks must be set before Start (the hybrid one wins).
    void SetActionCallback(ActionCallback cb);
    void SetHybridActionCallback(HybridActionCallback cb);

    /// Run without a server: apply this joint action at every step.
    void SetFixedActions(const std::vector<uint32_t>& actions);
    /// ... with these continuous values (n_agents * ContinuousDims(), row-major).
    void SetFixedActions(const std::vector<uint32_t>& actions, const std::vector<double>& continuous);

    /// D: the most continuous action dimensions of any agent in the Hello (0: all discrete).
    uint32_t ContinuousDims() const;

    /**
     * Connect and handshake now (blocking, at most TimeoutMs of wall time), then schedule
     * step 0 at simulated time `at`. Returns false (with Failure() set) when the handshake
     * fails; the caller should then return ExitCode() without running the simulator.
     */
    bool Start(Time at);

    bool Failed() const;
    const std::string& Failure() const;
    /// Process exit code: 0 after a complete episode, else an xrmarl::ExitCode.
    int ExitCode() const;
    /// True once the terminal step was exchanged.
    bool Finished() const;
    uint64_t StepsDone() const;
    const std::string& SessionId() const;

  protected:
    void DoDispose() override;

  private:
    void DoStep();
    void Fail(int exitCode, const std::string& reason);

    std::string m_endpoint;
    uint32_t m_timeoutMs;
    Time m_stepInterval;
    uint32_t m_episodeLimit;
    std::string m_identity;

    xrmarl::v1::Hello m_hello;
    ObserveCallback m_observe;
    ActionCallback m_act;
    HybridActionCallback m_actHybrid;
    std::vector<uint32_t> m_fixed;
    std::vector<double> m_fixedContinuous;
    bool m_standalone{false};
    std::unique_ptr<xrmarl::WireSession> m_session;
    uint64_t m_step{0};
    bool m_finished{false};
    int m_exitCode{0};
    std::string m_failure;
    EventId m_event;
};

} // namespace ns3

#endif // XRMARL_BRIDGE_CLIENT_H
