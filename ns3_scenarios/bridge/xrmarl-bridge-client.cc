/*
 * XrMarlBridgeClient (see xrmarl-bridge-client.h).
 */
#include "xrmarl-bridge-client.h"

#include "ns3/log.h"
#include "ns3/abort.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

#include <sstream>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("XrMarlBridgeClient");
NS_OBJECT_ENSURE_REGISTERED(XrMarlBridgeClient);

TypeId
XrMarlBridgeClient::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::XrMarlBridgeClient")
            .SetParent<Object>()
            .SetGroupName("XrMarl")
            .AddConstructor<XrMarlBridgeClient>()
            .AddAttribute("Endpoint",
                          "Agent server endpoint: tcp://HOST:PORT or ipc://PATH",
                          StringValue(xrmarl::kDefaultEndpoint),
                          MakeStringAccessor(&XrMarlBridgeClient::m_endpoint),
                          MakeStringChecker())
            .AddAttribute("TimeoutMs",
                          "Wall-clock timeout of every receive (ms); a silent server ends the run",
                          UintegerValue(10000),
                          MakeUintegerAccessor(&XrMarlBridgeClient::m_timeoutMs),
                          MakeUintegerChecker<uint32_t>(1))
            .AddAttribute("StepInterval",
                          "Simulated time between two steps (the observation window t_w)",
                          TimeValue(Seconds(0.5)),
                          MakeTimeAccessor(&XrMarlBridgeClient::m_stepInterval),
                          MakeTimeChecker(MilliSeconds(1)))
            .AddAttribute("EpisodeLimit",
                          "Windows per episode; step EpisodeLimit is the terminal one",
                          UintegerValue(40),
                          MakeUintegerAccessor(&XrMarlBridgeClient::m_episodeLimit),
                          MakeUintegerChecker<uint32_t>(1))
            .AddAttribute("Identity",
                          "ZeroMQ routing id (empty: sim-<pid>-<random>)",
                          StringValue(""),
                          MakeStringAccessor(&XrMarlBridgeClient::m_identity),
                          MakeStringChecker());
    return tid;
}

XrMarlBridgeClient::XrMarlBridgeClient()
{
    NS_LOG_FUNCTION(this);
}

XrMarlBridgeClient::~XrMarlBridgeClient()
{
    NS_LOG_FUNCTION(this);
}

void
XrMarlBridgeClient::DoDispose()
{
    NS_LOG_FUNCTION(this);
    m_event.Cancel();
    if (m_session)
    {
        m_session->Goodbye(m_failure.empty() ? "simulator exit" : m_failure);
        m_session.reset();
    }
    m_observe = nullptr;
    m_act = nullptr;
    m_actHybrid = nullptr;
    Object::DoDispose();
}

void
XrMarlBridgeClient::SetHello(const xrmarl::v1::Hello& hello)
{
    m_hello = hello;
}

void
XrMarlBridgeClient::SetObserveCallback(ObserveCallback cb)
{
    m_observe = std::move(cb);
}

void
XrMarlBridgeClient::SetActionCallback(ActionCallback cb)
{
    m_act = std::move(cb);
}

void
XrMarlBridgeClient::SetHybridActionCallback(HybridActionCallback cb)
{
    m_actHybrid = std::move(cb);
}

void
XrMarlBridgeClient::SetFixedActions(const std::vector<uint32_t>& actions)
{
    SetFixedActions(actions, {});
}

void
XrMarlBridgeClient::SetFixedActions(const std::vector<uint32_t>& actions,
                                    const std::vector<double>& continuous)
{
    m_fixed = actions;
    m_fixedContinuous = continuous;
    m_standalone = true;
}

uint32_t
XrMarlBridgeClient::ContinuousDims() const
{
    return xrmarl::MakeActionLayout(m_hello).continuousDims;
}

bool
XrMarlBridgeClient::Start(Time at)
{
    NS_LOG_FUNCTION(this << at);
    NS_ABORT_MSG_IF(!m_observe || !(m_act || m_actHybrid),
                    "XrMarlBridgeClient: set the observe and an action callback before Start");
    m_hello.set_protocol_version(xrmarl::kProtocolVersion);
    m_hello.set_step_interval_s(m_stepInterval.GetSeconds());
    m_hello.set_episode_limit(m_episodeLimit);
    const xrmarl::ActionLayout layout = xrmarl::MakeActionLayout(m_hello);
    if (m_standalone)
    {
        const std::string bad = [&] {
            xrmarl::v1::Action a;
            for (uint32_t x : m_fixed)
                a.add_actions(x);
            a.mutable_continuous()->Assign(m_fixedContinuous.begin(), m_fixedContinuous.end());
            return xrmarl::ValidateAction(a, 0, layout);
        }();
        if (!bad.empty())
        {
            Fail(xrmarl::EXIT_USAGE, "bad fixed action: " + bad);
            return false;
        }
        NS_LOG_INFO("standalone run with a fixed joint action, no agent server");
    }
    else
    {
        try
        {
            m_session =
                std::make_unique<xrmarl::WireSession>(m_endpoint, m_timeoutMs, m_identity);
            const std::string sid = m_session->Handshake(m_hello);
            NS_LOG_INFO("handshake with " << m_endpoint << " done, session " << sid);
        }
        catch (const xrmarl::WireError& e)
        {
            const int code = xrmarl::Interrupted()                         ? xrmarl::EXIT_INTERRUPTED
                             : e.Code() == xrmarl::v1::Error::CODE_TIMEOUT ? xrmarl::EXIT_TIMEOUT
                             : e.Code() == xrmarl::v1::Error::CODE_UNSPECIFIED
                                 ? xrmarl::EXIT_USAGE
                                 : xrmarl::EXIT_PROTOCOL;
            Fail(code, std::string("handshake failed: ") + e.what());
            return false;
        }
    }
    m_step = 0;
    m_event = Simulator::Schedule(at - Simulator::Now(), &XrMarlBridgeClient::DoStep, this);
    return true;
}

void
XrMarlBridgeClient::DoStep()
{
    NS_LOG_FUNCTION(this << m_step);
    XrMarlStepReport r = m_observe(m_step);
    const bool terminal = r.terminated || m_step >= m_episodeLimit;
    std::vector<uint32_t> actions;
    std::vector<double> continuous;
    if (m_standalone)
    {
        actions = m_fixed;
        continuous = m_fixedContinuous;
        if (xrmarl::Interrupted())
        {
            Fail(xrmarl::EXIT_INTERRUPTED, "interrupted by a signal");
            return;
        }
    }
    else
    {
        xrmarl::v1::Step step;
        step.set_step_index(m_step);
        step.set_sim_time_s(Simulator::Now().GetSeconds());
        step.mutable_obs()->Assign(r.obs.begin(), r.obs.end());
        step.mutable_state()->Assign(r.state.begin(), r.state.end());
        if (r.availActions.empty())
        {
            size_t n = 0;
            for (const auto& a : m_hello.agents())
            {
                n = std::max<size_t>(n, a.n_actions());
            }
            step.mutable_avail_actions()->Resize(static_cast<int>(n * m_hello.agents_size()),
                                                 true);
        }
        else
        {
            step.mutable_avail_actions()->Assign(r.availActions.begin(), r.availActions.end());
        }
        step.mutable_rewards()->Assign(r.rewards.begin(), r.rewards.end());
        step.mutable_kpis()->Assign(r.kpis.begin(), r.kpis.end());
        step.mutable_global_kpis()->Assign(r.globalKpis.begin(), r.globalKpis.end());
        step.mutable_agent_rewards()->Assign(r.agentRewards.begin(), r.agentRewards.end());
        if (terminal)
        {
            step.set_terminated(r.terminated);
            step.set_truncated(!r.terminated);
            step.set_truncation_reason(r.terminated ? "" : "episode_limit");
        }
        try
        {
            actions = m_session->Exchange(step);
            continuous = m_session->LastContinuous();
        }
        catch (const xrmarl::WireError& e)
        {
            const int code = xrmarl::Interrupted()                         ? xrmarl::EXIT_INTERRUPTED
                             : e.Code() == xrmarl::v1::Error::CODE_TIMEOUT ? xrmarl::EXIT_TIMEOUT
                             : e.Code() == xrmarl::v1::Error::CODE_ACTION  ? xrmarl::EXIT_BAD_ACTION
                                                                           : xrmarl::EXIT_PROTOCOL;
            Fail(code, e.what());
            return;
        }
    }
    if (terminal)
    {
        m_finished = true;
        if (m_session)
        {
            NS_LOG_INFO("episode over, server closed with: " << m_session->CloseReason());
            m_session->Goodbye("episode over");
        }
        Simulator::Stop();
        return;
    }
    if (m_actHybrid)
    {
        m_actHybrid(m_step, actions, continuous);
    }
    else
    {
        m_act(m_step, actions);
    }
    ++m_step;
    m_event = Simulator::Schedule(m_stepInterval, &XrMarlBridgeClient::DoStep, this);
}

void
XrMarlBridgeClient::Fail(int exitCode, const std::string& reason)
{
    NS_LOG_FUNCTION(this << exitCode << reason);
    m_exitCode = exitCode;
    m_failure = reason;
    NS_LOG_ERROR("bridge: " << reason);
    if (m_session)
    {
        m_session->Goodbye(reason);
    }
    m_event.Cancel();
    Simulator::Stop();
}

bool
XrMarlBridgeClient::Failed() const
{
    return m_exitCode != 0;
}

const std::string&
XrMarlBridgeClient::Failure() const
{
    return m_failure;
}

int
XrMarlBridgeClient::ExitCode() const
{
    return m_exitCode;
}

bool
XrMarlBridgeClient::Finished() const
{
    return m_finished;
}

uint64_t
XrMarlBridgeClient::StepsDone() const
{
    return m_step;
}

const std::string&
XrMarlBridgeClient::SessionId() const
{
    static const std::string none;
    return m_session ? m_session->SessionId() : none;
}

} // namespace ns3
